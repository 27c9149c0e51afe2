import Foundation
import GeneratedMMU
import SpecParser
import Testing
import WalkContract

/// The generated walker and the reference interpreter must agree on every input: the access.c
/// space (sampled here; `specc sweep` runs all of it) and seeded random page tables for every mode.
@Suite struct DifferentialTests {
    /// Runs a case on both engines and returns a description of the disagreement, if any.
    static func disagreement(_ c: WalkCase, _ generated: GeneratedEngine, _ reference: ReferenceEngine) -> String? {
        var none: [String]? = nil
        var a = generated.run(c, explain: &none)
        var b = reference.run(c, explain: &none)
        // Messages of invalid results are free text; the verdict must agree.
        if a.result == "invalid" && b.result == "invalid" {
            a.fields = []
            b.fields = []
        }
        return a.json == b.json ? nil : "\(c.id ?? "?"): generated \(a.json)\n   reference \(b.json)"
    }

    @Test(arguments: [4, 5])
    func accessSweepSample(levels: Int) throws {
        let specs = try #require(TestSupport.specs)
        let generated = GeneratedEngine(specs: specs)
        let reference = ReferenceEngine(specs: specs)
        let sweep = AccessSweep(levels: levels, includeSupervisorProtections: true)
        var rng = SplitMix64(seed: UInt64(levels) &* 0x9E37_79B9)
        var checked = 0
        var failures: [String] = []
        while checked < 3000 {
            let c = rng.next() & ((1 << UInt64(sweep.flagCount)) - 1)
            guard sweep.isLegal(c) else { continue }
            checked += 1
            if let d = Self.disagreement(sweep.walkCase(c), generated, reference) { failures.append(d) }
        }
        #expect(
            failures.isEmpty,
            "\(failures.count) of \(checked) disagree:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    /// Random page tables: every entry a random mix of flag bits, addresses inside a small region so
    /// that walks go deep; random control state within what the CPU supports.
    @Test(arguments: ["legacy-32bit", "pae", "ia32e-4level", "ia32e-5level"])
    func randomTables(mode: String) throws {
        let specs = try #require(TestSupport.specs)
        let generated = GeneratedEngine(specs: specs)
        let reference = ReferenceEngine(specs: specs)
        var rng = SplitMix64(seed: UInt64(mode.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var failures: [String] = []
        for i in 0..<600 {
            let c = RandomCases.guestCase(mode: mode, index: i, rng: &rng)
            if let d = Self.disagreement(c, generated, reference) { failures.append(d) }
        }
        #expect(failures.isEmpty, "\(failures.count) disagree:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test(arguments: ["ept-4level", "ept-5level"])
    func randomEPT(format: String) throws {
        let specs = try #require(TestSupport.specs)
        let generated = GeneratedEngine(specs: specs)
        let reference = ReferenceEngine(specs: specs)
        var rng = SplitMix64(seed: format == "ept-4level" ? 44 : 55)
        var failures: [String] = []
        for i in 0..<600 {
            let c = RandomCases.eptCase(
                levels: format == "ept-4level" ? 4 : 5, nestedGuest: i % 2 == 0, index: i, rng: &rng)
            if let d = Self.disagreement(c, generated, reference) { failures.append(d) }
        }
        #expect(failures.isEmpty, "\(failures.count) disagree:\n\(failures.prefix(10).joined(separator: "\n"))")
    }
}

/// A small deterministic generator (SplitMix64), so that failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random walk cases for the differential tests.
enum RandomCases {
    static let allFeatures: [String] = [
        "nx", "smep", "smap", "pku", "pks", "pdpe1gb", "la57", "pse", "pse36", "pge", "pcid",
    ]

    /// A random entry: low flag bits random, address inside a 64 KiB region (or sometimes anywhere),
    /// high bits sometimes set.
    static func entry(_ rng: inout SplitMix64, bytes: Int) -> UInt64 {
        var e = rng.next() & 0x1FF  // P, RW, US, PWT, PCD, A, D, PS, G
        if rng.next() % 4 != 0 { e |= 1 }  // mostly present
        let region = (rng.next() % 16) << 12
        e |= region
        if bytes == 8 {
            switch rng.next() % 8 {
            case 0: e |= rng.next() & 0xFFF0_0000_0000_0000  // XD, keys, ignored bits
            case 1: e |= 1 << UInt64(12 + rng.next() % 40)  // a high address bit, maybe reserved
            case 2: e |= (rng.next() % 0x200) << 12 & 0x1F_E000  // large-page alignment bits
            default: break
            }
        } else if rng.next() % 4 == 0 {
            e |= (rng.next() & 0x3FF) << 12  // PSE-36 bits
        }
        return bytes == 4 ? e & 0xFFFF_FFFF : e
    }

    static func guestCase(mode: String, index: Int, rng: inout SplitMix64) -> WalkCase {
        let bytes = mode == "legacy-32bit" ? 4 : 8
        var memory: [UInt64: UInt64] = [:]
        for page in 0..<16 {
            for slot in 0..<8 {
                // A few words per page at random slots; the rest reads as zero (not present).
                let offset = (rng.next() % 512) * 8
                if bytes == 8 {
                    memory[UInt64(page) << 12 | offset] = entry(&rng, bytes: 8)
                } else {
                    memory[UInt64(page) << 12 | offset] = entry(&rng, bytes: 4) | entry(&rng, bytes: 4) << 32
                }
                _ = slot
            }
        }
        var features: Set<String> = []
        for f in allFeatures where rng.next() % 4 != 0 { features.insert(f) }
        var cr0: UInt64 = 0x8000_0011
        if rng.next() % 2 == 0 { cr0 |= 1 << 16 }
        var cr4: UInt64 = 0
        var efer: UInt64 = 0
        switch mode {
        case "legacy-32bit": cr4 = 0
        case "pae": cr4 = 0x20
        case "ia32e-4level": cr4 = 0x20; efer = 0x500
        default: cr4 = 0x20 | 1 << 12; efer = 0x500; features.insert("la57")
        }
        let optional: [(UInt64, String)] = [
            (1 << 4, "pse"), (1 << 7, "pge"), (1 << 20, "smep"), (1 << 21, "smap"),
            (1 << 22, "pku"), (1 << 24, "pks"),
        ]
        for (bit, f) in optional where features.contains(f) && rng.next() % 2 == 0 { cr4 |= bit }
        if features.contains("nx") && rng.next() % 3 != 0 { efer |= 0x800 }
        // Walk from a random table page; pick an address whose indexes hit the populated slots often.
        let cr3 = (rng.next() % 16) << 12 | (mode == "pae" ? (rng.next() % 128) << 5 : 0)
        var address: UInt64
        switch mode {
        case "legacy-32bit", "pae": address = rng.next() & 0xFFFF_FFFF
        case "ia32e-4level": address = rng.next() & 0xFFFF_FFFF_FFFF; if address >> 47 != 0 { address |= 0xFFFF << 48 }
        default: address = rng.next() & 0x01FF_FFFF_FFFF_FFFF; if address >> 56 != 0 { address |= 0xFF << 56 }
        }
        if rng.next() % 16 == 0 { address ^= 1 << 60 }  // sometimes non-canonical
        let kinds = ["read", "write", "fetch"]
        return WalkCase(
            id: "\(mode)-random-\(index)", maxPhysicalAddressBits: [36, 40, 46, 52][Int(rng.next() % 4)],
            features: features,
            registers: [
                "CR0": cr0, "CR3": cr3, "CR4": cr4, "EFER": efer, "RFLAGS": rng.next() % 2 == 0 ? 0x40002 : 2,
                "PKRU": rng.next() & 0xFFFF_FFFF, "IA32_PKRS": rng.next() & 0xFFFF_FFFF,
            ],
            ept: nil, memory: memory, address: address, guestPhysical: false, kind: kinds[Int(rng.next() % 3)],
            cpl: rng.next() % 2 == 0 ? 3 : Int(rng.next() % 3), implicit: rng.next() % 8 == 0, user: false)
    }

    static func eptEntry(_ rng: inout SplitMix64) -> UInt64 {
        var e = rng.next() & 0x7FF  // R, W, X, MT, IPAT, PS, A, D, XU
        if rng.next() % 3 != 0 { e |= 0x7 }  // mostly RWX
        if rng.next() % 3 != 0 { e = (e & ~0x38) | 0x30 }  // mostly WB
        e |= (rng.next() % 16) << 12
        switch rng.next() % 8 {
        case 0: e |= rng.next() & 0xFFF0_0000_0000_0000
        case 1: e |= 1 << UInt64(12 + rng.next() % 40)
        default: break
        }
        return e
    }

    static func eptCase(levels: Int, nestedGuest: Bool, index: Int, rng: inout SplitMix64) -> WalkCase {
        var memory: [UInt64: UInt64] = [:]
        for page in 0..<16 {
            for _ in 0..<10 {
                let offset = (rng.next() % 512) * 8
                memory[UInt64(page) << 12 | offset] = rng.next() % 2 == 0 ? eptEntry(&rng) : entry(&rng, bytes: 8)
            }
        }
        var eptp: UInt64 = (rng.next() % 16) << 12 | 6 | UInt64(levels - 1) << 3
        if rng.next() % 2 == 0 { eptp |= 1 << 6 }
        if rng.next() % 32 == 0 { eptp ^= 1 << UInt64(rng.next() % 12) }  // sometimes an invalid EPTP
        let kinds = ["read", "write", "fetch"]
        let mbec = rng.next() % 2 == 0
        var c = guestCase(mode: levels == 5 ? "ia32e-5level" : "ia32e-4level", index: index, rng: &rng)
        c.id = "ept\(levels)-random-\(index)"
        c.memory = memory
        c.ept = (eptp, mbec)
        if !nestedGuest {
            c.guestPhysical = true
            c.address = rng.next() & (levels == 5 ? 0x01FF_FFFF_FFFF_FFFF : 0xFFFF_FFFF_FFFF)
            c.cpl = 0
            c.implicit = false
            c.user = rng.next() % 2 == 0
        } else if rng.next() % 4 == 0 {
            c.registers["CR0"] = 0x11  // guest paging off
            c.address &= 0xFFFF_FFFF
        }
        c.kind = kinds[Int(rng.next() % 3)]
        return c
    }
}
