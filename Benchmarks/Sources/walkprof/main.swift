// walkprof: runs one benchmark's loop outside the benchmark harness, for profiling with
// `valgrind --tool=callgrind` (instruction counts are repeatable on a shared machine), and checks
// that the C walkers agree with the generated one on every access of every fixture.
//
//     swift build -c release --product walkprof
//     .build/release/walkprof verify
//     .build/release/walkprof pairs 101          # generated vs C in alternating batches: median ratios
//     .build/release/walkprof pairs 101 Nested   # only the pairs whose name contains "Nested"
//     .build/release/walkprof Walk4Level 200000
//     valgrind --tool=callgrind .build/release/walkprof Walk4Level 200000
import CWalk
import Foundation
import GeneratedMMU
import MMUBenchSupport

@inline(never)
func consume(_ value: UInt64) -> UInt64 { value }

/// When the measured loop started (set after the fixture is built).
nonisolated(unsafe) var loopStart = ContinuousClock.now

func startClock() { loopStart = .now }

func physical(_ outcome: WalkOutcome) -> UInt64 {
    if case .translation(let t) = outcome { return t.physical }
    return ~0
}

/// Runs `iterations` of benchmark `name`; returns a checksum.
func run(_ name: String, _ iterations: Int) -> UInt64 {
    var sum: UInt64 = 0
    switch name {
    case "Walk4Level", "Walk5Level":
        let f = GuestFixture(levels: name == "Walk4Level" ? 4 : 5)
        let prepared = f.prepared, memory = f.memory.flat, accesses = f.accesses.swift, mask = f.accesses.mask
        startClock()
        for i in 0..<iterations {
            sum &+= physical(Walker.walk(prepared, accesses[i & mask], memory: memory))
        }
    case "CWalk4Level", "CWalk5Level":
        let f = GuestFixture(levels: name == "CWalk4Level" ? 4 : 5)
        var memory = f.memory.c
        var r = cw_result()
        let a = f.accesses
        startClock()
        for i in 0..<iterations {
            cw_walk_guest(f.cmmu, &memory, a.addresses[i & a.mask], a.classes[i & a.mask], &r)
            sum &+= r.physical
        }
    case "WalkEPT4", "WalkEPT5":
        let f = NestedFixture(levels: name == "WalkEPT4" ? 4 : 5)
        let prepared = f.ept, memory = f.memory.flat, accesses = f.eptAccesses.swift, mask = f.eptAccesses.mask
        startClock()
        for i in 0..<iterations {
            sum &+= physical(Walker.walk(prepared, accesses[i & mask], memory: memory))
        }
    case "CWalkEPT4", "CWalkEPT5":
        let f = NestedFixture(levels: name == "CWalkEPT4" ? 4 : 5)
        var memory = f.memory.c
        var r = cw_result()
        let a = f.eptAccesses
        startClock()
        for i in 0..<iterations {
            cw_walk_ept(f.cept, &memory, a.addresses[i & a.mask], a.classes[i & a.mask], &r)
            sum &+= r.physical
        }
    case "WalkNested4x4", "WalkNested5x5":
        let f = NestedFixture(levels: name == "WalkNested4x4" ? 4 : 5)
        let prepared = f.guest, space = f.space, accesses = f.guestAccesses.swift, mask = f.guestAccesses.mask
        startClock()
        for i in 0..<iterations {
            sum &+= physical(Walker.walk(prepared, accesses[i & mask], space: space))
        }
    case "CWalkNested4x4", "CWalkNested5x5":
        let f = NestedFixture(levels: name == "CWalkNested4x4" ? 4 : 5)
        var memory = f.memory.c
        var r = cw_result()
        let a = f.guestAccesses
        startClock()
        for i in 0..<iterations {
            cw_walk_nested(f.cguest, f.cept, &memory, a.addresses[i & a.mask], a.classes[i & a.mask], &r)
            sum &+= r.physical
        }
    case "TLBHit":
        let f = TLBFixture(GuestFixture(levels: 4))
        let tlb = f.tlb, prepared = f.guest.prepared, space = DirectSpace(f.guest.memory.flat)
        let accesses = f.accesses.swift, mask = f.accesses.mask
        startClock()
        for i in 0..<iterations {
            sum &+= physical(tlb.translate(prepared, accesses[i & mask], space: space))
        }
    case "CTLBHit":
        let f = TLBFixture(GuestFixture(levels: 4))
        let a = f.accesses
        let tlb = UnsafePointer(f.ctlb)
        startClock()
        for i in 0..<iterations {
            sum &+= cw_tlb_lookup(tlb, a.addresses[i & a.mask], a.classes[i & a.mask])
        }
    case "Interp4Level":
        let f = InterpreterFixture(GuestFixture(levels: 4))
        startClock()
        for i in 0..<iterations {
            sum &+= f.walk(i)
        }
    default:
        print("unknown benchmark \(name)")
        exit(2)
    }
    return sum
}

// MARK: - Verification

/// Compares the C walkers with the generated walker on every access of every fixture.
func verify() -> Bool {
    var ok = true
    func check(_ label: String, _ i: Int, _ swift: WalkOutcome, _ c: cw_result) {
        let agree: Bool
        switch swift {
        case .translation(let t):
            agree = c.status == UInt32(CW_OK) && c.physical == t.physical && c.page_size == t.pageSize
        case .fault(let f):
            agree =
                (c.status == UInt32(CW_PAGE_FAULT) || c.status == UInt32(CW_EPT_VIOLATION)) && c.error_code == f.report
        case .nestedFault(let f, let gpa):
            agree =
                c.guest_physical == gpa
                && (f.kind == .misconfiguration || f.kind == .reserved
                    ? c.status == UInt32(CW_EPT_MISCONFIG) : c.status == UInt32(CW_EPT_VIOLATION))
        case .generalProtection:
            agree = c.status == UInt32(CW_GP)
        default:
            agree = false
        }
        if !agree && ok {
            print(
                "\(label) access \(i): generated \(swift), C status \(c.status) physical 0x\(String(c.physical, radix: 16)) code 0x\(String(c.error_code, radix: 16))"
            )
            ok = false
        }
    }
    for levels in [4, 5] {
        let f = GuestFixture(levels: levels)
        var memory = f.memory.c
        var r = cw_result()
        for (i, a) in f.accesses.swift.enumerated() {
            cw_walk_guest(f.cmmu, &memory, a.address, f.accesses.classes[i], &r)
            check("guest \(levels)", i, Walker.walk(f.prepared, a, memory: f.memory.flat), r)
        }
        // Faults too: supervisor accesses (SMAP, SMEP), unmapped and non-canonical addresses.
        var rng = SplitMix64(seed: 99)
        for i in 0..<4096 {
            let page = f.pages[Int(rng.below(UInt64(f.pages.count)))].linear
            let kind: AccessKind = [.read, .write, .fetch][Int(rng.below(3))]
            let cpl: UInt8 = rng.below(2) == 0 ? 0 : 3
            let address: UInt64
            switch rng.below(4) {
            case 0: address = rng.next() & ((1 << 47) - 1)
            case 1: address = rng.next()
            default: address = page | rng.below(4096)
            }
            let a = Access(address: address, kind: kind, cpl: cpl)
            let cls = (cpl == 3 ? UInt32(CW_ACC_USER) : 0) | (kind == .write ? 1 : 0) | (kind == .fetch ? 4 : 0)
            cw_walk_guest(f.cmmu, &memory, a.address, cls, &r)
            check("guest \(levels) faults", i, Walker.walk(f.prepared, a, memory: f.memory.flat), r)
        }
        let n = NestedFixture(levels: levels)
        var nmemory = n.memory.c
        for (i, a) in n.eptAccesses.swift.enumerated() {
            cw_walk_ept(n.cept, &nmemory, a.address, n.eptAccesses.classes[i], &r)
            check("ept \(levels)", i, Walker.walk(n.ept, a, memory: n.memory.flat), r)
        }
        for (i, a) in n.guestAccesses.swift.enumerated() {
            cw_walk_nested(n.cguest, n.cept, &nmemory, a.address, n.guestAccesses.classes[i], &r)
            check("nested \(levels)x\(levels)", i, Walker.walk(n.guest, a, space: n.space), r)
        }
        print("levels \(levels): \(f.tableCount) guest page tables, \(f.pages.count) pages; checked")
    }
    // The interpreter agrees on a sample.
    let f = GuestFixture(levels: 4)
    let interp = InterpreterFixture(f)
    for i in 0..<512 {
        let expected = physical(Walker.walk(f.prepared, f.accesses.swift[i], memory: f.memory.flat))
        if interp.walk(i) != expected {
            print("interpreter disagrees on access \(i)")
            ok = false
            break
        }
    }
    // Both TLBs hit on every access of the TLB fixture, with the walk's physical address.
    let t = TLBFixture(f)
    let space = DirectSpace(f.memory.flat)
    for (i, a) in t.accesses.swift.enumerated() {
        let before = t.tlb.hits
        let hit = physical(t.tlb.translate(f.prepared, a, space: space))
        let c = cw_tlb_lookup(t.ctlb, a.address, t.accesses.classes[i])
        let walked = physical(Walker.walk(f.prepared, a, memory: f.memory.flat))
        if t.tlb.hits != before + 1 || hit != walked || c != walked {
            print("TLB access \(i): generated \(hit) (hit: \(t.tlb.hits != before)), C \(c), walk \(walked)")
            ok = false
            break
        }
    }
    print("TLB: \(t.pageCount) pages in the working set; checked")
    return ok
}

let arguments = CommandLine.arguments
if arguments.count >= 2 && arguments[1] == "verify" {
    let ok = verify()
    print(ok ? "verify: the C walkers and the generated walker agree" : "verify: FAILED")
    exit(ok ? 0 : 1)
}
if arguments.count >= 2 && arguments[1] == "pairs" {
    let rounds = arguments.count >= 3 ? Int(arguments[2]) ?? 101 : 101
    pairs(rounds: rounds, batch: 20_000, only: Array(arguments.dropFirst(3)))
    exit(0)
}
guard arguments.count >= 3, let iterations = Int(arguments[2]) else {
    print("usage: walkprof verify | walkprof pairs [ROUNDS [NAME...]] | walkprof BENCHMARK ITERATIONS")
    exit(2)
}
let sum = consume(run(arguments[1], iterations))
let elapsed = ContinuousClock.now - loopStart
let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
print("checksum \(sum)")
print(String(format: "%.1f ns per iteration (%d iterations, loop only)", ns / Double(max(1, iterations)), iterations))
