import SpecParser

/// A rule compiled to a truth table (the generator's form of ``Rule``): the inputs and, for every
/// combination of their values, the rule's value.
public struct LoweredRuleTable: Sendable, Hashable {
    /// One input, mirroring GeneratedMMU's `RuleInput`.
    public struct Input: Sendable, Hashable {
        /// `control`, `feature`, `entry`, `access`, `right`, `key` or `fault`.
        public var source: String
        /// Register, feature, attribute, right, key or fact number.
        public var index: Int
        /// Low bit of a field.
        public var shift: Int
        /// Width.
        public var width: Int
        /// The name as the spec wrote it, for comments.
        public var name: String
    }
    /// Inputs, low index bits first.
    public var inputs: [Input]
    /// Truth bits packed in 64-bit words.
    public var truth: [UInt64]
    /// The rule's text, for comments.
    public var text: String
    /// Where the rule was written.
    public var location: SourceLocation?
}

/// Conditionally reserved bits, lowered.
public struct LoweredReserved: Sendable, Hashable {
    /// The bits.
    public var mask: UInt64
    /// Take only the bits at or above the physical-address width.
    public var aboveMaxPhysicalAddress: Bool
    /// Condition.
    public var when: LoweredRuleTable?
    /// What was written, for comments.
    public var text: String
}

/// One level, lowered.
public struct LoweredLevel: Sendable {
    public var name: String
    public var indexShift: Int
    public var indexBits: Int
    public var entryBytes: Int
    public var addressMask: UInt64
    public var accessedMask: UInt64
    public var dirtyMask: UInt64
    public var keyMask: UInt64
    public var present: LoweredRuleTable
    public var leafWhen: LoweredRuleTable?
    public var isLast: Bool
    public var loadedWithRoot: Bool
    public var reserved: [LoweredReserved]
    public var leafReserved: [LoweredReserved]
    public var tableReserved: [LoweredReserved]
    /// (fromShift, width, toShift, requires feature index or -1)
    public var pieces: [(fromShift: Int, width: Int, toShift: Int, requires: Int)]
    public var misconfigured: LoweredRuleTable?
    public var leafMisconfigured: LoweredRuleTable?
    /// (mask, denies) per right.
    public var rights: [(mask: UInt64, denies: Bool)]
    public var fields: [(name: String, shift: Int, width: Int)]
    public var layoutName: String
    public var location: SourceLocation
}

/// A paging format, lowered: the data GeneratedMMU's generic walker runs on.
public struct LoweredFormat: Sendable {
    public var name: String
    public var title: String
    public var family: PagingFormat.Family
    public var addressBits: Int
    public var canonical: Bool
    public var physicalAddressLimit: Int
    public var rootRegister: Int
    public var rootMask: UInt64
    public var rootText: String
    public var enabledWhen: LoweredRuleTable
    public var levels: [LoweredLevel]
    public var rightNames: [String]
    public var faults: [(rule: LoweredRuleTable, sets: [Int], why: String)]
    public var factNames: [String]
    public var reportRegister: Int
    public var reportFlags: [(mask: UInt64, field: String, rule: LoweredRuleTable)]
    public var accessedDirtyWhen: LoweredRuleTable
    /// (userRegister, supervisorRegister, pageIsUserRight, adShifts, wdShifts)
    public var protectionKeys: (user: Int, supervisor: Int, pageIsUser: Int, ad: [Int], wd: [Int])?
    /// TLB rules: global leaf rule (entry), tag register+mask, tag/keep rules (control), flush-all fields.
    public var tlb: (global: LoweredRuleTable?, tagRegister: Int, tagMask: UInt64, tagWhen: LoweredRuleTable?,
                     keepWhen: LoweredRuleTable?, flushAll: [(register: Int, mask: UInt64, name: String)])?
    public var rootChecks: [(rule: LoweredRuleTable, why: String)]
    public var rootReserved: [LoweredReserved]
    public var sourceFiles: [String]
    public var location: SourceLocation
}

/// Everything the generator emits, lowered from a ``SpecSet``.
public struct LoweredSpecs: Sendable {
    /// Register names, in index order.
    public var registers: [String]
    /// Feature names, in index order.
    public var features: [String]
    /// Control bits gated by features: (register index, mask, feature index, `CR4.LA57`).
    public var featureGates: [(register: Int, mask: UInt64, feature: Int, name: String)]
    /// Paging formats.
    public var formats: [LoweredFormat]
    /// The spec files.
    public var files: [String]
}
