import Foundation
import SpecParser
import Testing

/// Hostile and broken inputs: each gets one clear, located error, and the reader stops early
/// (the error reported is the limit that stopped it), so time and memory stay bounded.
@Suite("Bad input: clear located errors, early stops")
struct BadInputTests {
    let limits = YAMLReader.Limits()

    /// Loads the one file `name` with `bytes` from a temporary directory.
    func loadFile(_ name: String, _ bytes: [UInt8]) throws -> (file: String, result: SpecLoader.Result) {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let file = try dir.write(name, bytes)
        return (file, SpecLoader().load(paths: [file]))
    }

    /// Asserts that exactly one diagnostic was reported, an error at `line:column` of `file`
    /// whose message is `message` (or starts with `prefix`).
    func expectSingleError(
        _ result: SpecLoader.Result, file: String, line: Int? = nil, column: Int? = nil, message: String? = nil,
        prefix: String? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        #expect(result.specs == nil, sourceLocation: sourceLocation)
        guard result.diagnostics.count == 1, let d = result.diagnostics.first else {
            Issue.record(
                "expected one diagnostic, got:\n\(headlines(result.diagnostics))", sourceLocation: sourceLocation)
            return
        }
        #expect(d.severity == .error, sourceLocation: sourceLocation)
        #expect(d.location?.file == file, sourceLocation: sourceLocation)
        if let line { #expect(d.location?.line == line, "\(d)", sourceLocation: sourceLocation) }
        if let column { #expect(d.location?.column == column, "\(d)", sourceLocation: sourceLocation) }
        if let message { #expect(d.message == message, sourceLocation: sourceLocation) }
        if let prefix { #expect(d.message.hasPrefix(prefix), "\(d)", sourceLocation: sourceLocation) }
    }

    @Test("a 10 MB file is refused by size before parsing")
    func hugeFile() throws {
        let size = 10 << 20
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        let line = Array("# padding padding padding padding padding padding padding padding padding padd\n".utf8)
        while bytes.count + line.count <= size { bytes += line }
        bytes += [UInt8](repeating: 0x20, count: size - bytes.count)
        let (file, result) = try loadFile("huge.yaml", bytes)
        expectSingleError(
            result, file: file, line: 1, column: 1,
            message: "file is too large (\(size) bytes; spec files are limited to \(limits.maxFileBytes) bytes)")
    }

    @Test("flow nesting 10,000 deep stops at the depth limit")
    func deepFlow() throws {
        let depth = 10_000
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let (file, result) = try loadFile("deep-flow.yaml", Array(text.utf8))
        expectSingleError(
            result, file: file, line: 1, column: limits.maxDepth + 1,
            message: "nesting is too deep (more than \(limits.maxDepth) levels)")
    }

    @Test("block nesting 10,000 deep stops at the depth limit")
    func deepBlock() throws {
        // `- - - x`: each `- ` opens a block sequence inside the previous one, two columns on.
        let text = String(repeating: "- ", count: 10_000) + "x\n"
        let (file, result) = try loadFile("deep-block.yaml", Array(text.utf8))
        expectSingleError(
            result, file: file, line: 1, column: 2 * limits.maxDepth + 1,
            message: "nesting is too deep (more than \(limits.maxDepth) levels)")
    }

    @Test("block mappings nested past the limit stop at the depth limit")
    func deepBlockMappings() throws {
        // Indentation grows with depth, so stay just past the limit to keep the file small.
        var text = ""
        for level in 0..<(limits.maxDepth + 10) { text += String(repeating: " ", count: level) + "k:\n" }
        text += String(repeating: " ", count: limits.maxDepth + 10) + "v\n"
        let (file, result) = try loadFile("deep-map.yaml", Array(text.utf8))
        expectSingleError(
            result, file: file, line: limits.maxDepth + 1, column: limits.maxDepth + 1,
            message: "nesting is too deep (more than \(limits.maxDepth) levels)")
    }

    @Test("an alias bomb (billion laughs) is refused at its first alias")
    func aliasBomb() throws {
        var text = "a: &a [" + Array(repeating: "\"lol\"", count: 10).joined(separator: ", ") + "]\n"
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for (previous, name) in zip(names, names.dropFirst()) {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        let (file, result) = try loadFile("bomb.yaml", Array(text.utf8))
        expectSingleError(
            result, file: file, line: 2, column: 8,
            message:
                "YAML aliases are not allowed in specs (they can expand without bound); reuse definitions with 'extends' or by name"
        )
    }

    @Test("binary garbage is refused as binary data")
    func binaryGarbage() throws {
        var rng = SplitMix64(seed: 0x5EC_C0DE)
        let bytes = (0..<65_536).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let (file, result) = try loadFile("garbage.yaml", bytes)
        expectSingleError(result, file: file, prefix: "binary data: NUL byte at offset ")
    }

    @Test("binary garbage without NUL bytes is refused as invalid UTF-8")
    func binaryGarbageWithoutNUL() throws {
        var rng = SplitMix64(seed: 0x5EC_C0DE)
        let bytes = (0..<65_536).map { _ in UInt8.random(in: 1...255, using: &rng) }
        let (file, result) = try loadFile("garbage.yaml", bytes)
        #expect(result.diagnostics.count == 1)
        let d = try #require(result.diagnostics.first)
        #expect(d.location?.file == file)
        #expect(d.message.hasPrefix("invalid UTF-8: byte 0x"), "\(d)")
    }

    @Test("random printable text gets errors located in the file")
    func printableGarbage() throws {
        var rng = SplitMix64(seed: 42)
        let alphabet = Array("abcXYZ019 :-[]{},&*!|>'\"#%@`\n\n  ".utf8)
        let bytes = (0..<4096).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
        let (file, result) = try loadFile("noise.yaml", bytes)
        #expect(result.specs == nil)
        #expect(!result.diagnostics.isEmpty)
        for d in result.diagnostics where d.severity == .error {
            #expect(d.location?.file == file, "\(d)")
        }
    }

    @Test("invalid UTF-8 is reported at the offending byte")
    func invalidUTF8() throws {
        let bytes = Array("registers:\n  CR".utf8) + [0xFF] + Array(": {width: 32}\n".utf8)
        let (file, result) = try loadFile("latin1.yaml", bytes)
        expectSingleError(
            result, file: file, line: 2, column: 5,
            message: "invalid UTF-8: byte 0xFF at offset 15 does not start a valid sequence; a spec must be UTF-8 text")
    }

    @Test("a truncated UTF-8 sequence is reported at its first byte")
    func truncatedUTF8() throws {
        let bytes = Array("title: caf".utf8) + [0xC3]
        let (file, result) = try loadFile("truncated.yaml", bytes)
        expectSingleError(
            result, file: file, line: 1, column: 11,
            message: "invalid UTF-8: byte 0xC3 at offset 10 does not start a valid sequence; a spec must be UTF-8 text")
    }

    @Test("an empty file", arguments: [[UInt8](), Array(" \n\t\n\r\n   ".utf8), Array("# only a comment\n".utf8)])
    func emptyFile(_ bytes: [UInt8]) throws {
        let (file, result) = try loadFile("empty.yaml", bytes)
        expectSingleError(
            result, file: file, line: 1, column: 1,
            message: "empty spec file: expected a mapping such as 'paging-format: NAME'")
    }

    @Test("too many nodes stop at the node limit")
    func tooManyNodes() throws {
        let count = limits.maxNodes + 50_000
        let text = "[" + String(repeating: "0,", count: count) + "0]\n"
        let (file, result) = try loadFile("wide.yaml", Array(text.utf8))
        // Item k of the flow sequence is at column 2k; the node after the limit is refused.
        expectSingleError(
            result, file: file, line: 1, column: 2 * (limits.maxNodes + 1),
            message: "too many YAML nodes (more than \(limits.maxNodes)); spec files are small")
    }

    @Test("a directory without specs")
    func directoryWithoutSpecs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        try dir.write("notes.txt", Array("not a spec\n".utf8))
        let result = SpecLoader().load(paths: [dir.path])
        #expect(result.specs == nil)
        #expect(result.diagnostics.map(\.description) == ["error: no spec files (*.yaml) in \(dir.path)"])
    }

    @Test("a nonexistent path")
    func nonexistentPath() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let missing = (dir.path as NSString).appendingPathComponent("no-such-specs")
        let result = SpecLoader().load(paths: [missing])
        #expect(result.specs == nil)
        #expect(result.diagnostics.map(\.description) == ["error: no such file or directory: \(missing)"])
    }

    @Test("limits are configurable and checked by the reader itself")
    func readerLimits() {
        var small = YAMLReader.Limits()
        small.maxDepth = 2
        small.maxNodes = 3
        small.maxFileBytes = 64
        let reader = YAMLReader(limits: small)
        var d = DiagnosticCollector()
        #expect(reader.read(bytes: Array("a: [[1]]\n".utf8), file: "x.yaml", diagnostics: &d) == nil)
        #expect(d.diagnostics.map(\.description) == ["x.yaml:1:5: error: nesting is too deep (more than 2 levels)"])
        d = DiagnosticCollector()
        #expect(reader.read(bytes: Array("[1, 2, 3, 4]\n".utf8), file: "x.yaml", diagnostics: &d) == nil)
        #expect(
            d.diagnostics.map(\.description) == [
                "x.yaml:1:11: error: too many YAML nodes (more than 3); spec files are small"
            ])
        d = DiagnosticCollector()
        let big = Array(String(repeating: "#", count: 65).utf8)
        #expect(reader.read(bytes: big, file: "x.yaml", diagnostics: &d) == nil)
        #expect(
            d.diagnostics.map(\.description) == [
                "x.yaml:1:1: error: file is too large (65 bytes; spec files are limited to 64 bytes)"
            ])
    }
}
