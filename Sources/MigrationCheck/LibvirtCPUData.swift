import Foundation

/// Reads libvirt's CPUID test data (`tests/cputestdata/x86_64-cpuid-*.xml`): a `<cpudata>` root
/// with one `<cpuid eax_in ecx_in eax ebx ecx edx/>` element per CPUID query and
/// `<msr index edx eax/>` elements, preceded by a comment naming the processor.
///
/// The format is the one libvirt's `x86_features.xml` uses (described in
/// `shared/data/cpuid/README.md`). Only that subset of XML is accepted: elements, attributes in
/// single or double quotes, comments and an XML declaration. Anything else is an ``InputError``
/// naming the file, the line and the problem.
public enum LibvirtCPUData {
    /// Parses the text of a libvirt `cpudata` file.
    /// - Parameter file: the name used in error messages.
    public static func parse(_ text: String, file: String) throws -> CPUIDData {
        var scanner = Scanner(text: Array(text.unicodeScalars), file: file)
        var data = CPUIDData()
        var stack: [String] = []
        var sawRoot = false
        while let token = try scanner.next() {
            switch token {
            case .comment(let body):
                if data.label == nil && !sawRoot {
                    let t = body.trimmingCharacters(in: .whitespaces)
                    if !t.isEmpty { data.label = t }
                }
            case .text(let t, let line):
                if !t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    throw scanner.error(
                        "unexpected text '\(t.trimmingCharacters(in: .whitespacesAndNewlines).prefix(20))'", line: line)
                }
            case .close(let name, let line):
                guard stack.last == name else {
                    throw scanner.error(
                        "closing tag </\(name)> does not match \(stack.last.map { "<\($0)>" } ?? "any open element")",
                        line: line)
                }
                stack.removeLast()
            case .open(let name, let attributes, let selfClosing, let line):
                if stack.isEmpty {
                    guard name == "cpudata", !sawRoot else {
                        throw scanner.error("the root element must be <cpudata arch='x86'>, not <\(name)>", line: line)
                    }
                    if let arch = attributes["arch"], arch != "x86" {
                        throw scanner.error("cpudata arch='\(arch)' is not x86", line: line)
                    }
                    sawRoot = true
                } else if stack == ["cpudata"] {
                    switch name {
                    case "cpuid":
                        let leaf = try number(attributes, "eax_in", line: line, scanner)
                        let subleaf = try number(attributes, "ecx_in", line: line, scanner)
                        let input = CPUIDData.Input(leaf: leaf, subleaf: subleaf)
                        if data.outputs[input] != nil {
                            throw scanner.error(
                                "leaf \(hex(leaf)) subleaf \(hex(subleaf)) is recorded twice", line: line)
                        }
                        data.outputs[input] = CPUIDData.Output(
                            eax: try number(attributes, "eax", line: line, scanner),
                            ebx: try number(attributes, "ebx", line: line, scanner),
                            ecx: try number(attributes, "ecx", line: line, scanner),
                            edx: try number(attributes, "edx", line: line, scanner))
                    case "msr":
                        let index = try number(attributes, "index", line: line, scanner)
                        let high = try number(attributes, "edx", line: line, scanner)
                        let low = try number(attributes, "eax", line: line, scanner)
                        data.msrs[index] = UInt64(high) << 32 | UInt64(low)
                    default:
                        throw scanner.error(
                            "unknown element <\(name)> in <cpudata>; expected <cpuid> or <msr>", line: line)
                    }
                } else {
                    throw scanner.error("unexpected element <\(name)> inside <\(stack.last ?? "")>", line: line)
                }
                if !selfClosing { stack.append(name) }
            }
        }
        if let open = stack.last { throw InputError("\(file): <\(open)> is never closed") }
        guard sawRoot else { throw InputError("\(file): not a libvirt CPUID dump (no <cpudata> element)") }
        guard !data.outputs.isEmpty else { throw InputError("\(file): the dump has no <cpuid> elements") }
        return data
    }

    private static func number(_ a: [String: String], _ key: String, line: Int, _ s: Scanner) throws -> UInt32 {
        guard let text = a[key] else { throw s.error("missing attribute '\(key)'", line: line) }
        let digits = text.lowercased().hasPrefix("0x") ? String(text.dropFirst(2)) : text
        guard !digits.isEmpty, let v = UInt32(digits, radix: 16) else {
            throw s.error("attribute \(key)='\(text)' is not a 32-bit hex number", line: line)
        }
        return v
    }

    private enum Token {
        case open(String, [String: String], selfClosing: Bool, line: Int)
        case close(String, line: Int)
        case comment(String)
        case text(String, line: Int)
    }

    private struct Scanner {
        let text: [Unicode.Scalar]
        let file: String
        var i = 0
        var line = 1

        init(text: [Unicode.Scalar], file: String) {
            self.text = text
            self.file = file
        }

        func error(_ message: String, line: Int) -> InputError { InputError("\(file):\(line): \(message)") }

        mutating func advance() -> Unicode.Scalar? {
            guard i < text.count else { return nil }
            let c = text[i]
            i += 1
            if c == "\n" { line += 1 }
            return c
        }

        func starts(with s: String) -> Bool {
            let u = Array(s.unicodeScalars)
            return i + u.count <= text.count && Array(text[i..<(i + u.count)]) == u
        }

        mutating func skip(until end: String, what: String) throws -> String {
            let start = line
            var out = String.UnicodeScalarView()
            while !starts(with: end) {
                guard let c = advance() else { throw error("\(what) is never closed", line: start) }
                out.append(c)
            }
            for _ in end.unicodeScalars { _ = advance() }
            return String(out)
        }

        mutating func skipSpace() {
            while i < text.count, text[i].properties.isWhitespace { _ = advance() }
        }

        mutating func name() throws -> String {
            var out = String.UnicodeScalarView()
            while i < text.count,
                text[i].properties.isAlphabetic || text[i].properties.numericType != nil
                    || text[i] == "_" || text[i] == "-" || text[i] == ":" || text[i] == "."
            {
                out.append(text[i])
                i += 1
            }
            guard !out.isEmpty else { throw error("expected a name", line: line) }
            return String(out)
        }

        mutating func next() throws -> Token? {
            guard i < text.count else { return nil }
            if text[i] != "<" {
                let start = line
                var out = String.UnicodeScalarView()
                while i < text.count, text[i] != "<" { if let c = advance() { out.append(c) } }
                return .text(String(out), line: start)
            }
            let start = line
            if starts(with: "<!--") {
                i += 4
                return .comment(try skip(until: "-->", what: "comment"))
            }
            if starts(with: "<?") {
                i += 2
                _ = try skip(until: "?>", what: "XML declaration")
                return try next()
            }
            _ = advance()
            if i < text.count, text[i] == "/" {
                _ = advance()
                let n = try name()
                skipSpace()
                guard advance() == ">" else { throw error("expected '>' after </\(n)", line: start) }
                return .close(n, line: start)
            }
            let n = try name()
            var attributes: [String: String] = [:]
            while true {
                skipSpace()
                guard i < text.count else { throw error("<\(n)> is never closed", line: start) }
                if text[i] == ">" {
                    _ = advance()
                    return .open(n, attributes, selfClosing: false, line: start)
                }
                if starts(with: "/>") {
                    i += 2
                    return .open(n, attributes, selfClosing: true, line: start)
                }
                let key = try name()
                skipSpace()
                guard advance() == "=" else { throw error("expected '=' after attribute '\(key)'", line: line) }
                skipSpace()
                guard let quote = advance(), quote == "'" || quote == "\"" else {
                    throw error("attribute '\(key)' needs a quoted value", line: line)
                }
                let value = try skip(until: String(quote), what: "attribute '\(key)'")
                if attributes[key] != nil { throw error("attribute '\(key)' is given twice", line: start) }
                attributes[key] = value
            }
        }
    }
}
