import CodeGen
import Foundation
import GeneratedMMU
import SpecInterpreter
import SpecParser
import Testing

/// A format that exists in no hardware (3 levels, 39 bits), declared in a fixture, lowered by the
/// code generator and walked by the same generic walker — with no Swift change — and by the
/// reference interpreter.
@Suite struct FixtureFormatTests {
    static func load() throws -> (SpecSet, PagingFormat, PagingFormatDescriptor) {
        let fixture = TestSupport.testsDirectory.appendingPathComponent("Fixtures/toy-3level.yaml").path
        let result = SpecLoader().load(paths: [TestSupport.specsDirectory, fixture])
        let specs = try #require(result.specs, "fixture must check clean: \(result.diagnostics)")
        let format = try #require(specs.format("toy-3level"))
        let lowered = try Lowering(specs).lower()
        let toy = try #require(lowered.formats.first { $0.name == "toy-3level" })
        return (specs, format, LoweringAdapter.descriptor(toy))
    }

    /// Page tables: L3 at 0x1000, L2 at 0x2000, L1 at 0x3000; linear 0x40_3020_1abc has indexes 1, 1, 1
    /// (bits 38:30 = 1, 29:21 = 1, 20:12 = 1... computed below).
    struct Scenario {
        var memory: [UInt64: UInt64]
        var address: UInt64
    }

    static func scenario(leafFlags: UInt64, large: Bool) -> Scenario {
        let address: UInt64 = (5 << 30) | (7 << 21) | (9 << 12) | 0xABC
        var m: [UInt64: UInt64] = [0x1000 + 5 * 8: 0x2000 | 0x7]
        if large {
            m[0x2000 + 7 * 8] = 0x0060_0000 | 0x80 | leafFlags
        } else {
            m[0x2000 + 7 * 8] = 0x3000 | 0x7
            m[0x3000 + 9 * 8] = 0x0040_0000 | leafFlags
        }
        return Scenario(memory: m, address: address)
    }

    func generated(_ d: PagingFormatDescriptor, _ s: Scenario, kind: AccessKind, cpl: UInt8) -> (
        WalkOutcome, [UInt64: UInt64]
    ) {
        var state = ControlState()
        if let cr3 = SpecRegisters.index(named: "CR3") { state[index: cr3] = 0x1000 }
        let prepared = PreparedFormat(d, state: state, cpu: CPUConfiguration(maxPhysicalAddressBits: 40))
        let memory = SparseMemory(s.memory)
        return (Walker.walk(prepared, Access(address: s.address, kind: kind, cpl: cpl), memory: memory), memory.writes)
    }

    @Test func fourKiBPageTranslatesAndSetsAccessedDirty() throws {
        let (_, _, d) = try Self.load()
        let s = Self.scenario(leafFlags: 0x7, large: false)
        let (outcome, writes) = generated(d, s, kind: .write, cpl: 3)
        guard case .translation(let t) = outcome else {
            Issue.record("expected a translation, got \(outcome)")
            return
        }
        #expect(t.physical == 0x0040_0ABC)
        #expect(t.pageSize == 4096)
        #expect(writes == [0x1028: 0x2027, 0x2038: 0x3027, 0x3048: 0x0040_0067])
    }

    @Test func twoMiBPageAtTheMiddleLevel() throws {
        let (_, _, d) = try Self.load()
        let s = Self.scenario(leafFlags: 0x5, large: true)
        let (outcome, _) = generated(d, s, kind: .read, cpl: 3)
        guard case .translation(let t) = outcome else {
            Issue.record("expected a translation, got \(outcome)")
            return
        }
        #expect(t.pageSize == 2 << 20)
        #expect(t.physical == 0x0060_0000 | (9 << 12) | 0xABC)
    }

    @Test func rulesOfTheFixtureApply() throws {
        let (_, _, d) = try Self.load()
        // Read-only page: a supervisor write faults here (the fixture has no CR0.WP exception).
        let (w, _) = generated(d, Self.scenario(leafFlags: 0x5, large: false), kind: .write, cpl: 0)
        #expect(w == .fault(Fault(kind: .protection, report: 0x3, level: 2, rights: 0b10)))
        // Supervisor page, user read: P|U.
        let (u, _) = generated(d, Self.scenario(leafFlags: 0x3, large: false), kind: .read, cpl: 3)
        #expect(u == .fault(Fault(kind: .protection, report: 0x5, level: 2, rights: 0b01)))
        // Alignment bit 13 of the 2 MiB leaf is reserved: P|RSVD.
        let (r, _) = generated(d, Self.scenario(leafFlags: 0x7 | 1 << 13, large: true), kind: .read, cpl: 0)
        if case .fault(let f) = r { #expect(f.kind == .reserved && f.report == 0x9) } else { Issue.record("got \(r)") }
        // Bit 39 set without sign extension: not canonical for a 39-bit format.
        var s = Self.scenario(leafFlags: 0x7, large: false)
        s.address |= 1 << 39
        #expect(generated(d, s, kind: .read, cpl: 0).0 == .generalProtection)
    }

    @Test func generatedAgreesWithTheInterpreterOnRandomEntries() throws {
        let (specs, format, d) = try Self.load()
        let walker = ReferenceWalker(specs: specs)
        var rng = SplitMix64(seed: 39)
        for _ in 0..<2000 {
            let leaf = rng.next() & (0x1FF | 1 << 13 | 1 << 45 | 1 << 63)
            var s = Self.scenario(leafFlags: leaf, large: rng.next() % 2 == 0)
            if rng.next() % 8 == 0 { s.address ^= 1 << UInt64(30 + rng.next() % 34) }
            let kind = [AccessKind.read, .write, .fetch][Int(rng.next() % 3)]
            let cpl: UInt8 = rng.next() % 2 == 0 ? 3 : 0
            let (outcome, writes) = generated(d, s, kind: kind, cpl: cpl)
            let memory = ReferenceMemory(s.memory)
            var trace: [ReferenceStep] = []
            var reason = ""
            let machine = ReferenceMachine(registers: ["CR3": 0x1000], features: [], maxPhysicalAddressBits: 40)
            let ref = walker.walk(
                format, machine: machine,
                access: ReferenceAccess(
                    address: s.address, kind: ["read", "write", "fetch"][Int(kind.rawValue)], cpl: Int(cpl),
                    implicit: false),
                memory: memory, trace: &trace, reason: &reason)
            switch (outcome, ref) {
            case (.translation(let t), .translation(let p, let size, _)):
                #expect(t.physical == p && t.pageSize == size && writes == memory.writes)
            case (.fault(let f), .fault(_, let report, _)):
                #expect(f.report == report)
            case (.generalProtection, .generalProtection):
                break
            default:
                Issue.record("engines disagree: generated \(outcome), reference \(ref)")
            }
        }
    }
}
