import Foundation

/// An inclusive range of bit positions, written `high:low` (for example `47:39`) or a single bit.
///
/// Models the SDM's bit-field notation for register fields, entry fields and linear-address
/// index slices.
public struct BitRange: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// Most significant bit (inclusive).
    public var high: Int
    /// Least significant bit (inclusive).
    public var low: Int

    /// Creates `high:low`; `high >= low` is the caller's promise.
    public init(high: Int, low: Int) {
        self.high = high
        self.low = low
    }

    /// A single bit.
    public init(bit: Int) { self.init(high: bit, low: bit) }

    /// Number of bits covered.
    public var width: Int { high - low + 1 }

    /// The covered bits as a 64-bit mask (positions above 63 are dropped).
    public var mask: UInt64 {
        guard low < 64 else { return 0 }
        let top = min(high, 63)
        let w = top - low + 1
        return (w >= 64 ? ~0 : ((1 << UInt64(w)) - 1)) << UInt64(low)
    }

    /// True when the two ranges share a bit.
    public func overlaps(_ other: BitRange) -> Bool { low <= other.high && other.low <= high }

    /// `high:low`, or just the bit for a one-bit range.
    public var description: String { high == low ? "\(high)" : "\(high):\(low)" }

    /// For messages: `bit 8` or `bits 11:7`.
    public var phrase: String { high == low ? "bit \(high)" : "bits \(high):\(low)" }

    /// Orders by low bit.
    public static func < (a: BitRange, b: BitRange) -> Bool { (a.low, a.high) < (b.low, b.high) }
}

/// Typing of raw YAML scalars, done by the spec layer rather than by YAML 1.1 rules.
public enum SpecScalar {
    /// Parses `42`, `0x2a`, `0b101010` or `0o52` (underscores allowed between digits).
    public static func parseInteger(_ text: String) -> UInt64? {
        var t = text.replacingOccurrences(of: "_", with: "")
        var radix = 10
        let lower = t.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            t = String(t.dropFirst(2))
        } else if lower.hasPrefix("0b") {
            radix = 2
            t = String(t.dropFirst(2))
        } else if lower.hasPrefix("0o") {
            radix = 8
            t = String(t.dropFirst(2))
        }
        guard !t.isEmpty, !text.hasPrefix("_"), !text.hasSuffix("_") else { return nil }
        return UInt64(t, radix: radix)
    }

    /// Whether `text` is written like an integer literal (digits of its radix, underscores between
    /// them), whatever its size: tells "too large" apart from "not a number".
    public static func isIntegerLiteral(_ text: String) -> Bool {
        var t = Substring(text.lowercased())
        var digits: Set<Character> = Set("0123456789")
        if t.hasPrefix("0x") {
            digits = Set("0123456789abcdef")
            t = t.dropFirst(2)
        } else if t.hasPrefix("0b") {
            digits = Set("01")
            t = t.dropFirst(2)
        } else if t.hasPrefix("0o") {
            digits = Set("01234567")
            t = t.dropFirst(2)
        }
        guard let first = t.first, let last = t.last, first != "_", last != "_" else { return false }
        return t.allSatisfy { digits.contains($0) || $0 == "_" }
    }

    /// Parses `high:low` or a single bit number.
    public static func parseBitRange(_ text: String) -> BitRange? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 1, let bit = Int(parts[0].trimmingCharacters(in: .whitespaces)) {
            return BitRange(bit: bit)
        }
        guard parts.count == 2,
            let high = Int(parts[0].trimmingCharacters(in: .whitespaces)),
            let low = Int(parts[1].trimmingCharacters(in: .whitespaces))
        else { return nil }
        return BitRange(high: high, low: low)
    }
}
