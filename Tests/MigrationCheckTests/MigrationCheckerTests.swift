import Foundation
import MigrationCheck
import SpecParser
import Testing

/// `specc migrate check`: the hazards and warnings of the contract.
@Suite struct MigrationCheckerTests {
    func check(_ guest: String, _ from: String, _ to: String, state: String? = nil, specs: SpecSet) throws
        -> MigrationReport
    {
        let snapshot = try state.map {
            try GuestState.parse(Data(contentsOf: Paths.fixture("state/\($0)")), specs: specs)
        }
        return try MigrationChecker(specs: specs).check(
            guest: model(guest, in: specs), from: model(from, in: specs), to: model(to, in: specs), state: snapshot)
    }

    @Test func icelakeToCascadeLakeLosesLA57AndWidths() throws {
        let r = try check("Icelake-Server", "Icelake-Server", "Cascadelake-Server", specs: realSpecs())
        #expect(!r.migratable)
        let missing = r.hazards.filter { $0.id == "feature-missing" }.compactMap(\.feature)
        #expect(missing.contains("la57"))
        #expect(missing.contains("avx512vbmi") && missing.contains("gfni") && missing.contains("vaes"))
        #expect(!missing.contains("avx512f"), "Cascade Lake has AVX-512F")
        // The Ice Lake dump reports 52 physical bits, Cascade Lake 46.
        let phys = try #require(r.hazards.first { $0.id == "phys-width" })
        #expect(phys.detail.contains("52") && phys.detail.contains("46"))
        let linear = try #require(r.hazards.first { $0.id == "linear-width" })
        #expect(linear.detail.contains("57") && linear.detail.contains("48"))
        #expect(r.hazards.contains { $0.id == "vmx-capability" && $0.property == "ept-page-walk-5" })
        #expect(r.warnings.map(\.id) == ["la57-canonical-leak"])
        #expect(r.warnings[0].detail.contains("fs_base") && r.warnings[0].detail.contains("lstar"))
        // Every hazard of a missing feature names it, one entry each.
        #expect(Set(missing).count == missing.count)
        for h in r.hazards where h.id == "feature-missing" {
            #expect(h.detail.contains(h.feature ?? "?"))
        }
    }

    @Test func sapphireRapidsToSkylake() throws {
        let specs = try realSpecs()
        let r = try check("SapphireRapids", "SapphireRapids", "Skylake-Server", specs: specs)
        #expect(!r.migratable)
        let missing = Set(r.hazards.filter { $0.id == "feature-missing" }.compactMap(\.feature))
        #expect(missing.isSuperset(of: ["amx_tile", "amx_int8", "amx_bf16", "avx512_fp16", "la57", "serialize"]))
        #expect(r.hazards.map(\.id).contains("phys-width"))
        #expect(r.hazards.map(\.id).contains("linear-width"))
        #expect(r.warnings.map(\.id) == ["la57-canonical-leak"])

        // A Skylake-Server guest on the same hosts: no hazard, only the leak warning.
        let safe = try check("Skylake-Server", "SapphireRapids", "Skylake-Server", specs: specs)
        #expect(safe.migratable)
        #expect(safe.hazards.isEmpty)
        #expect(safe.warnings.map(\.id) == ["la57-canonical-leak"])
    }

    @Test func sameGenerationIsCleanAndNoLeakWithoutLA57AtTheSource() throws {
        let specs = try realSpecs()
        let r = try check("Skylake-Server", "Skylake-Server", "Cascadelake-Server", specs: specs)
        #expect(r.migratable && r.hazards.isEmpty && r.warnings.isEmpty)
        let up = try check("Cascadelake-Server", "Cascadelake-Server", "Icelake-Server", specs: specs)
        #expect(up.warnings.isEmpty, "the leak needs LA57 at the source and none at the destination")
        // Moving up a generation, only features the newer dump lacks can be hazards.
        let ice = try model("Icelake-Server", in: specs)
        for h in up.hazards { #expect(h.id == "feature-missing" && !ice.has(h.feature ?? "")) }
    }

    /// 57-bit-canonical values in static registers become hazards; SYSENTER_EIP is truncated, not refused.
    @Test func stateWithFiftySevenBitCanonicalValues() throws {
        let specs = try realSpecs()
        let r = try check("Skylake-Server", "Icelake-Server", "Cascadelake-Server", state: "leak.json", specs: specs)
        #expect(!r.migratable)
        let bad = r.hazards.filter { $0.id == "noncanonical-state" }
        #expect(bad.compactMap(\.register) == ["fs_base", "kernel_gs_base", "lstar", "sysenter_eip", "gdtr_base"])
        let fs = try #require(bad.first { $0.register == "fs_base" })
        #expect(fs.value == "0xff4547ceb1600000")
        #expect(fs.field == "IA32_FS_BASE")
        #expect(fs.detail.contains("refused"))
        let eip = try #require(bad.first { $0.register == "sysenter_eip" })
        #expect(eip.value == "0xff800000001000")
        #expect(eip.detail.contains("silently truncated"))
        #expect(eip.detail.contains("0xffff800000001000"), "the sign-extended value")
        #expect(r.hazards.count == bad.count, "no other hazard: \(r.hazards.map(\.id))")
        // Every static register is in the state, so nothing is left to warn about.
        #expect(r.warnings.isEmpty)
        // The same state on a 57-bit destination is fine.
        let wide = try check("Skylake-Server", "Icelake-Server", "Icelake-Server", state: "leak.json", specs: specs)
        #expect(wide.hazards.isEmpty && wide.warnings.isEmpty)
    }

    @Test func partialStateKeepsTheWarningForUncheckedRegisters() throws {
        let specs = try realSpecs()
        let state = try GuestState.parse(Data(#"{"fs_base": "0xffff800000000000"}"#.utf8), specs: specs)
        let r = try MigrationChecker(specs: specs).check(
            guest: model("Skylake-Server", in: specs), from: model("Icelake-Server", in: specs),
            to: model("Skylake-Server", in: specs), state: state)
        #expect(r.migratable)
        let w = try #require(r.warnings.first)
        #expect(w.id == "la57-canonical-leak")
        #expect(!w.detail.contains("fs_base") && w.detail.contains("lstar"))
    }

    /// CR4.LA57, CR4.PKE, CR4.FSGSBASE and XCR0.PKRU need features the destination lacks.
    @Test func gatedBitsNeedTheDestinationsFeatures() throws {
        let specs = try fixtureSpecs()
        let r = try check("Skylake-Server", "Skylake-Server", "Test-NoPKU", state: "cr4-gated.json", specs: specs)
        #expect(!r.migratable)
        let cr4 = r.hazards.filter { $0.id == "cr4-bit" }
        #expect(cr4.compactMap(\.field) == ["LA57", "FSGSBASE", "PKE"])
        #expect(cr4.compactMap(\.feature) == ["la57", "fsgsbase", "pku"])
        for h in cr4 {
            #expect(h.register == "cr4" && h.value == "0x411020")
            #expect(h.detail.contains(h.field ?? "?") && h.detail.contains(h.feature ?? "?"))
        }
        #expect(cr4[0].detail.contains("neither"), "LA57: neither the destination nor the guest model has la57")
        #expect(cr4[1].detail.contains("the destination Test-NoPKU lacks"))
        let xcr0 = r.hazards.filter { $0.id == "xcr0-bit" }
        #expect(xcr0.compactMap(\.field) == ["PKRU"])
        #expect(!r.hazards.contains { $0.id == "efer-bit" }, "EFER.NXE needs nx, which Test-NoPKU has")
        // The guest model has fsgsbase and pku, which the fixture lacks.
        #expect(
            Set(r.hazards.filter { $0.id == "feature-missing" }.compactMap(\.feature)) == ["fsgsbase", "ospke", "pku"])
    }

    /// A register declared `width: paging` is checked against the state's own CR4.LA57.
    @Test func pagingWidthFollowsTheStatesCR4() throws {
        let text = try String(contentsOf: Paths.specs.appendingPathComponent("hazards/migration.yaml"), encoding: .utf8)
        let paging = text.replacingOccurrences(
            of: "fs_base:        {register: IA32_FS_BASE, width: static,",
            with: "fs_base: {register: IA32_FS_BASE, width: paging,")
        #expect(paging != text)
        let specs = try #require(
            try loadSpecs(adding: "paging/migration.yaml", paging, replacing: "hazards/migration.yaml").specs)
        let checker = try MigrationChecker(specs: specs)
        let ice = try model("Icelake-Server", in: specs)
        func hazards(_ json: String) throws -> [String] {
            let state = try GuestState.parse(Data(json.utf8), specs: specs)
            return checker.check(guest: ice, from: ice, to: ice, state: state).hazards.compactMap(\.register)
        }
        // 57-bit canonical: fine with CR4.LA57 set (bit 12), not without.
        #expect(try hazards(#"{"fs_base": "0xff4547ceb1600000", "cr4": "0x1020"}"#) == [])
        #expect(try hazards(#"{"fs_base": "0xff4547ceb1600000", "cr4": "0x20"}"#) == ["fs_base"])
        // The static registers keep the host's width either way.
        #expect(try hazards(#"{"gs_base": "0xff4547ceb1600000", "cr4": "0x20"}"#) == [])
    }

    @Test func jsonFollowsTheContract() throws {
        let specs = try realSpecs()
        let r = try check("Skylake-Server", "Icelake-Server", "Cascadelake-Server", state: "leak.json", specs: specs)
        let json = r.json.compact
        #expect(
            json.hasPrefix(
                #"{"migratable":false,"hazards":[{"id":"noncanonical-state","register":"fs_base","value":"0xff4547ceb1600000""#
            ))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(parsed["migratable"] as? Bool == false)
        let hazards = try #require(parsed["hazards"] as? [[String: Any]])
        #expect(hazards.allSatisfy { $0["id"] is String && $0["detail"] is String })
        #expect(parsed["warnings"] as? [Any] != nil)
        let ok = try check("Skylake-Server", "Skylake-Server", "Skylake-Server", specs: specs)
        #expect(ok.json.compact == #"{"migratable":true,"hazards":[],"warnings":[]}"#)
    }

    @Test func vendorMismatchIsAHazard() throws {
        let specs = try realSpecs()
        var amd = try model("Skylake-Server", in: specs)
        amd.name = "Some-AMD"
        amd.vendor = "AuthenticAMD"
        let sky = try model("Skylake-Server", in: specs)
        let r = try MigrationChecker(specs: specs).check(guest: sky, from: sky, to: amd)
        #expect(r.hazards.map(\.id) == ["vendor-mismatch"])
    }

    @Test(arguments: [
        (0xffff_8000_0000_0000 as UInt64, 48, true), (0x0000_7fff_ffff_ffff, 48, true),
        (0x0000_8000_0000_0000, 48, false), (0xff45_47ce_b160_0000, 48, false),
        (0xff45_47ce_b160_0000, 57, true), (0x0100_0000_0000_0000, 57, false), (0, 48, true),
    ])
    func canonicalAddresses(value: UInt64, width: Int, canonical: Bool) {
        #expect(Canonical.isCanonical(value, width: width) == canonical)
        #expect(Canonical.isCanonical(Canonical.signExtend(value, width: width), width: width))
    }
}
