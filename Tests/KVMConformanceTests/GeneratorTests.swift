import Foundation
import Testing
import WalkContract

@testable import KVMConformance

/// The case generator, without KVM.
@Suite struct GeneratorTests {
    @Test func sameSeedSameCases() throws {
        let specs = try #require(Support.specs)
        let a = try CaseGenerator(specs: specs, options: .init(count: 50, seed: 7)).cases()
        let b = try CaseGenerator(specs: specs, options: .init(count: 50, seed: 7)).cases()
        let c = try CaseGenerator(specs: specs, options: .init(count: 50, seed: 8)).cases()
        #expect(a == b)
        #expect(a != c)
    }

    @Test func everyCaseIsAValidWalkCase() throws {
        let specs = try #require(Support.specs)
        let lines = try CaseGenerator(specs: specs, options: .init(count: 300, seed: 3)).cases()
        var kinds = Set<String>(), cpls = Set<Int>(), widths = Set<Int>()
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            let c = try WalkCase.parse(object, specs: specs)
            kinds.insert(c.kind)
            cpls.insert(c.cpl)
            widths.insert(c.maxPhysicalAddressBits)
        }
        #expect(kinds == ["read", "write", "fetch"])
        #expect(cpls == [0, 3])
        #expect(widths == [36, 40, 46])
    }

    /// access.c's `ac_test_legal`, as x86-paging.md §c.5 states it.
    @Test func accessLegality() {
        var f = CaseGenerator.AccessFlags()
        #expect(f.legal(maxPhysicalAddressBits: 46))
        f.fetch = true
        f.write = true
        #expect(!f.legal(maxPhysicalAddressBits: 46), "fetch and write together")
        f = CaseGenerator.AccessFlags()
        f.pkruAD = true
        #expect(!f.legal(maxPhysicalAddressBits: 46), "PKRU rights without CR4.PKE")
        f.pke = true
        #expect(f.legal(maxPhysicalAddressBits: 46))
        f = CaseGenerator.AccessFlags()
        f.pde.bit13 = true
        #expect(!f.legal(maxPhysicalAddressBits: 46), "PDE bit 13 without PS")
        f.pde.pse = true
        #expect(f.legal(maxPhysicalAddressBits: 46))
        f.pte.bit51 = true
        #expect(!f.legal(maxPhysicalAddressBits: 46), "two reserved bits")
        f = CaseGenerator.AccessFlags()
        f.pte.bit36 = true
        f.pde.bit36 = true
        #expect(f.legal(maxPhysicalAddressBits: 46), "bit 36 is an address bit at MAXPHYADDR 46")
        #expect(!f.legal(maxPhysicalAddressBits: 36), "bit 36 is reserved at MAXPHYADDR 36")
        f = CaseGenerator.AccessFlags()
        f.pte.nx = true
        f.pde.nx = true
        #expect(!f.legal(maxPhysicalAddressBits: 46), "NX counts as reserved without EFER.NXE")
        f.efernx = true
        #expect(f.legal(maxPhysicalAddressBits: 46))
    }

    /// The sampled sweep reaches every dimension both ways.
    @Test func accessSweepCoversItsDimensions() throws {
        let specs = try #require(Support.specs)
        let lines = try CaseGenerator(specs: specs, options: .init(count: 400, seed: 5, styles: [.access])).cases()
        var seen: [String: Set<Bool>] = [:]
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            let c = try WalkCase.parse(object, specs: specs)
            let cr4 = c.registers["CR4"] ?? 0, efer = c.registers["EFER"] ?? 0, cr0 = c.registers["CR0"] ?? 0
            let leaf = c.memory.values.filter { $0 & 0x80 != 0 && $0 >> 30 != 0 }
            let facts: [String: Bool] = [
                "user": c.cpl == 3, "fetch": c.kind == "fetch", "write": c.kind == "write",
                "smep": cr4 & (1 << 20) != 0, "smap": cr4 & (1 << 21) != 0, "pke": cr4 & (1 << 22) != 0,
                "wp": cr0 & (1 << 16) != 0, "nxe": efer & (1 << 11) != 0, "pkru": (c.registers["PKRU"] ?? 0) != 0,
                "large page": !leaf.isEmpty, "bit 51": c.memory.values.contains { $0 & (1 << 51) != 0 },
            ]
            for (k, v) in facts { seen[k, default: []].insert(v) }
        }
        for (k, v) in seen.sorted(by: { $0.key < $1.key }) { #expect(v == [false, true], "dimension \(k)") }
    }
}
