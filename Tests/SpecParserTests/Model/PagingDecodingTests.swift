import SpecParser
import Testing

@Suite("Decoding paging formats")
struct PagingDecodingTests {
    let specs: SpecSet

    init() throws {
        let result = ToySpecs.load()
        #expect(result.diagnostics.isEmpty, "\(headlines(result.diagnostics))")
        specs = try #require(result.specs)
    }

    /// The value of each name in a rule, from a table; unknown names are 0.
    func lookup(_ values: [String: UInt64]) -> (String) -> UInt64 { { values[$0] ?? 0 } }

    @Test("format keys: title, source, family, enabled-when, widths, entry, root")
    func formatKeys() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(f.title == "A two-level toy format")
        #expect(f.source == "test")
        #expect(f.family == .guest)
        #expect(f.extends == nil)
        #expect(f.addressBits == 30)
        #expect(f.canonical)
        #expect(f.physicalAddressLimit == 48)
        #expect(f.entryLayout == "toy-entry")
        #expect(f.root.value == "TCR.base")
        #expect(f.root.location == SourceLocation(file: "toy/toy2.yaml", line: 10, column: 7))
        #expect(f.location == SourceLocation(file: "toy/toy2.yaml", line: 1, column: 16))
        #expect(f.files == ["toy/toy2.yaml"])
        let enabled = try #require(f.enabledWhen)
        #expect(enabled.text == "TCR.EN && (TCR.MODE == 2 || TCR.MODE in [0]) && !TCR.WIDE")
        #expect(enabled.expression.names == ["TCR.EN", "TCR.MODE", "TCR.WIDE"])
        #expect(enabled.expression.holds(lookup(["TCR.EN": 1, "TCR.MODE": 2])))
        #expect(enabled.expression.holds(lookup(["TCR.EN": 1, "TCR.MODE": 0])))
        #expect(!enabled.expression.holds(lookup(["TCR.EN": 1, "TCR.MODE": 3])))
        #expect(!enabled.expression.holds(lookup(["TCR.EN": 1, "TCR.MODE": 2, "TCR.WIDE": 1])))
        #expect(!enabled.expression.holds(lookup(["TCR.MODE": 2])))
    }

    @Test("present, misconfigured, leaf-misconfigured and accessed-dirty-when rules")
    func entryRules() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(f.present.text == "P || (MT != 0 && cpuid.toy1g)")
        #expect(f.present.expression.holds(lookup(["P": 1])))
        #expect(f.present.expression.holds(lookup(["MT": 6, "cpuid.toy1g": 1])))
        #expect(!f.present.expression.holds(lookup(["MT": 6])))
        #expect(f.misconfigured.map(\.text) == ["W && !P"])
        #expect(f.leafMisconfigured.count == 1)
        let mt = try #require(f.leafMisconfigured.first)
        #expect(mt.expression == .member(.name("MT", mt.location), [2, 3, 7]))
        #expect(mt.expression.holds(lookup(["MT": 7])))
        #expect(!mt.expression.holds(lookup(["MT": 6])))
        #expect(f.accessedDirtyWhen?.text == "TCR.PROT")
    }

    @Test("format-level reserved bits: above-maxphyaddr, ranges, fields, conditions")
    func reserved() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(
            f.reserved.map(\.bits) == [
                .aboveMaxPhysicalAddress, .range(BitRange(high: 58, low: 52)), .field("NX"), .range(BitRange(bit: 11)),
            ])
        #expect(f.reserved.map { $0.when?.text } == [nil, nil, "!TCR.NXE", "TCR.PROT"])
        #expect(f.reserved[1].location == SourceLocation(file: "toy/toy2.yaml", line: 14, column: 5))
    }

    @Test("levels: names, index slices, leaf-when, reserved kinds, leaf-address pieces, entry layouts")
    func levels() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(f.levels.map(\.name) == ["PDE", "PTE"])
        let pde = f.levels[0]
        #expect(pde.index == BitRange(high: 29, low: 21))
        #expect(pde.pageShift == 21)
        #expect(pde.entryLayout == nil)
        #expect(pde.leafWhen?.text == "L && cpuid.toypse")
        #expect(pde.reserved.map(\.bits) == [.field("L")])
        #expect(pde.reserved.first?.when?.text == "!cpuid.toy1g")
        #expect(pde.leafReserved.map(\.bits) == [.range(BitRange(high: 20, low: 13))])
        #expect(pde.tableReserved.map(\.bits) == [.range(BitRange(high: 10, low: 8))])
        #expect(pde.leafAddress.map(\.from) == [BitRange(high: 51, low: 21), BitRange(high: 20, low: 13)])
        #expect(pde.leafAddress.map(\.to) == [BitRange(high: 51, low: 21), BitRange(high: 59, low: 52)])
        #expect(pde.leafAddress.map(\.requires) == [nil, "toypse"])
        #expect(!pde.loadedWithRoot)
        #expect(pde.location == SourceLocation(file: "toy/toy2.yaml", line: 22, column: 5))
        let pte = f.levels[1]
        #expect(pte.index == BitRange(high: 20, low: 12))
        #expect(pte.pageShift == 12)
        #expect(pte.entryLayout == "toy-entry")
        #expect(pte.leafWhen == nil)
        #expect(pte.leafAddress.isEmpty)
    }

    @Test("rights fold with all or none")
    func rights() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(f.rights.map(\.name) == ["writable", "user", "executable"])
        #expect(f.rights.map(\.fold) == [RightRule.Fold.all, .all, RightRule.Fold.none])
        #expect(f.rights.map(\.field) == ["W", "U", "NX"])
    }

    @Test("faults with sets and why; protection keys")
    func faults() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(f.faults.count == 3)
        #expect(f.faults[0].why == "user access to a supervisor page")
        #expect(f.faults[1].why == "")
        #expect(f.faults[2].sets == ["PK"])
        let write = f.faults[1].when.expression
        #expect(write.holds(lookup(["access.write": 1, "access.user": 1])))
        #expect(!write.holds(lookup(["access.write": 1, "writable": 1, "access.user": 1])))
        #expect(!write.holds(lookup(["access.write": 1])))
        #expect(write.holds(lookup(["access.write": 1, "TCR.WP": 1])))
        let pk = try #require(f.protectionKeys)
        #expect(pk.field == "KEY")
        #expect(pk.userRegister == "TKEYS")
        #expect(pk.supervisorRegister == "TKEYS")
        #expect(pk.pageIsUser == "user")
    }

    @Test("root checks and root-reserved bits")
    func root() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(f.rootChecks.map(\.invalidWhen.text) == ["TCR.MODE == 7"])
        #expect(f.rootChecks.map(\.why) == ["mode 7 is reserved"])
        #expect(f.rootChecks.first?.invalidWhen.expression.holds { $0 == "TCR.MODE" ? 7 : 0 } == true)
        #expect(f.rootReserved.map(\.bits) == [.range(BitRange(high: 11, low: 6)), .aboveMaxPhysicalAddress])
    }

    @Test("the report register and one rule per flag, in spec order")
    func report() throws {
        let f = try #require(specs.format("toy-2level"))
        #expect(f.report.register.value == "TERR")
        #expect(f.report.flags.map(\.field) == ["P", "W", "U", "RSVD", "I", "PK"])
        #expect(
            f.report.flags.map(\.rule.text) == [
                "!fault.not-present", "access.write", "access.user", "fault.reserved", "access.fetch && TCR.NXE",
                "fault.PK",
            ])
        // A quoted rule is located at its first character, after the quote.
        #expect(
            f.report.flags[0].rule.expression.nameLocations.first?.1
                == SourceLocation(file: "toy/toy2.yaml", line: 47, column: 10))
    }

    @Test("extends: the child's keys replace the parent's; levels-above adds levels on top")
    func extends() throws {
        let child = try #require(specs.format("toy-3level"))
        let parent = try #require(specs.format("toy-2level"))
        #expect(child.extends?.value == "toy-2level")
        #expect(child.title == "The toy format with a third level")
        #expect(child.source == "test")
        #expect(child.addressBits == 39)
        #expect(child.enabledWhen?.text == "TCR.EN && TCR.MODE == 3")
        #expect(child.levels.map(\.name) == ["PDPTE", "PDE", "PTE"])
        #expect(child.levels[0].index == BitRange(high: 38, low: 30))
        #expect(child.levels[0].reserved.map(\.bits) == [.field("L"), .aboveMaxPhysicalAddress])
        #expect(child.levels[0].reserved.map { $0.when?.text } == [nil, "TCR.PROT"])
        #expect(child.rootChecks.map(\.why) == ["mode 7 is reserved"])
        #expect(child.rights.map(\.name) == parent.rights.map(\.name))
        #expect(child.faults.count == parent.faults.count)
        #expect(child.report.flags.map(\.field) == parent.report.flags.map(\.field))
        #expect(child.root.value == "TCR.base")
        #expect(child.files == ["toy/toy3.yaml", "toy/toy2.yaml"])
        #expect(child.location.file == "toy/toy3.yaml")
    }

    @Test("a child that gives 'levels' replaces the parent's levels and its levels-above")
    func extendsReplacingLevels() throws {
        let grandchild = """
            paging-format: toy-flat
            extends: toy-3level
            address-bits: 21
            levels: [{name: PTE, index: "20:12"}]
            """
        let result = load(ToySpecs.files + [("toy/flat.yaml", grandchild)])
        #expect(result.diagnostics.isEmpty, "\(headlines(result.diagnostics))")
        let flat = try #require(result.specs?.format("toy-flat"))
        #expect(flat.levels.map(\.name) == ["PTE"])
        #expect(flat.files == ["toy/flat.yaml", "toy/toy3.yaml", "toy/toy2.yaml"])
    }

    @Test("an EPT family format with loaded-with-root levels and a level entry layout")
    func eptFamily() throws {
        let ept = """
            paging-format: toy-ept
            extends: toy-2level
            family: ept
            root: TCR.base
            levels:
              - {name: PDE, index: "29:21", entry: toy-root-entry, loaded-with-root: true}
              - {name: PTE, index: "20:12"}
            """
        let result = load(ToySpecs.files + [("toy/ept.yaml", ept)])
        #expect(result.diagnostics.isEmpty, "\(headlines(result.diagnostics))")
        let f = try #require(result.specs?.format("toy-ept"))
        #expect(f.family == .ept)
        #expect(f.levels[0].loadedWithRoot)
        #expect(f.levels[0].entryLayout == "toy-root-entry")
        #expect(f.levels[1].entryLayout == nil)
    }
}
