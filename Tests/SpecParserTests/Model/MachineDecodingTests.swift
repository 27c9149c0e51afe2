import SpecParser
import Testing

@Suite("Decoding CPU models, VMX exit reasons and migration rules")
struct MachineDecodingTests {
    static let machine = """
        registers:
          TEXIT:
            width: 32
            fields: {basic-reason: {bits: "15:0"}, entry-failure: {bit: 31}}
        vmx:
          exit-reason-layout: TEXIT
          exit-reasons:
            - {number: 2, name: TOY_HALT}
            - {number: 0, name: TOY_FAULT, linux: TOY_FAULT, qualification: TERR}
        migration:
          canonical-registers:
            root: {register: TCR, width: static, non-canonical: refused}
          state-registers: {tcr: TCR}
          widths-must-not-shrink: {phys-width: maxphyaddr, linear-width: linear-address-bits}
          gated-registers: [TCR]
          wide-linear-feature: toywide
          narrow-linear-bits: 48
          wide-linear-bits: 57
        """

    static let cpu = """
        cpu-model: Toy-CPU
        title: A toy processor
        source: test
        vendor: GenuineToy
        family: 6
        model: 0x55
        stepping: 4
        maxphyaddr: 46
        linear-address-bits: 57
        features: [toywide, toy1g]
        vmx:
          ept-page-walk-lengths: [4, 5]
          ept-execute-only: true
          ept-2m-pages: true
          ept-1g-pages: false
          ept-accessed-dirty: true
          ept-advanced-exit-info: false
          mode-based-execute: true
          ept-memory-types: [UC, WB]
        """

    let specs: SpecSet

    init() throws {
        let result = load(ToySpecs.files + [("toy/machine.yaml", Self.machine), ("toy/cpu.yaml", Self.cpu)])
        #expect(result.diagnostics.isEmpty, "\(headlines(result.diagnostics))")
        specs = try #require(result.specs)
    }

    @Test("a CPU model: identity, widths, features, VMX capabilities")
    func cpuModel() throws {
        let m = try #require(specs.cpuModel("toy-cpu"))
        #expect(m.name == "Toy-CPU")
        #expect(m.title == "A toy processor")
        #expect(m.vendor == "GenuineToy")
        #expect([m.family, m.model, m.stepping] == [6, 0x55, 4])
        #expect(m.maxPhysicalAddressBits.value == 46)
        #expect(m.linearAddressBits.value == 57)
        #expect(m.features.map(\.value) == ["toy1g", "toywide"])
        #expect(m.has("toywide"))
        #expect(m.vmx.eptPageWalkLengths == [4, 5])
        #expect(m.vmx.executeOnly && m.vmx.pages2M && !m.vmx.pages1G && m.vmx.accessedDirty)
        #expect(!m.vmx.advancedExitInfo && m.vmx.modeBasedExecute)
        #expect(m.vmx.memoryTypes == ["UC", "WB"])
        #expect(m.location == SourceLocation(file: "toy/cpu.yaml", line: 1, column: 12))
    }

    @Test("VMX exit reasons, sorted by number, with qualification layouts")
    func exitReasons() throws {
        let vmx = try #require(specs.vmx)
        #expect(vmx.exitReasonLayout.value == "TEXIT")
        #expect(vmx.exitReasons.map(\.number) == [0, 2])
        #expect(vmx.exitReasons.map(\.name) == ["TOY_FAULT", "TOY_HALT"])
        #expect(vmx.exitReasons.map(\.linuxName) == ["TOY_FAULT", nil])
        #expect(vmx.exitReasons.map(\.qualification) == ["TERR", nil])
    }

    @Test("migration rules: canonical registers, state keys, widths, gated registers")
    func migration() throws {
        let m = try #require(specs.migration)
        #expect(m.canonicalRegisters.map(\.stateKey) == ["root"])
        #expect(m.canonicalRegisters.first?.name == "TCR")
        #expect(m.canonicalRegisters.first?.width == .static)
        #expect(m.canonicalRegisters.first?.outcome == .refused)
        #expect(m.stateKeys == ["root", "tcr"])
        #expect(m.widths.map(\.property) == ["maxphyaddr", "linear-address-bits"])
        #expect(m.gatedRegisters.map(\.value) == ["TCR"])
        #expect(m.wideLinearFeature.value == "toywide")
        #expect(m.linearWidths.narrow == 48)
        #expect(m.linearWidths.wide == 57)
    }

    @Test("the machine specs satisfy the schema")
    func schema() {
        var checker = SchemaChecker()
        for text in [Self.machine, Self.cpu] {
            var d = DiagnosticCollector()
            if let root = YAMLReader().read(bytes: Array(text.utf8), file: "m.yaml", diagnostics: &d) {
                checker.check(file: root)
            }
        }
        #expect(checker.problems.isEmpty, "\(checker.problems)")
    }
}
