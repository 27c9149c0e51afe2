#!/usr/bin/env python3
"""Turns the text output of `swift package benchmark` into the table of docs/performance.md.

    cd Benchmarks && swift package benchmark --no-progress | tee /tmp/bench.txt
    Scripts/summary.py /tmp/bench.txt
    Scripts/summary.py /tmp/bench1.txt /tmp/bench2.txt /tmp/bench3.txt   # best samples over several runs

Prints, per benchmark, the median (p50) wall-clock time per walk in ns, p25–p75, the median
allocations per walk, and each generated/C ratio and the generated-vs-interpreter speedup.

Ratios are given twice: of the medians, and of the best samples (each sample is 1,000 walks; the
best is read from the p0 of the throughput metric, which keeps more digits than the time in ns).
On a shared VM that moves between a fast and a slow mode from minute to minute, a median says which
mode the benchmark's two seconds fell into; the best sample of each is its fast-mode time.
"""
import re
import sys

UNITS = {"ns": 1.0, "μs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
PAIRS = [("Walk4Level", "CWalk4Level"), ("Walk5Level", "CWalk5Level"), ("WalkEPT4", "CWalkEPT4"),
         ("WalkNested4x4", "CWalkNested4x4"), ("TLBHit", "CTLBHit")]


def parse(text):
    results = {}
    name = None
    for line in text.splitlines():
        line = line.rstrip()
        if re.fullmatch(r"[A-Za-z0-9]+", line.strip()) and not line.startswith(" "):
            name = line.strip()
            continue
        if name is None or "│" not in line:
            continue
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) < 9:
            continue
        metric = cells[0]
        m = re.match(r"Time \(wall clock\) \((\w+)\)", metric)
        if m:
            scale = UNITS[m.group(1)]
            p25, p50, p75 = (float(cells[i]) * scale for i in (2, 3, 4))
            results.setdefault(name, {}).update(p25=p25, p50=p50, p75=p75, samples=int(cells[8]))
        elif metric.startswith("Throughput"):
            unit = {"K": 1e3, "M": 1e6, "G": 1e9}.get(re.search(r"\((\w)\)\s*$", metric).group(1), 1.0)
            results.setdefault(name, {})["best"] = 1e9 / (float(cells[1]) * unit)
        elif metric.startswith("Malloc (total)"):
            results.setdefault(name, {})["malloc"] = int(cells[3])
    return results


def verdict(ratio):
    return "met" if ratio <= 1.25 else "missed"


def present(r):
    """The generated/C pairs both of whose benchmarks are in `r`."""
    return [(g, c) for g, c in PAIRS if g in r and c in r]


def fmt(ns):
    return f"{ns / 1000:.1f} µs" if ns >= 10000 else f"{ns:.0f} ns"


def main():
    if len(sys.argv) > 2:
        return best_of_runs([parse(open(f, encoding="utf-8").read()) for f in sys.argv[1:]])
    r = parse(open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read())
    print("| benchmark | median per walk | p25–p75 | allocations per walk | samples |")
    print("|---|---:|---:|---:|---:|")
    for name in sorted(r):
        v = r[name]
        print(f"| `{name}` | {fmt(v['p50'])} | {fmt(v['p25'])}–{fmt(v['p75'])} | {v.get('malloc', '?')} | {v['samples']} |")
    print()
    print("| generated | C | ratio of medians | ratio of best samples | best samples | target ≤ 1.25 (best) |")
    print("|---|---|---:|---:|---:|---|")
    for g, c in present(r):
        ratio = r[g]["p50"] / r[c]["p50"]
        best = r[g]["best"] / r[c]["best"] if "best" in r[g] and "best" in r[c] else float("nan")
        times = f"{r[g].get('best', 0):.1f} / {r[c].get('best', 0):.1f} ns"
        print(f"| `{g}` | `{c}` | {ratio:.2f} | {best:.2f} | {times} | {verdict(best)} |")
    if "Walk4Level" in r and "Interp4Level" in r:
        print()
        i, w = r["Interp4Level"], r["Walk4Level"]
        best = f", {i['best'] / w['best']:.0f}x by best samples" if "best" in i and "best" in w else ""
        print(f"Generated vs interpreter (4-level): {i['p50'] / w['p50']:.0f}x faster by medians{best}")


def best_of_runs(runs):
    """Several saved runs: each benchmark's best sample over all of them (its fast-mode time, when
    any run caught that mode), and the ratios of those."""
    names = sorted({n for r in runs for n in r})
    best = {n: min(r[n]["best"] for r in runs if n in r and "best" in r[n]) for n in names}
    print(f"Best samples over {len(runs)} runs")
    print()
    print("| generated | C | best of the runs | ratio | target ≤ 1.25 |")
    print("|---|---|---:|---:|---|")
    for g, c in present(best):
        ratio = best[g] / best[c]
        print(f"| `{g}` | `{c}` | {best[g]:.1f} / {best[c]:.1f} ns | {ratio:.2f} | {verdict(ratio)} |")
    if "Walk4Level" in best and "Interp4Level" in best:
        print()
        print(f"Generated vs interpreter (4-level): {best['Interp4Level'] / best['Walk4Level']:.0f}x faster")


if __name__ == "__main__":
    main()
