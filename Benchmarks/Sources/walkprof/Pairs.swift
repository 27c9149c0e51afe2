// `walkprof pairs`: each generated benchmark and its C twin timed in alternating batches in one
// process, so that both see the same machine state (frequency, a neighbour's load, memory
// placement) and the ratio of each pair of batches is measured under the same conditions. On a
// shared 2-core VM, where one benchmark's median swings by 1.5x from run to run, the median of
// these per-batch ratios is far steadier than a ratio of two separately measured medians.
import CWalk
import Foundation
import GeneratedMMU
import MMUBenchSupport

/// A benchmark loop: runs `count` iterations from access `start`, returns a checksum.
typealias Loop = (_ start: Int, _ count: Int) -> UInt64

func guestLoops(_ levels: Int) -> (Loop, Loop) {
    let f = GuestFixture(levels: levels)
    let prepared = f.prepared, memory = f.memory.flat, accesses = f.accesses.swift, mask = f.accesses.mask
    let generated: Loop = { start, count in
        var sum: UInt64 = 0
        for i in start..<(start + count) { sum &+= physical(Walker.walk(prepared, accesses[i & mask], memory: memory)) }
        return sum
    }
    let c: Loop = { start, count in
        var memory = f.memory.c
        var r = cw_result()
        let a = f.accesses
        var sum: UInt64 = 0
        for i in start..<(start + count) {
            cw_walk_guest(f.cmmu, &memory, a.addresses[i & a.mask], a.classes[i & a.mask], &r)
            sum &+= r.physical
        }
        return sum
    }
    return (generated, c)
}

func eptLoops(_ levels: Int) -> (Loop, Loop) {
    let f = NestedFixture(levels: levels)
    let prepared = f.ept, memory = f.memory.flat, accesses = f.eptAccesses.swift, mask = f.eptAccesses.mask
    let generated: Loop = { start, count in
        var sum: UInt64 = 0
        for i in start..<(start + count) { sum &+= physical(Walker.walk(prepared, accesses[i & mask], memory: memory)) }
        return sum
    }
    let c: Loop = { start, count in
        var memory = f.memory.c
        var r = cw_result()
        let a = f.eptAccesses
        var sum: UInt64 = 0
        for i in start..<(start + count) {
            cw_walk_ept(f.cept, &memory, a.addresses[i & a.mask], a.classes[i & a.mask], &r)
            sum &+= r.physical
        }
        return sum
    }
    return (generated, c)
}

func nestedLoops(_ levels: Int) -> (Loop, Loop) {
    let f = NestedFixture(levels: levels)
    let prepared = f.guest, space = f.space, accesses = f.guestAccesses.swift, mask = f.guestAccesses.mask
    let generated: Loop = { start, count in
        var sum: UInt64 = 0
        for i in start..<(start + count) { sum &+= physical(Walker.walk(prepared, accesses[i & mask], space: space)) }
        return sum
    }
    let c: Loop = { start, count in
        var memory = f.memory.c
        var r = cw_result()
        let a = f.guestAccesses
        var sum: UInt64 = 0
        for i in start..<(start + count) {
            cw_walk_nested(f.cguest, f.cept, &memory, a.addresses[i & a.mask], a.classes[i & a.mask], &r)
            sum &+= r.physical
        }
        return sum
    }
    return (generated, c)
}

func tlbLoops() -> (Loop, Loop) {
    let f = TLBFixture(GuestFixture(levels: 4))
    let tlb = f.tlb, prepared = f.guest.prepared, space = DirectSpace(f.guest.memory.flat)
    let accesses = f.accesses.swift, mask = f.accesses.mask
    let generated: Loop = { start, count in
        var sum: UInt64 = 0
        for i in start..<(start + count) { sum &+= physical(tlb.translate(prepared, accesses[i & mask], space: space)) }
        return sum
    }
    let c: Loop = { start, count in
        let a = f.accesses
        let ctlb = UnsafePointer(f.ctlb)
        var sum: UInt64 = 0
        for i in start..<(start + count) { sum &+= cw_tlb_lookup(ctlb, a.addresses[i & a.mask], a.classes[i & a.mask]) }
        return sum
    }
    return (generated, c)
}

/// Times `rounds` alternating batches of `batch` iterations of each loop; prints the medians and
/// the median of the per-round ratios.
func pairs(rounds: Int, batch: Int) {
    let all: [(String, String, () -> (Loop, Loop))] = [
        ("Walk4Level", "CWalk4Level", { guestLoops(4) }), ("Walk5Level", "CWalk5Level", { guestLoops(5) }),
        ("WalkEPT4", "CWalkEPT4", { eptLoops(4) }), ("WalkEPT5", "CWalkEPT5", { eptLoops(5) }),
        ("WalkNested4x4", "CWalkNested4x4", { nestedLoops(4) }), ("WalkNested5x5", "CWalkNested5x5", { nestedLoops(5) }),
        ("TLBHit", "CTLBHit", tlbLoops),
    ]
    func time(_ loop: Loop, _ start: Int, _ sink: inout UInt64) -> Double {
        let begin = ContinuousClock.now
        sink &+= loop(start, batch)
        let d = ContinuousClock.now - begin
        return (Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9) / Double(batch)
    }
    func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    print("| generated | C | generated, median | C, median | ratio, median of \(rounds) paired batches | p25–p75 of the ratios |")
    print("|---|---|---:|---:|---:|---:|")
    var sink: UInt64 = 0
    for (name, cName, make) in all {
        let (generated, c) = make()
        _ = generated(0, batch)  // warm up both
        _ = c(0, batch)
        var g: [Double] = [], k: [Double] = [], ratios: [Double] = []
        for round in 0..<rounds {
            let start = round &* batch
            // Alternate which goes first.
            let (a, b) = round % 2 == 0
                ? (time(generated, start, &sink), time(c, start, &sink))
                : { let y = time(c, start, &sink); return (time(generated, start, &sink), y) }()
            g.append(a)
            k.append(b)
            ratios.append(a / b)
        }
        let sorted = ratios.sorted()
        print(String(format: "| `%@` | `%@` | %.1f ns | %.1f ns | **%.2f** | %.2f–%.2f |", name, cName, median(g), median(k),
                     median(ratios), sorted[sorted.count / 4], sorted[(3 * sorted.count) / 4]))
    }
    _ = consume(sink)
}
