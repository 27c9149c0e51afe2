/// Bits of a paging-structure entry that are reserved under a condition (SDM Vol. 3A §4.5:
/// address bits above MAXPHYADDR, XD without EFER.NXE, PS where it cannot map a page).
public struct ReservedDescriptor: Sendable, Hashable {
    /// The reserved bits (for `aboveMaxPhysicalAddress`, the address field they are taken from).
    public var mask: UInt64
    /// The bits of `mask` at or above the physical-address width are the reserved ones.
    public var aboveMaxPhysicalAddress: Bool
    /// When the bits are reserved (over control fields and features); `nil` means always.
    public var when: RuleTable?

    /// Creates a descriptor.
    public init(mask: UInt64, aboveMaxPhysicalAddress: Bool = false, when: RuleTable? = nil) {
        self.mask = mask
        self.aboveMaxPhysicalAddress = aboveMaxPhysicalAddress
        self.when = when
    }
}

/// A piece of a page-frame address: entry bits `fromShift..<fromShift+width` land at `toShift`.
public struct AddressPieceDescriptor: Sendable, Hashable {
    /// Low entry bit.
    public var fromShift: UInt8
    /// Width in bits.
    public var width: UInt8
    /// Low physical-address bit.
    public var toShift: UInt8
    /// Feature that enables the piece (its bits are reserved without it), or -1.
    public var requires: Int16

    /// Creates a piece.
    public init(fromShift: UInt8, width: UInt8, toShift: UInt8, requires: Int16 = -1) {
        self.fromShift = fromShift
        self.width = width
        self.toShift = toShift
        self.requires = requires
    }
}

/// How one right folds at one level: the entry bits that grant it, or deny it when `denies`.
public struct RightDescriptor: Sendable, Hashable {
    /// The field's bits; 0 when this level's entry has no such field (the level is neutral).
    public var mask: UInt64
    /// The right holds when the field is 0 (XD).
    public var denies: Bool

    /// Creates a right descriptor.
    public init(mask: UInt64, denies: Bool) {
        self.mask = mask
        self.denies = denies
    }
}

/// One level of a paging format, lowered from the spec (SDM: PML5E, PML4E, PDPTE, PDE, PTE).
public struct LevelDescriptor: Sendable {
    /// Entry name.
    public var name: String
    /// Low bit of the index slice of the address.
    public var indexShift: UInt8
    /// Width of the index slice.
    public var indexBits: UInt8
    /// Entry size: 4 or 8 bytes.
    public var entryBytes: UInt8
    /// The address field (next table or page frame).
    public var addressMask: UInt64
    /// The accessed flag, or 0.
    public var accessedMask: UInt64
    /// The dirty flag, or 0.
    public var dirtyMask: UInt64
    /// The protection-key field, or 0.
    public var keyMask: UInt64
    /// When an entry is present.
    public var present: RuleTable
    /// When a present entry maps a page; `nil` means never, except on the last level (always).
    public var leafWhen: RuleTable?
    /// This is the last level: every present entry maps a page.
    public var isLast: Bool
    /// Entries are loaded with the root (PAE PDPTEs).
    public var loadedWithRoot: Bool
    /// Reserved in every present entry.
    public var reserved: [ReservedDescriptor]
    /// Reserved in leaves.
    public var leafReserved: [ReservedDescriptor]
    /// Reserved in table references.
    public var tableReserved: [ReservedDescriptor]
    /// Page-frame address pieces; empty means the address field above the page offset.
    public var leafPieces: [AddressPieceDescriptor]
    /// Invalid encodings (any entry), or `nil`.
    public var misconfigured: RuleTable?
    /// Invalid encodings of leaves, or `nil`.
    public var leafMisconfigured: RuleTable?
    /// One per right of the format.
    public var rights: [RightDescriptor]
    /// All fields, for decoding entries in traces: (name, low bit, width).
    public var fields: [(name: String, shift: UInt8, width: UInt8)]

    /// Creates a level.
    public init(
        name: String, indexShift: UInt8, indexBits: UInt8, entryBytes: UInt8, addressMask: UInt64,
        accessedMask: UInt64, dirtyMask: UInt64, keyMask: UInt64, present: RuleTable, leafWhen: RuleTable?,
        isLast: Bool, loadedWithRoot: Bool, reserved: [ReservedDescriptor], leafReserved: [ReservedDescriptor],
        tableReserved: [ReservedDescriptor], leafPieces: [AddressPieceDescriptor], misconfigured: RuleTable?,
        leafMisconfigured: RuleTable?, rights: [RightDescriptor], fields: [(name: String, shift: UInt8, width: UInt8)]
    ) {
        self.name = name
        self.indexShift = indexShift
        self.indexBits = indexBits
        self.entryBytes = entryBytes
        self.addressMask = addressMask
        self.accessedMask = accessedMask
        self.dirtyMask = dirtyMask
        self.keyMask = keyMask
        self.present = present
        self.leafWhen = leafWhen
        self.isLast = isLast
        self.loadedWithRoot = loadedWithRoot
        self.reserved = reserved
        self.leafReserved = leafReserved
        self.tableReserved = tableReserved
        self.leafPieces = leafPieces
        self.misconfigured = misconfigured
        self.leafMisconfigured = leafMisconfigured
        self.rights = rights
        self.fields = fields
    }
}

/// A fault rule lowered to a table, with the report facts it sets (`PK`).
public struct FaultDescriptor: Sendable {
    /// When the access faults.
    public var rule: RuleTable
    /// Fact numbers (into ``PagingFormatDescriptor/factNames``) this fault sets.
    public var sets: [UInt16]
    /// Why, for traces.
    public var why: String

    /// Creates a fault descriptor.
    public init(rule: RuleTable, sets: [UInt16], why: String) {
        self.rule = rule
        self.sets = sets
        self.why = why
    }
}

/// Protection keys: the key field and, per key, where its AD and WD bits are in PKRU / IA32_PKRS.
public struct ProtectionKeyDescriptor: Sendable {
    /// Register consulted for user-mode pages.
    public var userRegister: Int
    /// Register consulted for supervisor-mode pages.
    public var supervisorRegister: Int
    /// Right that tells user from supervisor pages.
    public var pageIsUserRight: Int
    /// Bit of AD for key k in the rights register.
    public var accessDisableShift: [UInt8]
    /// Bit of WD for key k.
    public var writeDisableShift: [UInt8]

    /// Creates a descriptor.
    public init(
        userRegister: Int, supervisorRegister: Int, pageIsUserRight: Int, accessDisableShift: [UInt8],
        writeDisableShift: [UInt8]
    ) {
        self.userRegister = userRegister
        self.supervisorRegister = supervisorRegister
        self.pageIsUserRight = pageIsUserRight
        self.accessDisableShift = accessDisableShift
        self.writeDisableShift = writeDisableShift
    }
}

/// Whether faults are page faults or EPT violations and misconfigurations.
public enum PagingFamily: Sendable, Hashable {
    /// Guest paging (#PF, #GP).
    case guest
    /// Extended page tables.
    case ept
}

/// A paging format lowered from `specs/`: everything the generic walker needs, as data.
public struct PagingFormatDescriptor: Sendable {
    /// Format name (`ia32e-4level`).
    public var name: String
    /// Guest paging or EPT.
    public var family: PagingFamily
    /// Input address width.
    public var addressBits: UInt8
    /// Inputs must be canonical.
    public var canonical: Bool
    /// Physical-address limit besides MAXPHYADDR.
    public var physicalAddressLimit: UInt8
    /// Register holding the root.
    public var rootRegister: Int
    /// Field of that register holding the root address.
    public var rootMask: UInt64
    /// When the format is active.
    public var enabledWhen: RuleTable
    /// Levels, top first.
    public var levels: [LevelDescriptor]
    /// Right names, in index order.
    public var rightNames: [String]
    /// Fault rules.
    public var faults: [FaultDescriptor]
    /// Fault facts: `not-present`, `reserved`, then flags set by fault rules.
    public var factNames: [String]
    /// Register whose fields are the report flags.
    public var reportRegister: Int
    /// Report flags: the field's bits and its rule.
    public var reportFlags: [(mask: UInt64, rule: RuleTable)]
    /// When A/D flags are maintained.
    public var accessedDirtyWhen: RuleTable
    /// Protection keys, if any.
    public var protectionKeys: ProtectionKeyDescriptor?
    /// How translations are cached, if they are.
    public var tlb: TLBDescriptor?
    /// Root values the processor refuses (an EPTP that VM entry rejects), with the reason.
    public var rootChecks: [(rule: RuleTable, why: String)]
    /// Root-register bits that must be zero.
    public var rootReserved: [ReservedDescriptor]
    /// The spec files this format came from.
    public var sourceFiles: [String]

    /// Creates a descriptor.
    public init(
        name: String, family: PagingFamily, addressBits: UInt8, canonical: Bool, physicalAddressLimit: UInt8,
        rootRegister: Int, rootMask: UInt64, enabledWhen: RuleTable, levels: [LevelDescriptor], rightNames: [String],
        faults: [FaultDescriptor], factNames: [String], reportRegister: Int,
        reportFlags: [(mask: UInt64, rule: RuleTable)], accessedDirtyWhen: RuleTable,
        protectionKeys: ProtectionKeyDescriptor?, tlb: TLBDescriptor? = nil,
        rootChecks: [(rule: RuleTable, why: String)] = [],
        rootReserved: [ReservedDescriptor] = [], sourceFiles: [String]
    ) {
        self.tlb = tlb
        self.rootChecks = rootChecks
        self.rootReserved = rootReserved
        self.name = name
        self.family = family
        self.addressBits = addressBits
        self.canonical = canonical
        self.physicalAddressLimit = physicalAddressLimit
        self.rootRegister = rootRegister
        self.rootMask = rootMask
        self.enabledWhen = enabledWhen
        self.levels = levels
        self.rightNames = rightNames
        self.faults = faults
        self.factNames = factNames
        self.reportRegister = reportRegister
        self.reportFlags = reportFlags
        self.accessedDirtyWhen = accessedDirtyWhen
        self.protectionKeys = protectionKeys
        self.sourceFiles = sourceFiles
    }
}

/// A control bit that needs a CPUID feature (CR4.LA57 needs `la57`).
public struct FeatureGate: Sendable, Hashable {
    /// Register.
    public var register: Int
    /// The bit.
    public var mask: UInt64
    /// Feature needed.
    public var feature: Int
    /// `CR4.LA57`, for messages.
    public var name: String

    /// Creates a gate.
    public init(register: Int, mask: UInt64, feature: Int, name: String) {
        self.register = register
        self.mask = mask
        self.feature = feature
        self.name = name
    }
}

/// TLB rules of a format, lowered (SDM Vol. 3A §4.10): the global-leaf rule, the address-space tag
/// (PCID), when a root write keeps the tag's entries, and the control fields whose change flushes all.
public struct TLBDescriptor: Sendable {
    /// Leaf-entry rule for global translations.
    public var globalWhen: RuleTable?
    /// Register holding the tag.
    public var tagRegister: Int
    /// The tag's bits in it.
    public var tagMask: UInt64
    /// When the tag is in use.
    public var tagWhen: RuleTable?
    /// When a root write keeps the tag's non-global entries (evaluated on the new value).
    public var keepWhen: RuleTable?
    /// Control fields whose change flushes everything, global entries included.
    public var flushAllOnChange: [(register: Int, mask: UInt64)]

    /// Creates a descriptor.
    public init(
        globalWhen: RuleTable?, tagRegister: Int, tagMask: UInt64, tagWhen: RuleTable?, keepWhen: RuleTable?,
        flushAllOnChange: [(register: Int, mask: UInt64)]
    ) {
        self.globalWhen = globalWhen
        self.tagRegister = tagRegister
        self.tagMask = tagMask
        self.tagWhen = tagWhen
        self.keepWhen = keepWhen
        self.flushAllOnChange = flushAllOnChange
    }
}
