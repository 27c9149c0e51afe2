import SpecParser
import Testing

@Suite("Decoding CPUID features, registers and entry layouts")
struct RegisterDecodingTests {
    let specs: SpecSet

    init() throws {
        let result = ToySpecs.load()
        #expect(result.diagnostics.isEmpty, "\(headlines(result.diagnostics))")
        specs = try #require(result.specs)
    }

    @Test("CPUID features: leaf, optional subleaf, register, bit, title, location")
    func features() throws {
        #expect(specs.features.map(\.name) == ["toy1g", "toypse", "toywide"])
        let big = try #require(specs.feature("toy1g"))
        #expect(big.leaf == 0x8000_0001)
        #expect(big.subleaf == nil)
        #expect(big.register == "edx")
        #expect(big.bit == 26)
        #expect(big.title == "Toy 1 GiB pages")
        #expect(big.location == SourceLocation(file: "toy/features.yaml", line: 4, column: 5))
        let wide = try #require(specs.feature("toywide"))
        #expect(wide.leaf == 7)
        #expect(wide.subleaf == 0)
        #expect(wide.register == "ecx")
        #expect(wide.title == "")
        // Integers may be written in binary, octal, hex or decimal, with '_' between digits.
        #expect(specs.feature("toypse")?.leaf == 1)
    }

    @Test("CPUID fields: multi-bit values")
    func cpuidFields() throws {
        let field = try #require(specs.cpuidField("toywidth"))
        #expect(field.leaf == 0x8000_0008)
        #expect(field.register == "eax")
        #expect(field.bits == BitRange(high: 7, low: 0))
        #expect(field.title == "Toy width")
    }

    @Test("registers: width, msr, reserved bits, title, location")
    func register() throws {
        #expect(specs.registers.map(\.name) == ["TCR", "TERR", "TKEYS"])
        let tcr = try #require(specs.register("TCR"))
        #expect(tcr.title == "Toy control register")
        #expect(tcr.width == 64)
        #expect(tcr.msr == 0xC000_0080)
        #expect(tcr.reserved == [BitRange(high: 63, low: 40), BitRange(bit: 39)])
        #expect(tcr.location == SourceLocation(file: "toy/registers.yaml", line: 2, column: 3))
        #expect(specs.register("TERR")?.msr == nil)
        #expect(specs.register("TERR")?.width == 32)
    }

    @Test("register fields: bit, bits, requires, values, overlaps; sorted by bit")
    func registerFields() throws {
        let tcr = try #require(specs.register("TCR"))
        #expect(tcr.fields.map(\.name) == ["EN", "WP", "PROT", "KEYS", "NXE", "WIDE", "MODE", "ID", "base"])
        let en = try #require(tcr.field("EN"))
        #expect(en.bits == BitRange(bit: 0))
        #expect(en.title == "Enable paging")
        #expect(en.requires == nil)
        #expect(en.location == SourceLocation(file: "toy/registers.yaml", line: 8, column: 7))
        let wide = try #require(tcr.field("WIDE"))
        #expect(wide.requires?.value == "toywide")
        #expect(wide.requires?.location == SourceLocation(file: "toy/registers.yaml", line: 13, column: 32))
        let mode = try #require(tcr.field("MODE"))
        #expect(mode.bits == BitRange(high: 10, low: 8))
        #expect(mode.bits.mask == 0x700)
        #expect(mode.bits.width == 3)
        #expect(mode.values.map(\.name) == ["two", "three"])
        #expect(mode.values.map(\.value) == [2, 3])
        #expect(tcr.field("ID")?.overlaps == ["base"])
        #expect(tcr.field("base")?.overlaps == [])
        #expect(tcr.field("base")?.bits.mask == 0x7F_FFFF_F000)
    }

    @Test("entry layouts: size, fields, roles")
    func layouts() throws {
        #expect(specs.layouts.map(\.name) == ["toy-entry", "toy-root-entry"])
        let entry = try #require(specs.layout("toy-entry"))
        #expect(entry.size == 8)
        #expect(entry.fields.map(\.name) == ["P", "W", "U", "A", "D", "L", "MT", "address", "KEY", "NX"])
        #expect(entry.field(role: .address)?.bits == BitRange(high: 51, low: 12))
        #expect(entry.field(role: .accessed)?.name == "A")
        #expect(entry.field(role: .dirty)?.name == "D")
        #expect(entry.field(role: .protectionKey)?.bits == BitRange(high: 62, low: 59))
        #expect(entry.field("P")?.title == "Present")
        #expect(entry.field("P")?.role == nil)
        #expect(entry.field("NX")?.bits == BitRange(bit: 63))
        let root = try #require(specs.layout("toy-root-entry"))
        #expect(root.size == 4)
        #expect(root.field(role: .address)?.bits == BitRange(high: 31, low: 12))
    }

    @Test("files are listed sorted")
    func files() {
        #expect(specs.files == ["toy/features.yaml", "toy/registers.yaml", "toy/toy2.yaml", "toy/toy3.yaml"])
    }
}
