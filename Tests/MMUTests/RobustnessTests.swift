import Foundation
import GeneratedMMU
import SpecParser
import Testing
import WalkContract

/// A guest controls its page tables: whatever they contain, the walker stays inside the memory it
/// was given. Malformed walk cases are answered with `invalid` and a message.
@Suite struct RobustnessTests {
    @Test func oneMillionRandomMemoryImages() throws {
        let size = 1 << 16
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        let memory = FlatMemory(base: buffer, size: size)
        var rng = SplitMix64(seed: 0x5EED)
        let words = buffer.bindMemory(to: UInt64.self, capacity: size / 8)
        // Mostly entries whose addresses stay inside the image (so walks go deep and some succeed),
        // some entirely random.
        func word() -> UInt64 { rng.next() % 4 == 0 ? rng.next() : rng.next() & 0x8000_0000_0000_FFFF }
        for i in 0..<(size / 8) { words[i] = word() }
        // A spread of control states for every guest format, prepared once.
        var prepared: [PreparedFormat] = []
        for format in SpecFormats.all {
            for variant in 0..<8 {
                var state = ControlState()
                for (i, _) in SpecRegisters.names.enumerated() { state[index: i] = rng.next() }
                if let cr3 = SpecRegisters.index(named: "CR3") { state[index: cr3] = UInt64(variant) << 12 }
                if let eptp = SpecRegisters.index(named: "EPTP") {
                    state[index: eptp] = UInt64(variant) << 12 | 6 | (format.addressBits > 48 ? 4 : 3) << 3
                }
                var cpu = CPUConfiguration(maxPhysicalAddressBits: [36, 40, 46, 52][variant % 4])
                for i in cpu.features.indices { cpu.features[i] = rng.next() % 2 == 0 }
                prepared.append(PreparedFormat(format, state: state, cpu: cpu))
            }
        }
        var outcomes: [String: Int] = [:]
        for i in 0..<1_000_000 {
            // Mutate the image as a hostile guest would, between walks.
            words[Int(rng.next() % UInt64(size / 8))] = word()
            let p = prepared[i % prepared.count]
            let access = Access(
                address: rng.next() % 2 == 0 ? rng.next() : rng.next() & 0xFFFF_FFFF,
                kind: [.read, .write, .fetch][i % 3], cpl: UInt8(rng.next() % 4),
                implicit: rng.next() % 8 == 0)
            let outcome: WalkOutcome
            if i % 5 == 0, let ept = prepared.first(where: { $0.descriptor.family == .ept }) {
                outcome = Walker.walk(p, access, space: NestedSpace(ept: ept, memory: memory, guest: p.descriptor))
            } else {
                outcome = Walker.walk(p, access, memory: memory)
            }
            switch outcome {
            case .translation(let t):
                #expect(t.pageSize.nonzeroBitCount == 1)
                outcomes["translation", default: 0] += 1
            case .fault: outcomes["fault", default: 0] += 1
            case .generalProtection: outcomes["gp", default: 0] += 1
            case .invalidState: outcomes["invalid", default: 0] += 1
            case .outsideMemory(let a):
                #expect(a >= UInt64(size - 7))
                outcomes["outside", default: 0] += 1
            case .nestedFault: outcomes["nested", default: 0] += 1
            }
        }
        #expect(outcomes.values.reduce(0, +) == 1_000_000)
        #expect(outcomes["outside", default: 0] > 0, "random tables must point outside memory sometimes: \(outcomes)")
        #expect(outcomes["translation", default: 0] > 0, "some walks must succeed: \(outcomes)")
    }

    static let base =
        #"{"id":"x","maxphyaddr":46,"features":["nx"],"regs":{"cr0":"0x80000011","cr3":"0x1000","cr4":"0x20","efer":"0xd00"},"memory":{},"access":{"linear":"0x1000","kind":"read","cpl":0}}"#

    static let malformed: [(String, String)] = [
        ("not json", "not valid JSON"),
        ("[1, 2, 3]", "object"),
        ("\"a string\"", "object"),
        (#"{"id":"x"}"#, "maxphyaddr"),
        (base.replacingOccurrences(of: #""cr3":"0x1000","#, with: ""), "regs.cr3"),
        (base.replacingOccurrences(of: #""0x1000","cr4""#, with: #""1000","cr4""#), "hex"),
        (base.replacingOccurrences(of: #""0x1000","cr4""#, with: #""0xZZ","cr4""#), "hex"),
        (base.replacingOccurrences(of: #""0x1000","cr4""#, with: #""0x1ffffffffffffffff","cr4""#), "hex"),
        (base.replacingOccurrences(of: #""kind":"read""#, with: #""kind":"execute""#), "access.kind"),
        (base.replacingOccurrences(of: #""cpl":0"#, with: #""cpl":7"#), "access.cpl"),
        (base.replacingOccurrences(of: #""cpl":0"#, with: #""cpl":-1"#), "access.cpl"),
        (base.replacingOccurrences(of: #""cpl":0"#, with: #""cpl":1.5"#), "access.cpl"),
        (
            base.replacingOccurrences(of: #""linear":"0x1000","#, with: #""linear":"0x1000","guest_physical":"0x1","#),
            "exactly one"
        ),
        (base.replacingOccurrences(of: #""maxphyaddr":46"#, with: #""maxphyaddr":80"#), "maxphyaddr"),
        (base.replacingOccurrences(of: #""features":["nx"]"#, with: #""features":["warp-drive"]"#), "unknown feature"),
        (base.replacingOccurrences(of: #""memory":{}"#, with: #""memory":{"0x1001":"0x1"}"#), "aligned"),
        (base.replacingOccurrences(of: #""memory":{}"#, with: #""memory":[]"#), "memory"),
        (base.replacingOccurrences(of: #""efer":"0xd00""#, with: #""efer":"0xd00","cr9":"0x1""#), "unknown register"),
        (base.replacingOccurrences(of: #""cr4":"0x20""#, with: #""cr4":"0x1020""#), "la57"),
        (base.replacingOccurrences(of: #""access":{"#, with: #""ept":{"eptp":"0x1"},"access":{"#), "ept.eptp"),
        (base.replacingOccurrences(of: #""kind":"read","#, with: #""kind":"read","implicit":1,"#), "implicit"),
    ]

    @Test(arguments: ["generated", "reference"])
    func malformedCasesAreInvalid(engine: String) throws {
        let specs = try #require(TestSupport.specs)
        let runner: any WalkEngine =
            engine == "generated" ? GeneratedEngine(specs: specs) : ReferenceEngine(specs: specs)
        #expect(
            WalkRunner.run(Self.base, specs: specs, engine: runner).result.result == "page-fault",
            "the base case is valid")
        for (line, fragment) in Self.malformed {
            let r = WalkRunner.run(line, specs: specs, engine: runner).result
            #expect(r.result == "invalid", "\(line) must be invalid, got \(r.json)")
            let message = r.fields.first { $0.0 == "message" }?.1 ?? ""
            #expect(
                message.lowercased().contains(fragment.lowercased()),
                "message for \(line): \(message) should mention \(fragment)")
        }
    }
}
