// The generated MMU side by side with hand-written C (Sources/CWalk) and the reference interpreter.
//
//     cd Benchmarks && swift package benchmark --no-progress            # medians per walk
//     cd Benchmarks && swift package benchmark thresholds check         # zero allocations per walk
//
// Every benchmark walks a different access per iteration, cycling through 16,384 accesses to
// random pages of a 64 MiB fixture (Sources/MMUBenchSupport/Fixtures.swift); results go to
// blackHole. Times are per walk (the inner loop runs 1,000 walks; the output is scaled).
import Benchmark
import CWalk
import GeneratedMMU
import MMUBenchSupport

/// Where each benchmark's next sample starts in its access list, so that samples do not repeat
/// the same 1,000 accesses.
final class Cursor: @unchecked Sendable {
    private var next = 0
    func take(_ count: Int) -> Int {
        defer { next &+= count }
        return next
    }
}

let guest4 = GuestFixture(levels: 4)
let guest5 = GuestFixture(levels: 5)
let nested4 = NestedFixture(levels: 4)
let nested5 = NestedFixture(levels: 5)
let interpreter = InterpreterFixture(guest4)
let tlbFixture = TLBFixture(guest4)

/// What the C twins return: the physical address, or all ones when the access does not translate.
/// Both sides hand the same 64-bit value to `blackHole`, so the harness's cost per result is equal.
@inline(__always)
func physical(_ outcome: WalkOutcome) -> UInt64 {
    if case .translation(let t) = outcome { return t.physical }
    return ~0
}

/// The generated walker on 1D paging.
func walkBenchmark(_ name: String, _ fixture: @escaping @Sendable () -> (PreparedFormat, FlatMemory, AccessList)) {
    let cursor = Cursor()
    Benchmark(name) { benchmark in
        let (prepared, memory, accesses) = fixture()
        let list = accesses.swift
        let mask = accesses.mask
        var i = cursor.take(benchmark.scaledIterations.count)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(physical(Walker.walk(prepared, list[i & mask], memory: memory)))
            i &+= 1
        }
        benchmark.stopMeasurement()
    }
}

/// A C walker; `walk(address, class)` walks one access and leaves the result where blackHole sees it.
func cBenchmark(
    _ name: String, _ accesses: @escaping @Sendable () -> AccessList,
    _ walker: @escaping @Sendable () -> (UInt64, UInt32) -> UInt64
) {
    let cursor = Cursor()
    let made = Once(walker)
    Benchmark(name) { benchmark in
        let list = accesses()
        let walk = made.value
        var i = cursor.take(benchmark.scaledIterations.count)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(walk(list.addresses[i & list.mask], list.classes[i & list.mask]))
            i &+= 1
        }
        benchmark.stopMeasurement()
    }
}

/// A value made on first use (fixtures are built only for the benchmarks that run).
final class Once<T>: @unchecked Sendable {
    private var made: T?
    private let make: () -> T
    init(_ make: @escaping () -> T) { self.make = make }
    var value: T {
        if let made { return made }
        let v = make()
        made = v
        return v
    }
}

/// The memory and result arguments of a C walker, in stable storage (no exclusivity checks).
struct CWalkCall: @unchecked Sendable {
    let memory: UnsafeMutablePointer<cw_memory>
    let result: UnsafeMutablePointer<cw_result>
    init(_ memory: cw_memory) {
        self.memory = .allocate(capacity: 1)
        self.memory.initialize(to: memory)
        result = .allocate(capacity: 1)
        result.initialize(to: cw_result())
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 5,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 20_000
    )

    // Generated walker.
    walkBenchmark("Walk4Level") { (guest4.prepared, guest4.memory.flat, guest4.accesses) }
    walkBenchmark("Walk5Level") { (guest5.prepared, guest5.memory.flat, guest5.accesses) }
    walkBenchmark("WalkEPT4") { (nested4.ept, nested4.memory.flat, nested4.eptAccesses) }
    walkBenchmark("WalkEPT5") { (nested5.ept, nested5.memory.flat, nested5.eptAccesses) }
    for (name, fixture) in [("WalkNested4x4", nested4), ("WalkNested5x5", nested5)] {
        let cursor = Cursor()
        Benchmark(name) { benchmark in
            let prepared = fixture.guest
            let space = fixture.space
            let list = fixture.guestAccesses.swift
            let mask = fixture.guestAccesses.mask
            var i = cursor.take(benchmark.scaledIterations.count)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(physical(Walker.walk(prepared, list[i & mask], space: space)))
                i &+= 1
            }
            benchmark.stopMeasurement()
        }
    }

    // Generated TLB, hits only.
    do {
        let cursor = Cursor()
        Benchmark("TLBHit") { benchmark in
            let tlb = tlbFixture.tlb
            let prepared = tlbFixture.guest.prepared
            let space = DirectSpace(tlbFixture.guest.memory.flat)
            let list = tlbFixture.accesses.swift
            let mask = tlbFixture.accesses.mask
            var i = cursor.take(benchmark.scaledIterations.count)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(physical(tlb.translate(prepared, list[i & mask], space: space)))
                i &+= 1
            }
            benchmark.stopMeasurement()
        }
    }

    // Hand-written C. The walker runs out of line (a call per walk, as a C library would be used).
    cBenchmark("CWalk4Level", { guest4.accesses }) {
        let mmu = UnsafePointer(guest4.cmmu), call = CWalkCall(guest4.memory.c)
        return { address, cls in
            cw_walk_guest(mmu, call.memory, address, cls, call.result)
            return call.result.pointee.physical
        }
    }
    cBenchmark("CWalk5Level", { guest5.accesses }) {
        let mmu = UnsafePointer(guest5.cmmu), call = CWalkCall(guest5.memory.c)
        return { address, cls in
            cw_walk_guest(mmu, call.memory, address, cls, call.result)
            return call.result.pointee.physical
        }
    }
    cBenchmark("CWalkEPT4", { nested4.eptAccesses }) {
        let mmu = UnsafePointer(nested4.cept), call = CWalkCall(nested4.memory.c)
        return { address, cls in
            cw_walk_ept(mmu, call.memory, address, cls, call.result)
            return call.result.pointee.physical
        }
    }
    cBenchmark("CWalkNested4x4", { nested4.guestAccesses }) {
        let guest = UnsafePointer(nested4.cguest), ept = UnsafePointer(nested4.cept), call = CWalkCall(nested4.memory.c)
        return { address, cls in
            cw_walk_nested(guest, ept, call.memory, address, cls, call.result)
            return call.result.pointee.physical
        }
    }
    do {
        let cursor = Cursor()
        Benchmark("CTLBHit") { benchmark in
            let tlb = UnsafePointer(tlbFixture.ctlb)
            let list = tlbFixture.accesses
            var i = cursor.take(benchmark.scaledIterations.count)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(cw_tlb_lookup(tlb, list.addresses[i & list.mask], list.classes[i & list.mask]))
                i &+= 1
            }
            benchmark.stopMeasurement()
        }
    }

    // The reference interpreter: rule by rule from the spec model.
    do {
        let cursor = Cursor()
        Benchmark("Interp4Level", configuration: .init(scalingFactor: .one, maxDuration: .seconds(2))) { benchmark in
            var i = cursor.take(benchmark.scaledIterations.count)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(interpreter.walk(i))
                i &+= 1
            }
            benchmark.stopMeasurement()
        }
    }
}
