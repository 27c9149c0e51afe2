/// A typed rule expression from a spec, such as `access.fetch && !executable && EFER.NXE`.
///
/// Rules are how specs say what differs between formats: when an entry is present, when it is a
/// leaf, which accesses fault, how an error code is built. Names resolve to register fields
/// (`CR0.WP`), CPUID features (`cpuid.pdpe1gb`), access attributes (`access.user`), folded rights
/// (`writable`), entry fields (`PS`) and fault facts (`fault.reserved`). Values are booleans or
/// unsigned integers (multi-bit fields); the code generator evaluates rules over all their inputs
/// into lookup tables, and the interpreter evaluates them directly.
///
/// Grammar (lowest precedence first):
/// ```
/// or      := and ('||' and)*
/// and     := compare ('&&' compare)*
/// compare := unary (('==' | '!=') unary | 'in' '[' int (',' int)* ']')?
/// unary   := '!' unary | '(' or ')' | name | int | 'true' | 'false'
/// ```
public indirect enum RuleExpression: Sendable, Hashable, CustomStringConvertible {
    /// A reference to a named value; `location` points at the name in the spec.
    case name(String, SourceLocation)
    /// An unsigned integer literal.
    case integer(UInt64)
    /// `true` or `false`.
    case boolean(Bool)
    /// `!e`.
    case not(RuleExpression)
    /// `a && b`.
    case and(RuleExpression, RuleExpression)
    /// `a || b`.
    case or(RuleExpression, RuleExpression)
    /// `a == b`.
    case equal(RuleExpression, RuleExpression)
    /// `a != b`.
    case notEqual(RuleExpression, RuleExpression)
    /// `a in [v1, v2, …]`.
    case member(RuleExpression, [UInt64])

    /// Every name the expression mentions, in first-use order, without duplicates.
    public var names: [String] {
        var seen: Set<String> = []
        var out: [String] = []
        func walk(_ e: RuleExpression) {
            switch e {
            case .name(let n, _): if seen.insert(n).inserted { out.append(n) }
            case .integer, .boolean: break
            case .not(let a), .member(let a, _): walk(a)
            case .and(let a, let b), .or(let a, let b), .equal(let a, let b), .notEqual(let a, let b):
                walk(a)
                walk(b)
            }
        }
        walk(self)
        return out
    }

    /// Every name with the location of its first use.
    public var nameLocations: [(String, SourceLocation)] {
        var seen: Set<String> = []
        var out: [(String, SourceLocation)] = []
        func walk(_ e: RuleExpression) {
            switch e {
            case .name(let n, let l): if seen.insert(n).inserted { out.append((n, l)) }
            case .integer, .boolean: break
            case .not(let a), .member(let a, _): walk(a)
            case .and(let a, let b), .or(let a, let b), .equal(let a, let b), .notEqual(let a, let b):
                walk(a)
                walk(b)
            }
        }
        walk(self)
        return out
    }

    /// The expression in spec syntax, fully parenthesised where precedence needs it.
    public var description: String {
        switch self {
        case .name(let n, _): return n
        case .integer(let v): return v < 10 ? "\(v)" : "0x" + String(v, radix: 16)
        case .boolean(let b): return b ? "true" : "false"
        case .not(let a):
            if case .name = a { return "!\(a)" }
            return "!(\(a))"
        case .and(let a, let b): return "\(paren(a, for: 2)) && \(paren(b, for: 2))"
        case .or(let a, let b): return "\(a) || \(b)"
        case .equal(let a, let b): return "\(a) == \(b)"
        case .notEqual(let a, let b): return "\(a) != \(b)"
        case .member(let a, let vs): return "\(a) in [\(vs.map { String($0) }.joined(separator: ", "))]"
        }
    }

    private func paren(_ e: RuleExpression, for level: Int) -> String {
        if case .or = e { return "(\(e))" }
        return e.description
    }

    /// Evaluates the expression. `lookup` supplies each name's value (booleans as 0 or 1).
    @inlinable
    public func evaluate(_ lookup: (String) -> UInt64) -> UInt64 {
        switch self {
        case .name(let n, _): return lookup(n)
        case .integer(let v): return v
        case .boolean(let b): return b ? 1 : 0
        case .not(let a): return a.evaluate(lookup) == 0 ? 1 : 0
        case .and(let a, let b): return (a.evaluate(lookup) != 0 && b.evaluate(lookup) != 0) ? 1 : 0
        case .or(let a, let b): return (a.evaluate(lookup) != 0 || b.evaluate(lookup) != 0) ? 1 : 0
        case .equal(let a, let b): return a.evaluate(lookup) == b.evaluate(lookup) ? 1 : 0
        case .notEqual(let a, let b): return a.evaluate(lookup) != b.evaluate(lookup) ? 1 : 0
        case .member(let a, let vs): return vs.contains(a.evaluate(lookup)) ? 1 : 0
        }
    }

    /// Evaluates as a condition.
    @inlinable
    public func holds(_ lookup: (String) -> UInt64) -> Bool { evaluate(lookup) != 0 }
}

/// A rule expression together with where it was written.
public struct Rule: Sendable, Hashable, CustomStringConvertible {
    /// The parsed expression.
    public var expression: RuleExpression
    /// The rule's text as written.
    public var text: String
    /// Where the rule's scalar starts.
    public var location: SourceLocation

    /// Creates a rule.
    public init(expression: RuleExpression, text: String, location: SourceLocation) {
        self.expression = expression
        self.text = text
        self.location = location
    }

    /// The rule's text.
    public var description: String { text }
}
