import CLibYAML

/// Reads one spec file into a ``YAMLNode`` tree through the system libyaml.
///
/// Hostile input is bounded: files over ``Limits/maxFileBytes`` are refused before parsing,
/// nesting deeper than ``Limits/maxDepth`` and more than ``Limits/maxNodes`` nodes stop the read,
/// and aliases are refused outright (specs reuse through `extends`, which cannot explode), so an
/// alias bomb costs one event. Every problem is a ``Diagnostic`` at a 1-based line and column.
public struct YAMLReader: Sendable {
    /// Bounds on what a spec file may contain.
    public struct Limits: Sendable {
        /// Largest accepted file, in bytes.
        public var maxFileBytes: Int = 2 << 20
        /// Deepest accepted nesting of collections.
        public var maxDepth: Int = 64
        /// Most nodes accepted in one file.
        public var maxNodes: Int = 200_000
        /// The default limits.
        public init() {}
    }

    /// The limits in force.
    public var limits: Limits

    /// Creates a reader.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Parses `bytes` (the content of `file`) into a node tree.
    /// - Parameters:
    ///   - bytes: the file's content, or its first ``Limits/maxFileBytes`` + 1 bytes when the caller
    ///     read no further (the rest is never needed: such a file is refused).
    ///   - file: the path reported in diagnostics.
    ///   - fileSize: the file's full size, when `bytes` may be a prefix; used in the message only.
    ///   - diagnostics: where problems are reported.
    /// - Returns: the document's root, or `nil` with errors in `diagnostics`.
    public func read(bytes: [UInt8], file: String, fileSize: Int? = nil, diagnostics: inout DiagnosticCollector)
        -> YAMLNode?
    {
        let start = SourceLocation(file: file, line: 1, column: 1)
        let size = max(fileSize ?? bytes.count, bytes.count)
        if size > limits.maxFileBytes {
            diagnostics.error(
                "file is too large (\(size) bytes; spec files are limited to \(limits.maxFileBytes) bytes)",
                at: start)
            return nil
        }
        if bytes.isEmpty || bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            diagnostics.error("empty spec file: expected a mapping such as 'paging-format: NAME'", at: start)
            return nil
        }
        if let nul = bytes.firstIndex(of: 0) {
            diagnostics.error(
                "binary data: NUL byte at offset \(nul); a spec must be UTF-8 text",
                at: location(ofOffset: nul, in: bytes, file: file))
            return nil
        }
        if let bad = Self.firstInvalidUTF8(in: bytes) {
            let byte = "0x" + String(bytes[bad], radix: 16, uppercase: true)
            diagnostics.error(
                "invalid UTF-8: byte \(byte) at offset \(bad) does not start a valid sequence; a spec must be UTF-8 text",
                at: location(ofOffset: bad, in: bytes, file: file))
            return nil
        }
        var builder = TreeBuilder(file: file, limits: limits, bytes: bytes)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            diagnostics.error("libyaml could not initialise a parser", at: start)
            return nil
        }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> YAMLNode? in
            guard let base = buffer.baseAddress else { return nil }
            yaml_parser_set_input_string(&parser, base, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    diagnostics.report(parserDiagnostic(parser, bytes: bytes, file: file))
                    return nil
                }
                let done = event.type == YAML_STREAM_END_EVENT
                let ok = builder.consume(event, diagnostics: &diagnostics)
                yaml_event_delete(&event)
                if !ok { return nil }
                if done { break }
            }
            guard let root = builder.root else {
                diagnostics.error("empty spec file: expected a mapping such as 'paging-format: NAME'", at: start)
                return nil
            }
            return root
        }
    }

    /// The offset of the first byte that does not begin a well-formed UTF-8 sequence, if any.
    static func firstInvalidUTF8(in bytes: [UInt8]) -> Int? {
        // The standard library's validation first (fast in any build); the scalar-by-scalar scan
        // only to locate the bad byte.
        if String(validating: bytes, as: UTF8.self) != nil { return nil }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// The character at a 1-based line and column, for hints about libyaml's errors.
    private func character(atLine line: Int, column: Int, in bytes: [UInt8]) -> Unicode.Scalar? {
        var currentLine = 1
        var start = 0
        while currentLine < line {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else { return nil }
            start = newline + 1
            currentLine += 1
        }
        let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
        let scalars = String(decoding: bytes[start..<end], as: UTF8.self).unicodeScalars
        guard column >= 1, column <= scalars.count else { return nil }
        return scalars[scalars.index(scalars.startIndex, offsetBy: column - 1)]
    }

    private func location(ofOffset offset: Int, in bytes: [UInt8], file: String) -> SourceLocation {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    private func parserDiagnostic(_ parser: yaml_parser_t, bytes: [UInt8], file: String) -> Diagnostic {
        let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
        let mark = parser.problem_mark
        let at = SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        var notes: [Diagnostic.Note] = []
        if let context = parser.context {
            let cmark = parser.context_mark
            notes.append(
                .init(
                    String(cString: context),
                    at: SourceLocation(file: file, line: Int(cmark.line) + 1, column: Int(cmark.column) + 1)))
        }
        if parser.error == YAML_READER_ERROR {
            var message = "invalid text: \(problem)"
            if parser.problem_value >= 0 { message += " (byte 0x\(String(parser.problem_value, radix: 16)))" }
            return .error(message, at: location(ofOffset: Int(parser.problem_offset), in: bytes, file: file))
        }
        // libyaml's words are exact but terse; add the usual cause of the common ones.
        if character(atLine: at.line, column: at.column, in: bytes) == "\t" {
            notes.append(.init("YAML does not allow tabs for indentation; indent with spaces", at: at))
        } else if problem == "mapping values are not allowed in this context" {
            notes.append(
                .init(
                    "a 'key:' here continues the value above it: is the line indented too far, or does a value need quotes?",
                    at: at))
        } else if problem == "did not find expected key",
            parser.context.map({ String(cString: $0) }) == "while parsing a block mapping"
        {
            notes.append(.init("this line is not indented like the keys of that mapping", at: at))
        }
        let message = "malformed YAML: \(problem)"
        return .error(message, at: at, notes: notes)
    }
}

/// Turns libyaml events into a ``YAMLNode`` tree, enforcing the reader's limits.
private struct TreeBuilder {
    struct Frame {
        var isMapping: Bool
        var start: SourceLocation
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        var pendingKey: (String, SourceLocation)?
        var seen: [String: SourceLocation] = [:]
    }

    let file: String
    let limits: YAMLReader.Limits
    var stack: [Frame] = []
    var root: YAMLNode?
    var nodeCount = 0
    var documents = 0

    let bytes: [UInt8]
    /// Byte offsets of the starts of lines, computed when a multi-line scalar first needs them.
    var lineStarts: [Int]?

    init(file: String, limits: YAMLReader.Limits, bytes: [UInt8]) {
        self.file = file
        self.limits = limits
        self.bytes = bytes
    }

    /// Source line `index` (0-based) as Unicode scalars, without its line break.
    mutating func sourceLine(_ index: Int) -> [Unicode.Scalar]? {
        if lineStarts == nil {
            var starts = [0]
            for (i, byte) in bytes.enumerated() where byte == 0x0A { starts.append(i + 1) }
            lineStarts = starts
        }
        guard let starts = lineStarts, index >= 0, index < starts.count else { return nil }
        let end = index + 1 < starts.count ? starts[index + 1] - 1 : bytes.count
        return Array(String(decoding: bytes[starts[index]..<max(starts[index], end)], as: UTF8.self).unicodeScalars)
    }

    /// Where each character of a plain scalar folded from several lines came from, found by
    /// folding the source lines again (each line break and the spaces around it become one
    /// space, or one newline per empty line); `nil` when that does not reproduce `text`.
    mutating func foldedLocations(of text: String, from start: yaml_mark_t, to end: yaml_mark_t) -> [SourceLocation]? {
        let first = Int(start.line)
        let last = Int(end.line)
        guard last > first else { return nil }
        var value: [Unicode.Scalar] = []
        var out: [SourceLocation] = []
        var pendingBreaks = 0
        var lastEnd: SourceLocation?
        for index in first...last {
            guard let chars = sourceLine(index) else { return nil }
            let from = index == first ? Int(start.column) : 0
            let to = index == last ? min(Int(end.column), chars.count) : chars.count
            guard from <= to else { return nil }
            var lo = from
            var hi = to
            let blank: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
            if index != first { while lo < hi && blank(chars[lo]) { lo += 1 } }
            while hi > lo && blank(chars[hi - 1]) { hi -= 1 }
            if lo == hi {
                if index != first { pendingBreaks += 1 }
                continue
            }
            let here = SourceLocation(file: file, line: index + 1, column: lo + 1)
            if index != first {
                for _ in 0..<max(1, pendingBreaks) {
                    value.append(pendingBreaks == 0 ? " " : "\n")
                    out.append(here)
                }
            }
            pendingBreaks = 0
            for column in lo..<hi {
                value.append(chars[column])
                out.append(SourceLocation(file: file, line: index + 1, column: column + 1))
            }
            lastEnd = SourceLocation(file: file, line: index + 1, column: hi + 1)
        }
        guard let lastEnd, String(String.UnicodeScalarView(value)) == text else { return nil }
        return out + [lastEnd]
    }

    func mark(_ m: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(m.line) + 1, column: Int(m.column) + 1)
    }

    mutating func consume(_ event: yaml_event_t, diagnostics: inout DiagnosticCollector) -> Bool {
        let at = mark(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                diagnostics.error("a spec file holds exactly one YAML document; found a second one", at: at)
                return false
            }
            return true
        case YAML_ALIAS_EVENT:
            diagnostics.error(
                "YAML aliases are not allowed in specs (they can expand without bound); reuse definitions with 'extends' or by name",
                at: at)
            return false
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            var text = ""
            if let value = scalar.value {
                text = String(decoding: UnsafeBufferPointer(start: value, count: Int(scalar.length)), as: UTF8.self)
            }
            let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE || scalar.style == YAML_ANY_SCALAR_STYLE
            var node = YAMLNode(.scalar(text, quoted: !plain), at: at)
            if event.end_mark.line > event.start_mark.line {
                node.isMultiline = true
                if plain {
                    node.characterLocations = foldedLocations(of: text, from: event.start_mark, to: event.end_mark)
                }
            }
            return add(node, diagnostics: &diagnostics)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            if stack.count >= limits.maxDepth {
                diagnostics.error("nesting is too deep (more than \(limits.maxDepth) levels)", at: at)
                return false
            }
            if let top = stack.last, top.isMapping, top.pendingKey == nil {
                diagnostics.error("mapping keys must be plain scalars, not collections", at: at)
                return false
            }
            stack.append(Frame(isMapping: event.type == YAML_MAPPING_START_EVENT, start: at))
            return true
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return false }
            let node =
                frame.isMapping
                ? YAMLNode(.mapping(frame.pairs), at: frame.start) : YAMLNode(.sequence(frame.items), at: frame.start)
            return add(node, diagnostics: &diagnostics)
        default:
            return true
        }
    }

    mutating func add(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) -> Bool {
        nodeCount += 1
        if nodeCount > limits.maxNodes {
            diagnostics.error(
                "too many YAML nodes (more than \(limits.maxNodes)); spec files are small", at: node.location)
            return false
        }
        guard !stack.isEmpty else {
            root = node
            return true
        }
        let top = stack.count - 1
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let (key, keyLocation) = stack[top].pendingKey {
            stack[top].pairs.append(YAMLNode.Pair(key: key, keyLocation: keyLocation, value: node))
            stack[top].pendingKey = nil
        } else {
            guard let key = node.scalar else {
                diagnostics.error("mapping keys must be plain scalars", at: node.location)
                return false
            }
            if let first = stack[top].seen[key] {
                diagnostics.error(
                    "duplicate key '\(key)'", at: node.location,
                    notes: [.init("'\(key)' was first defined here", at: first)])
            } else {
                stack[top].seen[key] = node.location
            }
            stack[top].pendingKey = (key, node.location)
        }
        return true
    }
}
