import Foundation
import MigrationCheck
import SpecParser
import Testing

/// The CPU models, VMX exit reasons and migration rules in specs/.
@Suite struct CPUModelSpecTests {
    @Test func theFiveContractModelsExistAndMatchCaseInsensitively() throws {
        let specs = try realSpecs()
        for name in contractModels {
            let m = try #require(specs.cpuModel(name.uppercased()), "\(name) missing")
            #expect(m.name == name)
            #expect(m.vendor == "GenuineIntel")
            #expect(m.family == 6)
            #expect(!m.source.isEmpty)
        }
    }

    /// MAXPHYADDR and linear widths as shared/data/cpuid/README.md decodes them.
    @Test(arguments: [
        ("Skylake-Server", 46, 48, 85, 4), ("Cascadelake-Server", 46, 48, 85, 6), ("Icelake-Server", 52, 57, 106, 0),
        ("SapphireRapids", 52, 57, 143, 6), ("GraniteRapids", 52, 57, 173, 1),
    ])
    func widthsAndSignatures(name: String, phys: Int, linear: Int, model: Int, stepping: Int) throws {
        let m = try realSpecs().requireCPUModel(name)
        #expect(m.maxPhysicalAddressBits.value == phys)
        #expect(m.linearAddressBits.value == linear)
        #expect(m.model == model)
        #expect(m.stepping == stepping)
        #expect(m.has("la57") == (linear == 57))
        for f in ["fsgsbase", "smep", "smap", "pku", "pdpe1gb", "nx", "pcid", "vmx"] {
            #expect(m.has(f), "\(name) lacks \(f), which its dump has")
        }
        #expect(!m.has("hypervisor"), "the dumps are of bare metal")
    }

    /// VMX capabilities from QEMU's models: 4-level EPT on Skylake/Cascade Lake, 5-level from Ice Lake.
    @Test func vmxCapabilitiesFollowQEMUsModels() throws {
        let specs = try realSpecs()
        for name in contractModels {
            let v = try specs.requireCPUModel(name).vmx
            let expected = ["Skylake-Server", "Cascadelake-Server"].contains(name) ? [4] : [4, 5]
            #expect(v.eptPageWalkLengths == expected, "\(name)")
            #expect(v.executeOnly && v.pages2M && v.pages1G && v.accessedDirty)
            #expect(v.memoryTypes == ["WB"])
        }
    }

    /// Re-importing each shared dump reproduces the spec file's signature, widths and features.
    @Test(arguments: [
        ("x86_64-cpuid-Xeon-Gold-6152.xml", "Skylake-Server"),
        ("x86_64-cpuid-Xeon-Platinum-8268.xml", "Cascadelake-Server"),
        ("x86_64-cpuid-Ice-Lake-Server.xml", "Icelake-Server"),
        ("x86_64-cpuid-Xeon-w7-3465X.xml", "SapphireRapids"),
        ("x86_64-cpuid-Xeon-6788P.xml", "GraniteRapids"),
    ])
    func specFilesAreReproducibleFromTheDumps(file: String, name: String) throws {
        let specs = try realSpecs()
        let url = Paths.dumps.appendingPathComponent(file)
        let text = try #require(
            try? String(contentsOf: url, encoding: .utf8), "cannot read \(url.path) (shared/data/cpuid)")
        let data = try LibvirtCPUData.parse(text, file: file)
        let imported = try CPUIDDecoder(specs: specs).model(data, name: name, title: "", source: "")
        let spec = try model(name, in: specs)
        #expect(imported.features == spec.features)
        #expect(imported.maxPhysicalAddressBits == spec.maxPhysicalAddressBits)
        #expect(imported.linearAddressBits == spec.linearAddressBits)
        #expect(imported.vendor == spec.vendor)
        #expect(imported.family == spec.family && imported.model == spec.model && imported.stepping == spec.stepping)
    }

    @Test func exitReasonsCoverTheReferenceTable() throws {
        let vmx = try #require(try realSpecs().vmx)
        #expect(vmx.exitReasonLayout.value == "VMX_EXIT_REASON")
        let numbers = vmx.exitReasons.map(\.number)
        #expect(numbers == Array(0...37) + Array(39...79) + [84, 85])
        let cr = try #require(vmx.exitReasons.first { $0.number == 28 })
        #expect(cr.name == "CR_ACCESS" && cr.qualification == "EXIT_QUALIFICATION_CR_ACCESS")
        let ept = try #require(vmx.exitReasons.first { $0.number == 48 })
        #expect(ept.linuxName == "EPT_VIOLATION" && ept.qualification == "EXIT_QUALIFICATION_EPT_VIOLATION")
        #expect(vmx.exitReasons.first { $0.number == 26 }?.linuxName == "VMOFF")
        #expect(vmx.exitReasons.first { $0.number == 4 }?.linuxName == nil)
    }

    @Test func migrationRulesNameRealRegisters() throws {
        let specs = try realSpecs()
        let mig = try #require(specs.migration)
        #expect(
            mig.stateKeys.sorted() == [
                "cr0", "cr3", "cr4", "cstar", "ds_area", "efer", "fs_base", "gdtr_base", "gs_base", "idtr_base",
                "kernel_gs_base", "ldtr_base", "lstar", "pkru", "sysenter_eip", "sysenter_esp", "tr_base", "xcr0",
            ])
        for r in mig.canonicalRegisters {
            #expect(specs.register(r.name)?.width == 64, "\(r.name)")
            #expect(r.width == .static)
            let truncated = r.stateKey.hasPrefix("sysenter_")
            #expect(r.outcome == (truncated ? .truncated : .refused), "\(r.stateKey)")
        }
        #expect(specs.register("IA32_FS_BASE")?.msr == 0xC000_0100)
        #expect(specs.register("IA32_LSTAR")?.msr == 0xC000_0082)
        #expect(specs.register("IA32_SYSENTER_EIP")?.msr == 0x176)
        #expect(mig.gatedRegisters.map(\.value) == ["CR4", "EFER", "XCR0"])
        #expect(mig.widths.map(\.id) == ["phys-width", "linear-width"])
        #expect(mig.wideLinearFeature.value == "la57")
        #expect(mig.linearWidths.narrow == 48 && mig.linearWidths.wide == 57)
    }

    /// A broken migration spec is reported at the line and column of the mistake.
    @Test func migrationSpecErrorsAreLocated() throws {
        let bad = """
            migration:
              canonical-registers:
                fs_base: {register: IA32_FS_BASEX, width: static, non-canonical: refused}
              state-registers: {cr4: CR4}
              gated-registers: [CR4]
              wide-linear-feature: la58
              narrow-linear-bits: 48
              wide-linear-bits: 57
            """
        let result = try loadSpecs(adding: "bad/migration.yaml", bad, replacing: "hazards/migration.yaml")
        #expect(result.specs == nil)
        let errors = result.diagnostics.filter { $0.severity == .error }.map(\.headline)
        #expect(
            errors.contains {
                $0.hasPrefix("bad/migration.yaml:3:5: error:") && $0.contains("IA32_FS_BASEX")
                    && $0.contains("did you mean 'IA32_FS_BASE'")
            },
            "\(errors)")
        #expect(errors.contains { $0.hasPrefix("bad/migration.yaml:6:24: error:") && $0.contains("la58") }, "\(errors)")
    }
}
