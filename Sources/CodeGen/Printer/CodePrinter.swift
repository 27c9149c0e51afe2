/// A small value-type printer for generated Swift: lines, indentation, nothing else.
///
/// ```swift
/// var p = CodePrinter()
/// p.print("enum E {")
/// p.indent { $0.print("case a") }
/// p.print("}")
/// ```
public struct CodePrinter: Sendable {
    /// The text printed so far.
    public private(set) var text = ""
    private var level = 0

    /// Creates an empty printer.
    public init() { text.reserveCapacity(1 << 16) }

    /// Prints each argument as a line at the current indentation (empty strings print empty lines).
    public mutating func print(_ lines: String...) {
        for line in lines {
            if line.isEmpty {
                text += "\n"
            } else {
                text += String(repeating: "    ", count: level) + line + "\n"
            }
        }
    }

    /// Prints `body` one level deeper.
    public mutating func indent(_ body: (inout CodePrinter) -> Void) {
        level += 1
        body(&self)
        level -= 1
    }

    /// Increases indentation.
    public mutating func push() { level += 1 }
    /// Decreases indentation.
    public mutating func pop() { level = max(0, level - 1) }
}

/// Helpers to print numbers and names.
enum Swiftify {
    static func hex(_ v: UInt64) -> String {
        if v < 10 { return String(v) }
        var digits = String(v, radix: 16)
        // Group hex digits in fours for readability: 0x000f_ffff_ffff_f000.
        var groups: [String] = []
        while digits.count > 4 {
            groups.insert(String(digits.suffix(4)), at: 0)
            digits = String(digits.dropLast(4))
        }
        groups.insert(digits, at: 0)
        return "0x" + groups.joined(separator: "_")
    }

    static func identifier(_ name: String) -> String {
        var out = ""
        var upper = false
        for c in name {
            if c.isLetter || c.isNumber || c == "_" {
                out.append(upper ? Character(c.uppercased()) : c)
                upper = false
            } else {
                upper = true
            }
        }
        if let first = out.first, first.isNumber { out = "_" + out }
        return out.isEmpty ? "_" : out
    }

    static func string(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}
