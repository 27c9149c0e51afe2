import SpecParser
import Testing

@Suite("The real specs/ directory")
struct RealSpecsTests {
    @Test("loads with zero diagnostics")
    func loadsClean() throws {
        let result = SpecLoader().load(paths: [Repo.specs])
        #expect(result.diagnostics.isEmpty, "\(headlines(result.diagnostics))")
        let specs = try #require(result.specs)
        #expect(specs.files.count == Repo.specFiles.count)
        #expect(!specs.formats.isEmpty)
        #expect(!specs.registers.isEmpty)
        #expect(!specs.features.isEmpty)
    }

    @Test("every format's levels tile its address down to bit 12, and every rule resolves")
    func formatsAreConsistent() throws {
        let specs = try #require(SpecLoader().load(paths: [Repo.specs]).specs)
        for f in specs.formats {
            var high = f.addressBits - 1
            for level in f.levels {
                #expect(level.index.high == high, "\(f.name) \(level.name)")
                high = level.index.low - 1
            }
            #expect(high == 11, "\(f.name)")
            #expect(specs.layout(f.entryLayout) != nil)
            #expect(specs.register(f.report.register.value) != nil)
        }
    }

    @Test("extends reuses the parent: every child's files end with its parent's")
    func extendsChains() throws {
        let specs = try #require(SpecLoader().load(paths: [Repo.specs]).specs)
        for f in specs.formats {
            guard let parent = f.extends.flatMap({ specs.format($0.value) }) else { continue }
            #expect(Array(f.files.dropFirst()) == parent.files, "\(f.name)")
        }
    }

    @Test("loading the specs twice gives the same model order")
    func deterministic() throws {
        let a = try #require(SpecLoader().load(paths: [Repo.specs]).specs)
        let b = try #require(SpecLoader().load(paths: [Repo.specs]).specs)
        #expect(a.formats.map(\.name) == b.formats.map(\.name))
        #expect(a.registers.map(\.name) == b.registers.map(\.name))
        #expect(a.features.map(\.name) == b.features.map(\.name))
    }
}
