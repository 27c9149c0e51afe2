import Foundation

/// Reads one YAML mapping into typed values, reporting wrong types, missing keys and unknown keys.
///
/// Every accessor records the key as known; ``finish()`` then reports each key that no accessor
/// asked for as `unknown key 'idnex' in a level (did you mean 'index'?)`.
public struct MappingReader {
    /// The mapping being read.
    public let node: YAMLNode
    /// What the mapping is, for messages ("a level", "register 'CR4'").
    public let what: String
    /// Where a missing required key is reported: the name the mapping is defined under (a register's
    /// name, say) when there is one, else the mapping itself.
    public let anchor: SourceLocation
    private var known: [String] = []
    private var pairs: [YAMLNode.Pair]

    /// Starts reading `node`; reports an error and reads nothing if it is not a mapping.
    /// - Parameters:
    ///   - node: the mapping.
    ///   - what: what the mapping is, for messages ("a level", "register 'CR4'").
    ///   - anchor: where to report missing required keys; defaults to the mapping's own location.
    ///   - diagnostics: where problems are reported.
    public init?(
        _ node: YAMLNode, what: String, anchor: SourceLocation? = nil, diagnostics: inout DiagnosticCollector
    ) {
        guard let pairs = node.pairs else {
            diagnostics.error("\(what) must be a mapping, not \(node.shapeName)", at: node.location)
            return nil
        }
        self.node = node
        self.what = what
        self.anchor = anchor ?? node.location
        self.pairs = pairs
    }

    /// Reports that required `key` is missing.
    public func reportMissing(_ key: String, diagnostics: inout DiagnosticCollector) {
        diagnostics.error("\(what) is missing required key '\(key)'", at: anchor)
    }

    /// The raw node for `key`, marking the key known.
    public mutating func value(_ key: String) -> YAMLNode? {
        known.append(key)
        return pairs.first { $0.key == key }?.value
    }

    /// The location of `key` itself, if present.
    public func keyLocation(_ key: String) -> SourceLocation? {
        pairs.first { $0.key == key }?.keyLocation
    }

    /// Whether `key` is present (does not mark it known).
    public func has(_ key: String) -> Bool { pairs.contains { $0.key == key } }

    /// All pairs in document order (marks nothing).
    public var allPairs: [YAMLNode.Pair] { pairs }

    /// Marks keys as known without reading them.
    public mutating func accept(_ keys: [String]) { known.append(contentsOf: keys) }

    /// A required string.
    public mutating func string(_ key: String, required: Bool = false, diagnostics: inout DiagnosticCollector)
        -> Located<String>?
    {
        guard let v = value(key) else {
            if required { reportMissing(key, diagnostics: &diagnostics) }
            return nil
        }
        guard let s = v.scalar else {
            diagnostics.error("'\(key)' must be a string, not \(v.shapeName)", at: v.location)
            return nil
        }
        return Located(s, at: v.location)
    }

    /// An unsigned integer in `range`.
    public mutating func integer(
        _ key: String, required: Bool = false, in range: ClosedRange<UInt64> = 0...UInt64.max,
        diagnostics: inout DiagnosticCollector
    ) -> Located<UInt64>? {
        guard let v = value(key) else {
            if required { reportMissing(key, diagnostics: &diagnostics) }
            return nil
        }
        return Self.integer(v, key: key, in: range, diagnostics: &diagnostics)
    }

    /// Types a node as an unsigned integer in `range`.
    public static func integer(
        _ v: YAMLNode, key: String, in range: ClosedRange<UInt64> = 0...UInt64.max,
        diagnostics: inout DiagnosticCollector
    ) -> Located<UInt64>? {
        guard case .scalar(let s, let quoted) = v.kind, !quoted else {
            diagnostics.error(
                "'\(key)' must be a number, not \(v.shapeName == "a scalar" ? "a string" : v.shapeName)",
                at: v.location)
            return nil
        }
        guard let n = SpecScalar.parseInteger(s) else {
            if SpecScalar.isIntegerLiteral(s) {
                diagnostics.error("'\(key)' is \(s), too large for 64 bits", at: v.location)
            } else {
                diagnostics.error("'\(key)' must be a number, not '\(s)'", at: v.location)
            }
            return nil
        }
        guard range.contains(n) else {
            diagnostics.error("'\(key)' is \(n), outside \(range.lowerBound)...\(range.upperBound)", at: v.location)
            return nil
        }
        return Located(n, at: v.location)
    }

    /// A boolean (`true` or `false` only).
    public mutating func boolean(_ key: String, diagnostics: inout DiagnosticCollector) -> Located<Bool>? {
        guard let v = value(key) else { return nil }
        guard case .scalar(let s, let quoted) = v.kind, !quoted, s == "true" || s == "false" else {
            let what = v.scalar.map { "'\($0)'" } ?? v.shapeName
            diagnostics.error("'\(key)' must be true or false, not \(what)", at: v.location)
            return nil
        }
        return Located(s == "true", at: v.location)
    }

    /// A bit range `high:low` or a single bit, checked against `width`.
    /// - Parameter container: what the bits are in, for messages ("the 32-bit register 'CR0'").
    public mutating func bitRange(
        _ key: String, width: Int, container: String? = nil, required: Bool = false,
        diagnostics: inout DiagnosticCollector
    ) -> Located<BitRange>? {
        guard let v = value(key) else {
            if required { reportMissing(key, diagnostics: &diagnostics) }
            return nil
        }
        return Self.bitRange(v, key: key, width: width, container: container, diagnostics: &diagnostics)
    }

    /// Types a node as a bit range within `width` bits.
    /// - Parameter container: what the bits are in, for messages ("the 32-bit register 'CR0'");
    ///   defaults to "a `width`-bit value".
    public static func bitRange(
        _ v: YAMLNode, key: String, width: Int, container: String? = nil, diagnostics: inout DiagnosticCollector
    ) -> Located<BitRange>? {
        guard let s = v.scalar else {
            diagnostics.error("'\(key)' must be a bit or a bit range like 47:39, not \(v.shapeName)", at: v.location)
            return nil
        }
        guard let r = SpecScalar.parseBitRange(s), r.low >= 0 else {
            diagnostics.error("'\(key)' must be a bit or a bit range like 47:39, not '\(s)'", at: v.location)
            return nil
        }
        guard r.high >= r.low else {
            diagnostics.error(
                "bit range \(s) is reversed: write the high bit first (\(r.low):\(r.high))", at: v.location)
            return nil
        }
        guard r.high < width else {
            let verb = r.width == 1 ? "is" : "are"
            diagnostics.error("\(r.phrase) \(verb) outside \(container ?? "a \(width)-bit value")", at: v.location)
            return nil
        }
        return Located(r, at: v.location)
    }

    /// A list of strings (a sequence, or a single scalar as a one-item list).
    public mutating func strings(_ key: String, diagnostics: inout DiagnosticCollector) -> [Located<String>]? {
        guard let v = value(key) else { return nil }
        return Self.strings(v, key: key, diagnostics: &diagnostics)
    }

    /// Types a node as a list of strings.
    public static func strings(_ v: YAMLNode, key: String, diagnostics: inout DiagnosticCollector) -> [Located<String>]?
    {
        if let s = v.scalar { return [Located(s, at: v.location)] }
        guard let items = v.items else {
            diagnostics.error("'\(key)' must be a list of names, not \(v.shapeName)", at: v.location)
            return nil
        }
        var out: [Located<String>] = []
        for item in items {
            guard let s = item.scalar else {
                diagnostics.error("items of '\(key)' must be names, not \(item.shapeName)", at: item.location)
                continue
            }
            out.append(Located(s, at: item.location))
        }
        return out
    }

    /// A rule expression.
    public mutating func rule(_ key: String, required: Bool = false, diagnostics: inout DiagnosticCollector) -> Rule? {
        guard let v = value(key) else {
            if required { reportMissing(key, diagnostics: &diagnostics) }
            return nil
        }
        return Self.rule(v, key: key, diagnostics: &diagnostics)
    }

    /// Types a node as a rule expression.
    public static func rule(_ v: YAMLNode, key: String, diagnostics: inout DiagnosticCollector) -> Rule? {
        guard case .scalar(let text, let quoted) = v.kind else {
            diagnostics.error("'\(key)' must be a rule expression, not \(v.shapeName)", at: v.location)
            return nil
        }
        let parsed: Result<RuleExpression, Diagnostic>
        if let positions = v.characterLocations, let last = positions.last {
            parsed = RuleParser.parse(text) { $0 < positions.count ? positions[$0] : last }
        } else if v.isMultiline {
            // A quoted rule over several lines: escapes and folding hide where each character was.
            parsed = RuleParser.parse(text) { _ in v.location }
        } else {
            let origin =
                quoted
                ? SourceLocation(file: v.location.file, line: v.location.line, column: v.location.column + 1)
                : v.location
            parsed = RuleParser.parse(text, at: origin)
        }
        switch parsed {
        case .success(let e): return Rule(expression: e, text: text, location: v.location)
        case .failure(let d):
            diagnostics.report(d)
            return nil
        }
    }

    /// Reports every key that no accessor asked for.
    public func finish(diagnostics: inout DiagnosticCollector) {
        for pair in pairs where !known.contains(pair.key) {
            var message = "unknown key '\(pair.key)' in \(what)"
            if let guess = Spelling.nearest(to: pair.key, among: known) { message += " (did you mean '\(guess)'?)" }
            diagnostics.error(message, at: pair.keyLocation)
        }
    }
}

/// A value with the spec location it was read from.
public struct Located<Value: Sendable>: Sendable {
    /// The value.
    public var value: Value
    /// Where it was written.
    public var location: SourceLocation
    /// Creates a located value.
    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// Spelling suggestions for unknown names.
public enum Spelling {
    /// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
    public static func nearest(to word: String, among candidates: [String]) -> String? {
        var best: (String, Int)?
        for c in Set(candidates).sorted() {
            let d = distance(word.lowercased(), c.lowercased())
            // Close enough to be a typo, and not a complete replacement ('Q' is no typo of 'P').
            guard d <= max(1, min(word.count, c.count) / 3), d < max(word.count, c.count) else { continue }
            if let current = best, current.1 <= d { continue }
            best = (c, d)
        }
        return best?.0
    }

    /// Edit distance counting an adjacent transposition as one edit (optimal string alignment),
    /// so that `titel` is one edit from `title` and `LA75` one from `LA57`.
    public static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a)
        let y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var beforePrevious = [Int](repeating: 0, count: y.count + 1)
        var previous = Array(0...y.count)
        for i in 1...x.count {
            var current = [i] + [Int](repeating: 0, count: y.count)
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    current[j] = min(current[j], beforePrevious[j - 2] + 1)
                }
            }
            beforePrevious = previous
            previous = current
        }
        return previous[y.count]
    }
}
