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
    private var known: [String] = []
    private var pairs: [YAMLNode.Pair]

    /// Starts reading `node`; reports an error and reads nothing if it is not a mapping.
    public init?(_ node: YAMLNode, what: String, diagnostics: inout DiagnosticCollector) {
        guard let pairs = node.pairs else {
            diagnostics.error("\(what) must be a mapping, not \(node.shapeName)", at: node.location)
            return nil
        }
        self.node = node
        self.what = what
        self.pairs = pairs
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
            if required { diagnostics.error("\(what) is missing required key '\(key)'", at: node.location) }
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
            if required { diagnostics.error("\(what) is missing required key '\(key)'", at: node.location) }
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
            diagnostics.error("'\(key)' must be a number, not \(v.shapeName == "a scalar" ? "a string" : v.shapeName)",
                              at: v.location)
            return nil
        }
        guard let n = SpecScalar.parseInteger(s) else {
            diagnostics.error("'\(key)' must be a number, not '\(s)'", at: v.location)
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
        guard case .scalar(let s, false) = v.kind, s == "true" || s == "false" else {
            diagnostics.error("'\(key)' must be true or false", at: v.location)
            return nil
        }
        return Located(s == "true", at: v.location)
    }

    /// A bit range `high:low` or a single bit, checked against `width`.
    public mutating func bitRange(
        _ key: String, width: Int, required: Bool = false, diagnostics: inout DiagnosticCollector
    ) -> Located<BitRange>? {
        guard let v = value(key) else {
            if required { diagnostics.error("\(what) is missing required key '\(key)'", at: node.location) }
            return nil
        }
        return Self.bitRange(v, key: key, width: width, diagnostics: &diagnostics)
    }

    /// Types a node as a bit range within `width` bits.
    public static func bitRange(_ v: YAMLNode, key: String, width: Int, diagnostics: inout DiagnosticCollector)
        -> Located<BitRange>?
    {
        guard let s = v.scalar else {
            diagnostics.error("'\(key)' must be a bit or a bit range like 47:39, not \(v.shapeName)", at: v.location)
            return nil
        }
        guard let r = SpecScalar.parseBitRange(s), r.low >= 0 else {
            diagnostics.error("'\(key)' must be a bit or a bit range like 47:39, not '\(s)'", at: v.location)
            return nil
        }
        guard r.high >= r.low else {
            diagnostics.error("bit range \(s) is reversed: write the high bit first (\(r.low):\(r.high))", at: v.location)
            return nil
        }
        guard r.high < width else {
            diagnostics.error("bit range \(r) is outside the \(width)-bit width of \(key == "bit" || key == "bits" ? "its container" : "'\(key)'")",
                              at: v.location)
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
    public static func strings(_ v: YAMLNode, key: String, diagnostics: inout DiagnosticCollector) -> [Located<String>]? {
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
            if required { diagnostics.error("\(what) is missing required key '\(key)'", at: node.location) }
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
        let origin = quoted
            ? SourceLocation(file: v.location.file, line: v.location.line, column: v.location.column + 1) : v.location
        switch RuleParser.parse(text, at: origin) {
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
            guard d <= max(1, min(word.count, c.count) / 3) else { continue }
            if let current = best, current.1 <= d { continue }
            best = (c, d)
        }
        return best?.0
    }

    /// Levenshtein distance.
    public static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a)
        let y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        for i in 1...x.count {
            var current = [i] + Array(repeating: 0, count: y.count)
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[y.count]
    }
}
