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

/// One iteration of a benchmark: walk access `i` (modulo the list) and return what it produced.
protocol Step {
    func callAsFunction(_ i: Int) -> UInt64
}

/// The loop over `step`, specialised for it (no call per iteration beyond the walker's own).
/// `fixture` owns the memory the step walks and lives as long as the loop.
func loop<S: Step>(_ step: S, keeping fixture: AnyObject) -> Loop {
    { start, count in
        withExtendedLifetime(fixture) {}
        var sum: UInt64 = 0
        for i in start..<(start + count) { sum &+= step(i) }
        return sum
    }
}

/// The generated walker on paging structures in `space`.
struct GeneratedStep<Space: EntrySpace>: Step {
    let prepared: PreparedFormat, space: Space, accesses: [Access], mask: Int
    func callAsFunction(_ i: Int) -> UInt64 { physical(Walker.walk(prepared, accesses[i & mask], space: space)) }
}

/// The generated TLB.
struct TLBStep: Step {
    let tlb: TLB, prepared: PreparedFormat, space: DirectSpace<FlatMemory>, accesses: [Access], mask: Int
    func callAsFunction(_ i: Int) -> UInt64 { physical(tlb.translate(prepared, accesses[i & mask], space: space)) }
}

/// What a C walker is called with: its memory, its result and the access list.
struct CCall {
    let memory: UnsafeMutablePointer<cw_memory>, result: UnsafeMutablePointer<cw_result>, accesses: AccessList
    init(_ memory: cw_memory, _ accesses: AccessList) {
        self.memory = .allocate(capacity: 1)
        self.memory.initialize(to: memory)
        result = .allocate(capacity: 1)
        result.initialize(to: cw_result())
        self.accesses = accesses
    }
    func address(_ i: Int) -> UInt64 { accesses.addresses[i & accesses.mask] }
    func access(_ i: Int) -> UInt32 { accesses.classes[i & accesses.mask] }
}

/// The C walkers, each called directly (as the generated walker is).
struct CGuestStep: Step {
    let mmu: UnsafeMutablePointer<cw_guest_mmu>, call: CCall
    func callAsFunction(_ i: Int) -> UInt64 {
        cw_walk_guest(mmu, call.memory, call.address(i), call.access(i), call.result)
        return call.result.pointee.physical
    }
}

struct CEPTStep: Step {
    let mmu: UnsafeMutablePointer<cw_ept_mmu>, call: CCall
    func callAsFunction(_ i: Int) -> UInt64 {
        cw_walk_ept(mmu, call.memory, call.address(i), call.access(i), call.result)
        return call.result.pointee.physical
    }
}

struct CNestedStep: Step {
    let guest: UnsafeMutablePointer<cw_guest_mmu>, ept: UnsafeMutablePointer<cw_ept_mmu>, call: CCall
    func callAsFunction(_ i: Int) -> UInt64 {
        cw_walk_nested(guest, ept, call.memory, call.address(i), call.access(i), call.result)
        return call.result.pointee.physical
    }
}

struct CTLBStep: Step {
    let tlb: UnsafePointer<cw_tlb>, accesses: AccessList
    func callAsFunction(_ i: Int) -> UInt64 {
        cw_tlb_lookup(tlb, accesses.addresses[i & accesses.mask], accesses.classes[i & accesses.mask])
    }
}

func guestLoops(_ levels: Int) -> (Loop, Loop) {
    let f = GuestFixture(levels: levels)
    return (
        loop(
            GeneratedStep(
                prepared: f.prepared, space: DirectSpace(f.memory.flat), accesses: f.accesses.swift,
                mask: f.accesses.mask), keeping: f),
        loop(CGuestStep(mmu: f.cmmu, call: CCall(f.memory.c, f.accesses)), keeping: f)
    )
}

func eptLoops(_ levels: Int) -> (Loop, Loop) {
    let f = NestedFixture(levels: levels)
    return (
        loop(
            GeneratedStep(
                prepared: f.ept, space: DirectSpace(f.memory.flat), accesses: f.eptAccesses.swift,
                mask: f.eptAccesses.mask), keeping: f),
        loop(CEPTStep(mmu: f.cept, call: CCall(f.memory.c, f.eptAccesses)), keeping: f)
    )
}

func nestedLoops(_ levels: Int) -> (Loop, Loop) {
    let f = NestedFixture(levels: levels)
    return (
        loop(
            GeneratedStep(
                prepared: f.guest, space: f.space, accesses: f.guestAccesses.swift, mask: f.guestAccesses.mask),
            keeping: f),
        loop(CNestedStep(guest: f.cguest, ept: f.cept, call: CCall(f.memory.c, f.guestAccesses)), keeping: f)
    )
}

func tlbLoops() -> (Loop, Loop) {
    let f = TLBFixture(GuestFixture(levels: 4))
    return (
        loop(
            TLBStep(
                tlb: f.tlb, prepared: f.guest.prepared, space: DirectSpace(f.guest.memory.flat),
                accesses: f.accesses.swift, mask: f.accesses.mask), keeping: f),
        loop(CTLBStep(tlb: UnsafePointer(f.ctlb), accesses: f.accesses), keeping: f)
    )
}

/// Times `rounds` alternating batches of `batch` iterations of each loop whose name contains one
/// of `only` (every loop when empty); prints the medians and the median of the per-round ratios.
func pairs(rounds: Int, batch: Int, only: [String] = []) {
    let all: [(String, String, () -> (Loop, Loop))] = [
        ("Walk4Level", "CWalk4Level", { guestLoops(4) }), ("Walk5Level", "CWalk5Level", { guestLoops(5) }),
        ("WalkEPT4", "CWalkEPT4", { eptLoops(4) }), ("WalkEPT5", "CWalkEPT5", { eptLoops(5) }),
        ("WalkNested4x4", "CWalkNested4x4", { nestedLoops(4) }),
        ("WalkNested5x5", "CWalkNested5x5", { nestedLoops(5) }),
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
    print(
        "| generated | C | generated, median | C, median | ratio, median of \(rounds) paired batches | p25–p75 of the ratios |"
    )
    print("|---|---|---:|---:|---:|---:|")
    var sink: UInt64 = 0
    for (name, cName, make) in all where only.isEmpty || only.contains(where: { name.contains($0) }) {
        let (generated, c) = make()
        _ = generated(0, batch)  // warm up both
        _ = c(0, batch)
        var g: [Double] = [], k: [Double] = [], ratios: [Double] = []
        for round in 0..<rounds {
            let start = round &* batch
            // Alternate which goes first.
            let (a, b) =
                round % 2 == 0
                ? (time(generated, start, &sink), time(c, start, &sink))
                : {
                    let y = time(c, start, &sink); return (time(generated, start, &sink), y)
                }()
            g.append(a)
            k.append(b)
            ratios.append(a / b)
        }
        let sorted = ratios.sorted()
        print(
            String(
                format: "| `%@` | `%@` | %.1f ns | %.1f ns | **%.2f** | %.2f–%.2f |", name, cName, median(g), median(k),
                median(ratios), sorted[sorted.count / 4], sorted[(3 * sorted.count) / 4]))
    }
    _ = consume(sink)
}
