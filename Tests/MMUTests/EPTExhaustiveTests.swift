import Foundation
import SpecParser
import Testing
import WalkContract

/// Generated vs interpreter, exhaustive over EPT entry bits 0–10 (R, W, X, memory type, IPAT, PS,
/// A, D, XU) at each level of 4- and 5-level EPT; access kind, user/supervisor and MBEC rotate.
@Suite struct EPTExhaustiveTests {
    @Test(arguments: [4, 5])
    func everyLowBitCombinationAtEveryLevel(levels: Int) throws {
        let specs = try #require(TestSupport.specs)
        let generated = GeneratedEngine(specs: specs)
        let reference = ReferenceEngine(specs: specs)
        // Tables at 0x1000, 0x2000, …; the GPA indexes slot 1 at every level.
        let gpa: UInt64 =
            levels == 5
            ? (1 << 48 | 1 << 39 | 1 << 30 | 1 << 21 | 1 << 12 | 0x123)
            : (1 << 39 | 1 << 30 | 1 << 21 | 1 << 12 | 0x123)
        var failures: [String] = []
        var cases = 0
        for level in 0..<levels {
            for bits in UInt64(0)..<2048 {
                var memory: [UInt64: UInt64] = [:]
                for l in 0..<levels {
                    let table = UInt64(l + 1) << 12
                    let next = l == levels - 1 ? 0x40_0000 : UInt64(l + 2) << 12
                    var entry = next | 0x7 | (l == levels - 1 ? 0x30 : 0)  // RWX, WB at the leaf
                    if l == level { entry = (entry & ~0x7FF) | bits }
                    memory[table + 8] = entry
                }
                let mbec = bits % 3 == 0
                let kind = ["read", "write", "fetch"][Int(bits % 3 + UInt64(level)) % 3]
                let c = WalkCase(
                    id: "ept\(levels)-L\(level)-\(String(bits, radix: 2))", maxPhysicalAddressBits: 52,
                    features: ["nx"],
                    registers: ["CR0": 0x8000_0011, "CR3": 0, "CR4": 0x20, "EFER": 0x500],
                    ept: (0x1006 | UInt64(levels - 1) << 3 | (bits & 1) << 6, mbec),
                    memory: memory, address: gpa, guestPhysical: true, kind: kind, cpl: 0, implicit: false,
                    user: bits & 2 != 0)
                cases += 1
                if let d = DifferentialTests.disagreement(c, generated, reference) { failures.append(d) }
            }
        }
        #expect(cases == levels * 2048)
        #expect(failures.isEmpty, "\(failures.count) disagree:\n\(failures.prefix(8).joined(separator: "\n"))")
    }
}
