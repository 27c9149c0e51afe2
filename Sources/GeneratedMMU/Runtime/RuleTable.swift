/// One input of a generated rule table: where a rule variable's value comes from.
///
/// The code generator turns every rule expression of the specs into a truth table over its
/// inputs; this says how to fetch each input at run time (a control-register field, a CPUID
/// feature, a paging-entry field, an access attribute, a folded right, a protection-key right or a
/// fact about the fault).
public struct RuleInput: Sendable, Hashable {
    /// Where the input comes from.
    public enum Source: UInt8, Sendable {
        /// A register field: `index` is the register, `shift`/`width` the field.
        case control
        /// A CPUID feature: `index` is the feature.
        case feature
        /// A field of the current entry: `shift`/`width`.
        case entry
        /// An access attribute: `index` is the ``AccessAttributes`` bit number.
        case access
        /// A folded right: `index` is the right's number in the format.
        case right
        /// A protection-key right: `index` 0 = AD, 1 = WD.
        case key
        /// A fault fact: `index` is the fact's number in the format (0 not-present, 1 reserved, then flags).
        case fault
    }
    /// Where the value comes from.
    public var source: Source
    /// Register, feature, attribute, right, key or fact number.
    public var index: UInt16
    /// Low bit of a field.
    public var shift: UInt8
    /// Width of a field, 1 for booleans.
    public var width: UInt8

    /// Creates an input.
    public init(_ source: Source, _ index: UInt16 = 0, shift: UInt8 = 0, width: UInt8 = 1) {
        self.source = source
        self.index = index
        self.shift = shift
        self.width = width
    }

    /// Whether the value is fixed once the control state and CPU are known.
    @inlinable public var isStatic: Bool { source == .control || source == .feature }
}

/// A rule compiled to a truth table: bit `i` of `truth` is the rule's value when the inputs,
/// concatenated low input first, read `i`.
public struct RuleTable: Sendable, Hashable {
    /// The inputs, low index bits first.
    public var inputs: [RuleInput]
    /// 2^(sum of input widths) bits, packed in 64-bit words.
    public var truth: [UInt64]

    /// Creates a table.
    public init(inputs: [RuleInput], truth: [UInt64]) {
        self.inputs = inputs
        self.truth = truth
    }

    /// A table that is always `value`.
    public static func constant(_ value: Bool) -> RuleTable { RuleTable(inputs: [], truth: [value ? 1 : 0]) }

    /// Total index width in bits.
    @inlinable public var indexBits: Int { inputs.reduce(0) { $0 + Int($1.width) } }

    /// Looks up the value at `index`.
    @inlinable public func bit(_ index: Int) -> Bool { (truth[index >> 6] >> UInt64(index & 63)) & 1 != 0 }

    /// Evaluates with a value for each input.
    @inlinable
    public func evaluate(_ value: (RuleInput) -> UInt64) -> Bool {
        var index = 0
        var offset = 0
        for input in inputs {
            let mask: UInt64 = input.width >= 64 ? ~0 : (1 << UInt64(input.width)) - 1
            index |= Int(value(input) & mask) << offset
            offset += Int(input.width)
        }
        return bit(index)
    }

    /// Fixes the static inputs (control fields and features) and returns the table over the rest.
    public func specialized(_ staticValue: (RuleInput) -> UInt64) -> RuleTable {
        let dynamic = inputs.filter { !$0.isStatic }
        let dynamicBits = dynamic.reduce(0) { $0 + Int($1.width) }
        var truth = [UInt64](repeating: 0, count: max(1, (1 << dynamicBits + 63) >> 6))
        for d in 0..<(1 << dynamicBits) {
            var offset = 0
            var fullIndex = 0
            var fullOffset = 0
            for input in inputs {
                let mask = (1 << Int(input.width)) - 1
                let v: Int
                if input.isStatic {
                    v = Int(staticValue(input) & UInt64(mask))
                } else {
                    v = (d >> offset) & mask
                    offset += Int(input.width)
                }
                fullIndex |= v << fullOffset
                fullOffset += Int(input.width)
            }
            if bit(fullIndex) { truth[d >> 6] |= 1 << UInt64(d & 63) }
        }
        return RuleTable(inputs: dynamic, truth: truth)
    }

    /// The value when the table has no inputs left.
    @inlinable public var constantValue: Bool? { inputs.isEmpty ? bit(0) : nil }
}
