import Foundation
import SpecParser
import Testing

/// Paths inside the repository, found from this file's location.
enum Repo {
    /// The repository root: three levels above `Tests/SpecParserTests/Support/`.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// `specs/`.
    static let specs = root.appendingPathComponent("specs").path
    /// `Tests/SpecParserTests/Fixtures/invalid/`.
    static let invalidFixtures = root.appendingPathComponent("Tests/SpecParserTests/Fixtures/invalid").path
    /// `docs/spec.schema.json`.
    static let schema = root.appendingPathComponent("docs/spec.schema.json").path

    /// Every `.yaml` file under `specs/`, sorted.
    static var specFiles: [String] {
        var collector = DiagnosticCollector()
        return SpecLoader.specFiles(in: [specs], diagnostics: &collector)
    }
}

/// Loads in-memory spec files, named `name.yaml` in the order given.
func load(_ files: [(String, String)]) -> SpecLoader.Result {
    SpecLoader().load(sources: files.map { ($0.0, Array($0.1.utf8)) })
}

/// Loads one in-memory spec file together with the real `specs/` directory's files.
func loadWithRealSpecs(_ name: String, _ text: String) -> SpecLoader.Result {
    var sources: [(String, [UInt8])] = Repo.specFiles.compactMap { path in
        FileManager.default.contents(atPath: path).map { (path, [UInt8]($0)) }
    }
    sources.append((name, Array(text.utf8)))
    return SpecLoader().load(sources: sources)
}

/// The diagnostics' headlines, for readable failure messages.
func headlines(_ diagnostics: [Diagnostic]) -> String {
    diagnostics.isEmpty ? "(none)" : diagnostics.map(\.description).joined(separator: "\n")
}

/// A temporary directory, removed by `cleanUp()`.
struct TemporaryDirectory {
    /// Its path.
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("specc-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` inside the directory and returns the file's path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// Removes the directory and everything in it.
    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// A small deterministic generator (SplitMix64), so that "random" inputs are the same every run.
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

/// A spec position; `Testing` has a `SourceLocation` of its own.
typealias SourceLocation = SpecParser.SourceLocation
