/// Parses the text of a rule expression (see ``RuleExpression`` for the grammar).
///
/// Errors are located at the offending character: the scalar's location plus the offset into
/// its text (rules are single-line scalars).
public struct RuleParser {
    private enum Token: Equatable {
        case name(String)
        case integer(UInt64)
        case op(String)
        case end
    }

    private var tokens: [(Token, Int)] = []
    private var position = 0
    private let text: String
    private let locate: (Int) -> SourceLocation

    /// Parses `text`, written at `origin` (the position of its first character).
    public static func parse(_ text: String, at origin: SourceLocation) -> Result<RuleExpression, Diagnostic> {
        parse(text) { SourceLocation(file: origin.file, line: origin.line, column: origin.column + $0) }
    }

    /// Parses `text`, whose character at each offset (in Unicode scalars; the text's length for
    /// its end) is at `locate(offset)`: for rules written over several lines.
    public static func parse(_ text: String, locate: @escaping (Int) -> SourceLocation)
        -> Result<RuleExpression, Diagnostic>
    {
        var parser = RuleParser(text: text, locate: locate)
        do {
            try parser.tokenize()
            let expression = try parser.parseOr()
            if parser.peek != .end {
                throw parser.failure("unexpected '\(parser.tokenText(parser.peek))' after a complete rule")
            }
            return .success(expression)
        } catch let diagnostic as Diagnostic {
            return .failure(diagnostic)
        } catch {
            return .failure(.error("malformed rule", at: locate(0)))
        }
    }

    private init(text: String, locate: @escaping (Int) -> SourceLocation) {
        self.text = text
        self.locate = locate
    }

    private func location(_ offset: Int) -> SourceLocation { locate(offset) }

    private func failure(_ message: String) -> Diagnostic {
        let offset = position < tokens.count ? tokens[position].1 : text.unicodeScalars.count
        return .error("invalid rule: \(message)", at: location(offset))
    }

    private mutating func tokenize() throws {
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func isNameStart(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic && c.isASCII || c == "_" }
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))) || c == "_" || c == "-" || c == "."
        }
        while i < scalars.count {
            let c = scalars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                i += 1
                continue
            }
            let start = i
            if isNameStart(c) {
                while i < scalars.count && isNameChar(scalars[i]) { i += 1 }
                var name = String(String.UnicodeScalarView(scalars[start..<i]))
                // A trailing '-' or '.' belongs to no name.
                while let last = name.last, last == "-" || last == "." {
                    name.removeLast()
                    i -= 1
                }
                tokens.append((.name(name), start))
            } else if ("0"..."9").contains(c) {
                while i < scalars.count
                    && (scalars[i].properties.isAlphabetic || ("0"..."9").contains(scalars[i]) || scalars[i] == "_")
                {
                    i += 1
                }
                let literal = String(String.UnicodeScalarView(scalars[start..<i]))
                guard let value = SpecScalar.parseInteger(literal) else {
                    position = tokens.count
                    tokens.append((.end, start))
                    throw Diagnostic.error("invalid rule: '\(literal)' is not a number", at: location(start))
                }
                tokens.append((.integer(value), start))
            } else {
                let two = i + 1 < scalars.count ? String(String.UnicodeScalarView(scalars[i...(i + 1)])) : ""
                if ["&&", "||", "==", "!="].contains(two) {
                    tokens.append((.op(two), start))
                    i += 2
                } else if ["!", "(", ")", "[", "]", ","].contains(String(c)) {
                    tokens.append((.op(String(c)), start))
                    i += 1
                } else {
                    throw Diagnostic.error("invalid rule: unexpected character '\(c)'", at: location(start))
                }
            }
        }
        tokens.append((.end, scalars.count))
    }

    private var peek: Token { tokens[position].0 }

    private func tokenText(_ token: Token) -> String {
        switch token {
        case .name(let n): return n
        case .integer(let v): return String(v)
        case .op(let o): return o
        case .end: return "end of rule"
        }
    }

    private mutating func parseOr() throws -> RuleExpression {
        var left = try parseAnd()
        while peek == .op("||") {
            position += 1
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws -> RuleExpression {
        var left = try parseCompare()
        while peek == .op("&&") {
            position += 1
            left = .and(left, try parseCompare())
        }
        return left
    }

    private mutating func parseCompare() throws -> RuleExpression {
        let left = try parseUnary()
        switch peek {
        case .op("=="):
            position += 1
            return .equal(left, try parseUnary())
        case .op("!="):
            position += 1
            return .notEqual(left, try parseUnary())
        case .name("in"):
            position += 1
            guard peek == .op("[") else { throw failure("expected '[' after 'in'") }
            position += 1
            var values: [UInt64] = []
            while true {
                guard case .integer(let v) = peek else { throw failure("expected a number in the 'in' list") }
                values.append(v)
                position += 1
                if peek == .op(",") {
                    position += 1
                    continue
                }
                guard peek == .op("]") else { throw failure("expected ',' or ']'") }
                position += 1
                break
            }
            return .member(left, values)
        default:
            return left
        }
    }

    private mutating func parseUnary() throws -> RuleExpression {
        let offset = tokens[position].1
        switch peek {
        case .op("!"):
            position += 1
            return .not(try parseUnary())
        case .op("("):
            position += 1
            let inner = try parseOr()
            guard peek == .op(")") else {
                var diagnostic = failure("expected ')'")
                diagnostic.notes.append(.init("to match this '('", at: location(offset)))
                throw diagnostic
            }
            position += 1
            return inner
        case .name("true"):
            position += 1
            return .boolean(true)
        case .name("false"):
            position += 1
            return .boolean(false)
        case .name(let n):
            position += 1
            return .name(n, location(offset))
        case .integer(let v):
            position += 1
            return .integer(v)
        case .end:
            throw failure("unexpected end of rule")
        case .op(let o):
            throw failure("unexpected '\(o)'")
        }
    }
}
