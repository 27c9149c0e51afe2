#!/usr/bin/env bash
# Instructions per iteration of each benchmark loop, measured with callgrind (repeatable on a
# shared machine, unlike wall time): Ir(N2) - Ir(N1), divided by N2 - N1, so fixture setup cancels.
#
#     cd Benchmarks && swift build -c release --product walkprof && Scripts/instructions.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${WALKPROF:-.build/release/walkprof}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    names=(Walk4Level CWalk4Level Walk5Level CWalk5Level WalkEPT4 CWalkEPT4 WalkEPT5 CWalkEPT5
           WalkNested4x4 CWalkNested4x4 WalkNested5x5 CWalkNested5x5 TLBHit CTLBHit Interp4Level)
fi
export SWIFT_DETERMINISTIC_HASHING=1  # hashing seeded per process would make setup costs differ between runs
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-16s %12s\n' benchmark instr/iter
for name in "${names[@]}"; do
    n1=1000; n2=21000
    case "$name" in Interp*) n1=100; n2=600 ;; esac
    a=$(ir "$name" $n1); b=$(ir "$name" $n2)
    awk -v a="$a" -v b="$b" -v n="$((n2 - n1))" -v name="$name" 'BEGIN { printf "%-16s %12.1f\n", name, (b - a) / n }'
done
