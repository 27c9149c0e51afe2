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
    /// The entry name at this level (`PML4E`).
    public var name: String
    /// Low bit of the input-address bits that index this level's table (a leaf's page shift).
    public var indexShift: Int
    /// Number of input-address bits that index the table (9 for 8-byte entries, 10 for 32-bit paging).
    public var indexBits: Int
    /// Entry size in bytes: 8, or 4 for 32-bit paging.
    public var entryBytes: Int
    /// The entry's address field: the physical address of the next table or of the page frame.
    public var addressMask: UInt64
    /// The accessed (A) flag, set in every entry the walk uses; 0 when the layout has none.
    public var accessedMask: UInt64
    /// The dirty (D) flag, set in a leaf on a write; 0 when the layout has none.
    public var dirtyMask: UInt64
    /// The protection-key field of a leaf (`PKEY`); 0 when the layout has none.
    public var keyMask: UInt64
    /// When a fetched entry is present (P for guest paging, any of R/W/X for EPT).
    public var present: LoweredRuleTable
    /// When a present entry maps a page (`PS`); nil means always on the last level, never elsewhere.
    public var leafWhen: LoweredRuleTable?
    /// Whether this is the lowest level, whose present entries always map a page.
    public var isLast: Bool
    /// Entries loaded with the root (PAE PDPTEs at MOV CR3): reserved bits make the state invalid.
    public var loadedWithRoot: Bool
    /// Bits that must be zero in every present entry (reserved-bit #PF / EPT misconfiguration).
    public var reserved: [LoweredReserved]
    /// Additional bits that must be zero in a leaf (alignment bits of large pages).
    public var leafReserved: [LoweredReserved]
    /// Additional bits that must be zero in a non-leaf entry (EPT memory-type bits).
    public var tableReserved: [LoweredReserved]
    /// (fromShift, width, toShift, requires feature index or -1)
    public var pieces: [(fromShift: Int, width: Int, toShift: Int, requires: Int)]
    /// Entry encodings invalid whatever the access (EPT misconfigurations); nil when there are none.
    public var misconfigured: LoweredRuleTable?
    /// Same as `misconfigured`, checked only on leaves (EPT memory types 2, 3 and 7).
    public var leafMisconfigured: LoweredRuleTable?
    /// (mask, denies) per right.
    public var rights: [(mask: UInt64, denies: Bool)]
    /// The entry layout's fields (name, low bit, width), for traces and comments.
    public var fields: [(name: String, shift: Int, width: Int)]
    /// The name of the entry layout this level uses.
    public var layoutName: String
    /// Where the level was defined in the specs.
    public var location: SourceLocation
}

/// A paging format, lowered: the data GeneratedMMU's generic walker runs on.
public struct LoweredFormat: Sendable {
    /// Format name (`ia32e-4level`).
    public var name: String
    /// Human-readable title, for comments.
    public var title: String
    /// Guest paging (faults are #PF) or EPT (EPT violations and misconfigurations).
    public var family: PagingFormat.Family
    /// Width of the input (linear or guest-physical) address.
    public var addressBits: Int
    /// Whether inputs must be canonical (bits above `addressBits - 1` equal to that bit).
    public var canonical: Bool
    /// Upper bound on physical-address width besides MAXPHYADDR (40 for 32-bit paging; else 64).
    public var physicalAddressLimit: Int
    /// Index of the register holding the root table's address (CR3, EPTP).
    public var rootRegister: Int
    /// The root register's address field (`CR3.address`), as a mask.
    public var rootMask: UInt64
    /// The root as the spec wrote it (`CR3.address`), for comments.
    public var rootText: String
    /// When this format is the active one, over control bits and features (always if unspecified).
    public var enabledWhen: LoweredRuleTable
    /// Levels, top first.
    public var levels: [LoweredLevel]
    /// Names of the rights folded along the walk (`writable`, `user`, …), in rights-bit order.
    public var rightNames: [String]
    /// The access-rights faults: condition, indices into `factNames` it sets, and the SDM's reason.
    public var faults: [(rule: LoweredRuleTable, sets: [Int], why: String)]
    /// Fault facts the report rules see: `not-present`, `reserved`, then those the fault rules set.
    public var factNames: [String]
    /// Index of the register whose fields are the report flags (error code / exit qualification).
    public var reportRegister: Int
    /// Each report flag: its mask in the report register, its field name and its rule.
    public var reportFlags: [(mask: UInt64, field: String, rule: LoweredRuleTable)]
    /// When the accessed and dirty flags are maintained (`EPTP.AD` for EPT; always if unspecified).
    public var accessedDirtyWhen: LoweredRuleTable
    /// (userRegister, supervisorRegister, pageIsUserRight, adShifts, wdShifts)
    public var protectionKeys: (user: Int, supervisor: Int, pageIsUser: Int, ad: [Int], wd: [Int])?
    /// TLB rules: global leaf rule (entry), tag register+mask, tag/keep rules (control), flush-all fields.
    public var tlb:
        (
            global: LoweredRuleTable?, tagRegister: Int, tagMask: UInt64, tagWhen: LoweredRuleTable?,
            keepWhen: LoweredRuleTable?, flushAll: [(register: Int, mask: UInt64, name: String)]
        )?
    /// Conditions under which the root register holds a value the processor rejects, with reasons.
    public var rootChecks: [(rule: LoweredRuleTable, why: String)]
    /// Bits of the root register that must be zero (including those at or above MAXPHYADDR).
    public var rootReserved: [LoweredReserved]
    /// Spec files this format's definition came from (itself and what it extends), sorted.
    public var sourceFiles: [String]
    /// Where the format was defined in the specs.
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
