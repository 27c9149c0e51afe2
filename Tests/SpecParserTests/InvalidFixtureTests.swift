import Foundation
import SpecParser
import Testing

/// One negative fixture: a file `err_<what>.yaml`, or a directory `err_<what>/` whose files are
/// loaded together (for mistakes that span files). Each file names the errors it must produce in
/// leading comment lines `# expect: <line>:<column>: error: <message>`.
struct InvalidFixture: Sendable, CustomTestStringConvertible {
    /// One expected diagnostic.
    struct Expectation: Sendable, Hashable, CustomStringConvertible {
        var file: String
        var line: Int
        var column: Int
        var message: String
        var description: String { "\(file):\(line):\(column): error: \(message)" }
    }

    /// The file or directory, as passed to the loader.
    var path: String
    /// The fixture's name (`err_alias.yaml`).
    var name: String
    /// The spec files it consists of.
    var files: [String]

    var testDescription: String { name }

    /// Every fixture in `Fixtures/invalid`, sorted by name.
    static let all: [InvalidFixture] = {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: Repo.invalidFixtures)) ?? []).filter { $0.hasPrefix("err_") }
        return names.sorted().map { name in
            let path = (Repo.invalidFixtures as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            _ = fm.fileExists(atPath: path, isDirectory: &isDirectory)
            let files =
                isDirectory.boolValue
                ? ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
                    .map { (path as NSString).appendingPathComponent($0) }
                : [path]
            return InvalidFixture(path: path, name: name, files: files)
        }
    }()

    /// The `# expect:` lines of every file. Malformed lines are returned in `malformed`.
    func expectations() -> (expected: [Expectation], malformed: [String]) {
        var expected: [Expectation] = []
        var malformed: [String] = []
        for file in files {
            let text = (FileManager.default.contents(atPath: file)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) where line.hasPrefix("# expect:")
            {
                if let e = Self.parse(line.dropFirst("# expect:".count), file: file) {
                    expected.append(e)
                } else {
                    malformed.append("\(file): \(line)")
                }
            }
        }
        return (expected, malformed)
    }

    /// Parses ` 12:7: error: message`.
    static func parse(_ text: Substring, file: String) -> Expectation? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 2)
        guard parts.count == 3, let line = Int(parts[0]), let column = Int(parts[1]) else { return nil }
        let rest = parts[2]
        guard rest.hasPrefix(" error: ") else { return nil }
        return Expectation(file: file, line: line, column: column, message: String(rest.dropFirst(" error: ".count)))
    }
}

@Suite("Invalid fixtures: one mistake each, reported at its exact line and column")
struct InvalidFixtureTests {
    @Test("the corpus has at least 45 single-file fixtures, each naming its diagnostic")
    func corpus() {
        let singleFiles = InvalidFixture.all.filter { $0.name.hasSuffix(".yaml") }
        #expect(singleFiles.count >= 45)
        for fixture in InvalidFixture.all {
            let (expected, malformed) = fixture.expectations()
            #expect(!expected.isEmpty, "\(fixture.name) has no '# expect:' line")
            #expect(malformed.isEmpty, "malformed expect lines: \(malformed)")
        }
    }

    @Test("the fixture produces exactly its expected errors, loaded with specs/", arguments: InvalidFixture.all)
    func fixture(_ fixture: InvalidFixture) {
        let (expected, _) = fixture.expectations()
        let result = SpecLoader().load(paths: [Repo.specs, fixture.path])
        let errors = result.diagnostics.filter { $0.severity == .error }
        let actual = Set(
            errors.compactMap { d -> InvalidFixture.Expectation? in
                guard let l = d.location else { return nil }
                return InvalidFixture.Expectation(file: l.file, line: l.line, column: l.column, message: d.message)
            })
        for e in expected {
            #expect(actual.contains(e), "missing: \(e)\nreported:\n\(headlines(errors))")
        }
        let unexpected = errors.filter { d in
            guard let l = d.location else { return true }
            return !expected.contains(.init(file: l.file, line: l.line, column: l.column, message: d.message))
        }
        #expect(unexpected.isEmpty, "unexpected errors:\n\(headlines(unexpected))")
        #expect(result.specs == nil, "a fixture with errors must not produce a model")
    }
}
