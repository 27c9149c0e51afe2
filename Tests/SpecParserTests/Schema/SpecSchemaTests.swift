import Foundation
import SpecParser
import Testing

/// Checks a YAML node tree against ``SpecSchema`` with specc's own scalar typing, so the schema
/// is tested against the decoders' view of the specs rather than an editor's.
struct SchemaChecker {
    var problems: [String] = []

    mutating func check(file root: YAMLNode) {
        let keys = root.pairs?.map(\.key) ?? []
        check(root, against: SpecSchema.kind(of: keys), path: "")
    }

    mutating func fail(_ node: YAMLNode, _ path: String, _ message: String) {
        problems.append("\(node.location) \(path): \(message)")
    }

    mutating func check(_ node: YAMLNode, against schema: SchemaNode, path: String) {
        switch schema.shape {
        case .object(let properties, let alternatives, let exclusive):
            guard let pairs = node.pairs else { return fail(node, path, "expected a mapping") }
            for pair in pairs {
                guard let p = properties.first(where: { $0.name == pair.key }) else {
                    fail(node, path, "unknown key '\(pair.key)'")
                    continue
                }
                check(pair.value, against: p.node, path: path + "." + pair.key)
            }
            for p in properties where p.required && !pairs.contains(where: { $0.key == p.name }) {
                fail(node, path, "missing '\(p.name)'")
            }
            if !alternatives.isEmpty {
                let present = alternatives.filter { set in set.allSatisfy { key in pairs.contains { $0.key == key } } }
                if present.isEmpty || (exclusive && present.count > 1) {
                    fail(node, path, "needs \(exclusive ? "exactly" : "at least") one of \(alternatives)")
                }
            }
        case .map(let value):
            guard let pairs = node.pairs else { return fail(node, path, "expected a mapping") }
            for pair in pairs { check(pair.value, against: value, path: path + "." + pair.key) }
        case .array(let items):
            guard let list = node.items else { return fail(node, path, "expected a sequence") }
            for (i, item) in list.enumerated() { check(item, against: items, path: path + "[\(i)]") }
        case .oneOrMany(let item):
            for (i, element) in (node.items ?? [node]).enumerated() {
                check(element, against: item, path: path + "[\(i)]")
            }
        case .anyOf(let options):
            for option in options {
                var trial = SchemaChecker()
                trial.check(node, against: option, path: path)
                if trial.problems.isEmpty { return }
            }
            fail(node, path, "matches none of the alternatives")
        case .string(let choices):
            guard let s = node.scalar else { return fail(node, path, "expected a string") }
            if let choices, !choices.contains(s) { fail(node, path, "'\(s)' is not one of \(choices)") }
        case .integer(let range):
            guard case .scalar(let s, false) = node.kind, let n = SpecScalar.parseInteger(s), range.contains(n) else {
                return fail(node, path, "expected an integer in \(range)")
            }
        case .integerChoice(let choices):
            guard case .scalar(let s, false) = node.kind, let n = SpecScalar.parseInteger(s), choices.contains(n) else {
                return fail(node, path, "expected one of \(choices)")
            }
        case .boolean:
            guard case .scalar(let s, false) = node.kind, s == "true" || s == "false" else {
                return fail(node, path, "expected true or false")
            }
        case .bits(let width):
            guard let s = node.scalar, let r = SpecScalar.parseBitRange(s), r.low >= 0, r.high >= r.low, r.high < width
            else { return fail(node, path, "expected a bit range below \(width)") }
        case .rule:
            if node.scalar == nil { fail(node, path, "expected a rule") }
        }
    }
}

@Suite("The spec language's JSON Schema")
struct SpecSchemaTests {
    /// Checks every file against the schema; returns the problems.
    func schemaProblems(_ files: [(String, [UInt8])]) -> [String] {
        var checker = SchemaChecker()
        for (name, bytes) in files {
            var d = DiagnosticCollector()
            guard let root = YAMLReader().read(bytes: bytes, file: name, diagnostics: &d) else {
                checker.problems.append("\(name): unreadable")
                continue
            }
            checker.check(file: root)
        }
        return checker.problems
    }

    @Test("docs/spec.schema.json is the output of `specc schema`")
    func checkedInSchemaIsCurrent() throws {
        let data = try #require(FileManager.default.contents(atPath: Repo.schema), "docs/spec.schema.json is missing")
        let checkedIn = String(decoding: data, as: UTF8.self)
        #expect(
            checkedIn == SpecSchema.jsonText,
            "docs/spec.schema.json is out of date; regenerate it with `swift run specc schema > docs/spec.schema.json`")
    }

    @Test("the schema is valid JSON with a draft-07 $schema and all three kinds of file")
    func wellFormed() throws {
        let object = try JSONSerialization.jsonObject(with: Data(SpecSchema.jsonText.utf8)) as? [String: Any]
        #expect(object?["$schema"] as? String == "http://json-schema.org/draft-07/schema#")
        #expect(SpecSchema.kinds.map(\.key) == ["paging-format", "cpu-model", ""])
        let collection = SpecSchema.kind(of: ["registers"])
        #expect(
            Set(collection.properties.map(\.name)) == [
                "source", "title", "cpuid", "registers", "entry-layouts", "vmx", "migration",
            ])
        #expect(SpecSchema.kind(of: ["paging-format"]).property("levels-above") != nil)
        #expect(SpecSchema.kind(of: ["cpu-model"]).property("features") != nil)
        // Every key has a description.
        func described(_ node: SchemaNode) -> Bool {
            guard !node.description.isEmpty else { return false }
            switch node.shape {
            case .object(let properties, _, _): return properties.allSatisfy { described($0.node) }
            case .map(let value): return described(value)
            case .array(let items), .oneOrMany(let items): return described(items)
            case .anyOf(let options): return options.allSatisfy(described)
            default: return true
            }
        }
        #expect(SpecSchema.kinds.allSatisfy { described($0.node) })
    }

    @Test("every spec in specs/ satisfies the schema")
    func realSpecsSatisfySchema() {
        let files = Repo.specFiles.compactMap { path in
            FileManager.default.contents(atPath: path).map { (path, [UInt8]($0)) }
        }
        #expect(!files.isEmpty)
        let problems = schemaProblems(files)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("the toy specs, which use every construct, satisfy the schema")
    func toySpecsSatisfySchema() {
        let problems = schemaProblems(ToySpecs.files.map { ($0.0, Array($0.1.utf8)) })
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("the schema flags the unknown keys that the decoders flag")
    func schemaFlagsUnknownKeys() {
        let fixtures = InvalidFixture.all.filter { fixture in
            fixture.expectations().expected.contains {
                $0.message.hasPrefix("unknown key") || $0.message.hasPrefix("unknown spec kind")
            }
        }
        #expect(fixtures.count >= 4)
        for fixture in fixtures {
            let files = fixture.files.compactMap { path in
                FileManager.default.contents(atPath: path).map { (path, [UInt8]($0)) }
            }
            #expect(!schemaProblems(files).isEmpty, "\(fixture.name) passes the schema")
        }
    }

    /// Whether `python3` with `jsonschema` and `yaml` is available to cross-check the schema.
    static let pythonValidatorAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import jsonschema, yaml"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }()

    @Test(
        "Python's jsonschema accepts the schema and every spec in specs/",
        .enabled(if: pythonValidatorAvailable, "needs python3 with jsonschema and PyYAML"))
    func pythonJSONSchema() throws {
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft7Validator.check_schema(schema)
            validator = jsonschema.Draft7Validator(schema)
            bad = 0
            for path in sys.argv[2:]:
                for error in validator.iter_errors(yaml.safe_load(open(path))):
                    bad += 1
                    print(path, list(error.path), error.message)
            sys.exit(1 if bad else 0)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, Repo.schema] + Repo.specFiles
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
    }
}
