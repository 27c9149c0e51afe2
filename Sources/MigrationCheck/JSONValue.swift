import SpecParser

/// A JSON value whose objects keep their keys in the order written, so that reports and
/// templates come out byte-for-byte the same on every run (Foundation's serializer sorts or
/// shuffles keys).
public indirect enum JSONValue: Sendable, Equatable {
    /// A string.
    case string(String)
    /// An integer.
    case int(Int)
    /// A boolean.
    case bool(Bool)
    /// An array.
    case array([JSONValue])
    /// An object, keys in order.
    case object([(String, JSONValue)])

    /// Structural equality; object keys compare in order.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member called `key` of an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    /// Compact text on one line.
    public var compact: String { render(indent: nil, level: 0) }

    /// Text with two-space indentation; arrays of scalars and small objects stay on one line.
    public var pretty: String { render(indent: "  ", level: 0) }

    private var isFlat: Bool {
        switch self {
        case .string, .int, .bool: return true
        case .array(let a):
            return a.allSatisfy {
                if case .object = $0 { return false }; if case .array = $0 { return false }; return true
            }
        case .object(let o): return o.count <= 3 && o.allSatisfy { $0.1.isScalar }
        }
    }

    private var isScalar: Bool {
        switch self {
        case .string, .int, .bool: return true
        default: return false
        }
    }

    private func render(indent: String?, level: Int) -> String {
        switch self {
        case .string(let s): return Self.quote(s)
        case .int(let n): return String(n)
        case .bool(let b): return b ? "true" : "false"
        case .array(let items):
            if items.isEmpty { return "[]" }
            guard let indent, !isFlat else {
                return "["
                    + items.map { $0.render(indent: nil, level: 0) }.joined(separator: indent == nil ? "," : ", ") + "]"
            }
            let pad = String(repeating: indent, count: level + 1)
            return "[\n" + items.map { pad + $0.render(indent: indent, level: level + 1) }.joined(separator: ",\n")
                + "\n" + String(repeating: indent, count: level) + "]"
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            guard let indent, !isFlat else {
                let sep = indent == nil ? ":" : ": "
                return "{"
                    + pairs.map { Self.quote($0.0) + sep + $0.1.render(indent: nil, level: 0) }
                    .joined(separator: indent == nil ? "," : ", ") + "}"
            }
            let pad = String(repeating: indent, count: level + 1)
            return "{\n"
                + pairs.map { pad + Self.quote($0.0) + ": " + $0.1.render(indent: indent, level: level + 1) }
                .joined(separator: ",\n") + "\n" + String(repeating: indent, count: level) + "}"
        }
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String { JSONString.quote(s) }
}
