import Foundation
import MigrationCheck
import SpecParser
import Testing

/// Paths of the repository, the test fixtures and the shared CPUID dumps, found from this file.
enum Paths {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = tests.appendingPathComponent("Fixtures")
    static let repository = tests.deletingLastPathComponent().deletingLastPathComponent()
    static let specs = repository.appendingPathComponent("specs")
    /// `shared/data/cpuid/`, which every checkout has beside the repository (shared/README.md).
    static let dumps = repository.deletingLastPathComponent().appendingPathComponent("shared/data/cpuid")
    static func fixture(_ path: String) -> URL { fixtures.appendingPathComponent(path) }
}

/// The repository's specs, loaded once; with the test-only models of `Fixtures/cpus/` when asked.
enum Specs {
    static let real: SpecSet? = load([Paths.specs.path])
    static let withFixtures: SpecSet? = load([Paths.specs.path, Paths.fixture("cpus").path])

    static func load(_ paths: [String]) -> SpecSet? {
        let result = SpecLoader().load(paths: paths)
        for d in result.diagnostics where d.severity == .error { print(d) }
        return result.specs
    }
}

/// The specs, or a recorded failure that names the problem.
func realSpecs(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> SpecSet {
    try #require(Specs.real, "specs/ does not load without errors; run `specc check`", sourceLocation: sourceLocation)
}

func fixtureSpecs(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> SpecSet {
    try #require(Specs.withFixtures, "specs/ plus Fixtures/cpus/ do not load", sourceLocation: sourceLocation)
}

/// A model of the specs as a description.
func model(_ name: String, in specs: SpecSet) throws -> CPUModelDescription {
    CPUModelDescription(try specs.requireCPUModel(name))
}

/// The five models the contract requires.
let contractModels = ["Skylake-Server", "Cascadelake-Server", "Icelake-Server", "SapphireRapids", "GraniteRapids"]

/// The real specs plus one extra in-memory file, as the spec loader reads them; a real file whose
/// path ends with `replacing` is left out.
func loadSpecs(adding file: String, _ text: String, replacing: String? = nil) throws -> SpecLoader.Result {
    var sources: [(String, [UInt8])] = []
    var ignored = DiagnosticCollector()
    for path in SpecLoader.specFiles(in: [Paths.specs.path], diagnostics: &ignored) {
        if let replacing, path.hasSuffix(replacing) { continue }
        sources.append((path, [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))))
    }
    sources.append((file, Array(text.utf8)))
    return SpecLoader().load(sources: sources)
}
