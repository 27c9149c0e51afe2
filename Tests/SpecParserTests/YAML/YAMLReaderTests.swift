import SpecParser
import Testing

@Suite("YAMLReader: node tree, marks, raw scalars")
struct YAMLReaderTests {
    func read(_ text: String) -> (YAMLNode?, [Diagnostic]) {
        var d = DiagnosticCollector()
        let node = YAMLReader().read(bytes: Array(text.utf8), file: "t.yaml", diagnostics: &d)
        return (node, d.diagnostics)
    }

    @Test("marks are 1-based lines and columns, on keys and values")
    func marks() throws {
        let (node, diagnostics) = read("a: 1\nb:\n  c: [x, 'y']\n")
        #expect(diagnostics.isEmpty)
        let root = try #require(node)
        let pairs = try #require(root.pairs)
        #expect(pairs.map(\.key) == ["a", "b"])
        #expect(
            pairs.map(\.keyLocation) == [
                .init(file: "t.yaml", line: 1, column: 1), .init(file: "t.yaml", line: 2, column: 1),
            ])
        #expect(root["a"]?.location == .init(file: "t.yaml", line: 1, column: 4))
        let c = try #require(root["b"]?["c"])
        #expect(c.location == .init(file: "t.yaml", line: 3, column: 6))
        #expect(c.items?.map(\.location.column) == [7, 10])
        #expect(c.shapeName == "a sequence")
    }

    @Test("scalars stay raw text: no YAML 1.1 booleans, sexagesimals or octals")
    func rawScalars() throws {
        let (node, _) = read("a: no\nb: 47:39\nc: 0x10\nd: 010\ne: ~\n")
        let root = try #require(node)
        #expect(root["a"]?.scalar == "no")
        #expect(root["b"]?.scalar == "47:39")
        #expect(root["c"]?.scalar == "0x10")
        #expect(root["d"]?.scalar == "010")
        #expect(root["e"]?.scalar == "~")
    }

    @Test("quoted scalars are marked quoted")
    func quoted() throws {
        let (node, _) = read("a: \"1\"\nb: 1\nc: '1'\n")
        let root = try #require(node)
        guard case .scalar(_, let a) = root["a"]?.kind, case .scalar(_, let b) = root["b"]?.kind,
            case .scalar(_, let c) = root["c"]?.kind
        else {
            Issue.record("not scalars")
            return
        }
        #expect(a && !b && c)
    }

    @Test("a plain scalar over several lines knows where each character came from")
    func multilineLocations() throws {
        let (node, _) = read("a: one\n  two\n\n   three\nb: 1\n")
        let a = try #require(node?["a"])
        #expect(a.scalar == "one two\nthree")
        #expect(a.isMultiline)
        let locations = try #require(a.characterLocations)
        #expect(locations.count == "one two\nthree".unicodeScalars.count + 1)
        #expect(locations[0] == SourceLocation(file: "t.yaml", line: 1, column: 4))
        #expect(locations[4] == SourceLocation(file: "t.yaml", line: 2, column: 3))
        #expect(locations[8] == SourceLocation(file: "t.yaml", line: 4, column: 4))
        #expect(locations.last == SourceLocation(file: "t.yaml", line: 4, column: 9))
        #expect(node?["b"]?.isMultiline == false)
        #expect(node?["b"]?.characterLocations == nil)
    }

    @Test("a quoted rule over several lines is located at its start")
    func multilineQuotedRule() {
        let spec = ToySpecs.twoLevel.replacingOccurrences(
            of: "present: P || (MT != 0 && cpuid.toy1g)", with: "present: \"P ||\n  nope\"")
        let result = load(Array(ToySpecs.files.dropLast(2)) + [("toy/toy2.yaml", spec)])
        #expect(
            result.diagnostics.map(\.description)
                == ["toy/toy2.yaml:11:10: error: in 'present' of toy-2level: unknown name 'nope'"])
    }

    @Test("a duplicate key is an error with a note at the first")
    func duplicateKey() {
        let (_, diagnostics) = read("a: 1\nb: 2\na: 3\n")
        #expect(
            diagnostics.map(\.description) == [
                "t.yaml:3:1: error: duplicate key 'a'\nt.yaml:1:1: note: 'a' was first defined here"
            ])
    }

    @Test("malformed YAML reports libyaml's problem and its context as a note")
    func malformed() {
        let (node, diagnostics) = read("a: [1, 2\nb: 3\n")
        #expect(node == nil)
        #expect(
            diagnostics.map(\.description)
                == [
                    "t.yaml:2:2: error: malformed YAML: did not find expected ',' or ']'\nt.yaml:1:4: note: while parsing a flow sequence"
                ])
    }

    @Test("anchors without aliases are harmless; a second document is refused")
    func documents() {
        #expect(read("a: &x 1\n").1.isEmpty)
        #expect(read("--- \na: 1\n...\n").1.isEmpty)
        #expect(
            read("a: 1\n---\nb: 2\n").1.map(\.description)
                == ["t.yaml:2:1: error: a spec file holds exactly one YAML document; found a second one"])
    }
}

@Suite("Diagnostics")
struct DiagnosticTests {
    @Test("the compiler form: file:line:column: severity: message, then notes")
    func description() {
        let at = SourceLocation(file: "specs/x.yaml", line: 12, column: 7)
        let d = Diagnostic.error(
            "unknown key 'idnex'", at: at, notes: [.init("defined here", at: at), .init("no place")])
        #expect(d.headline == "specs/x.yaml:12:7: error: unknown key 'idnex'")
        #expect(
            d.description
                == "specs/x.yaml:12:7: error: unknown key 'idnex'\nspecs/x.yaml:12:7: note: defined here\nnote: no place"
        )
        #expect(Diagnostic.error("no spec files", at: nil).description == "error: no spec files")
    }

    @Test("collected diagnostics sort by file, line and column, unlocated first")
    func sorting() {
        var c = DiagnosticCollector()
        c.error("b2", at: .init(file: "b", line: 2, column: 1))
        c.error("a9", at: .init(file: "a", line: 9, column: 1))
        c.warning("a1", at: .init(file: "a", line: 1, column: 5))
        c.error("none", at: nil)
        #expect(c.sorted.map(\.message) == ["none", "a1", "a9", "b2"])
        #expect(c.errors.count == 3)
        #expect(c.hasErrors)
    }

    @Test("spelling suggestions: close names only, transpositions count once")
    func spelling() {
        #expect(Spelling.nearest(to: "idnex", among: ["index", "name"]) == "index")
        #expect(Spelling.nearest(to: "titel", among: ["title"]) == "title")
        #expect(Spelling.nearest(to: "LA75", among: ["LA57", "PAE"]) == "LA57")
        #expect(Spelling.nearest(to: "Q", among: ["P", "A"]) == nil)
        #expect(Spelling.nearest(to: "WR", among: ["W"]) == "W")
        #expect(Spelling.nearest(to: "completely", among: ["different"]) == nil)
        #expect(Spelling.distance("kitten", "sitting") == 3)
    }

    @Test("integer literals: decimal, hex, binary, octal, underscores; too large is told apart")
    func integers() {
        #expect(SpecScalar.parseInteger("42") == 42)
        #expect(SpecScalar.parseInteger("0x2A") == 42)
        #expect(SpecScalar.parseInteger("0b101010") == 42)
        #expect(SpecScalar.parseInteger("0o52") == 42)
        #expect(SpecScalar.parseInteger("0xC000_0080") == 0xC000_0080)
        #expect(SpecScalar.parseInteger("_1") == nil)
        #expect(SpecScalar.parseInteger("-1") == nil)
        #expect(SpecScalar.parseInteger("0x1_0000_0000_0000_0000") == nil)
        #expect(SpecScalar.isIntegerLiteral("0x1_0000_0000_0000_0000"))
        #expect(!SpecScalar.isIntegerLiteral("seven"))
        #expect(SpecScalar.parseBitRange("47:39") == BitRange(high: 47, low: 39))
        #expect(SpecScalar.parseBitRange("12") == BitRange(bit: 12))
        #expect(SpecScalar.parseBitRange("a:b") == nil)
        #expect(BitRange(bit: 8).phrase == "bit 8")
        #expect(BitRange(high: 11, low: 7).phrase == "bits 11:7")
        #expect(BitRange(high: 63, low: 0).mask == .max)
    }
}
