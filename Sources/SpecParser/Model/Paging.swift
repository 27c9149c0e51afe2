/// What a paging-entry field means to the walker, beyond its name.
public enum EntryFieldRole: String, Sendable, Hashable, CaseIterable {
    /// The physical address of the next table or of the page.
    case address
    /// Set by the processor on every entry used (the accessed flag).
    case accessed
    /// Set by the processor in the leaf on a write (the dirty flag).
    case dirty
    /// The protection key of a leaf (PKU/PKS).
    case protectionKey = "protection-key"
}

/// A field of a paging-structure entry (SDM Vol. 3A Tables 4-4 to 4-20, Vol. 3C Table 29-x).
public struct EntryField: Sendable, Hashable {
    /// Name, as the SDM's tables write it (`P`, `R/W` is `RW`, `XD`, `PKEY`).
    public var name: String
    /// Its bits.
    public var bits: BitRange
    /// What the walker does with it, if anything special.
    public var role: EntryFieldRole?
    /// Human description.
    public var title: String
    /// Where it was defined.
    public var location: SourceLocation
}

/// The bit layout shared by the entries of one or more paging formats.
///
/// ```yaml
/// entry-layouts:
///   ia32e-entry:
///     size: 8
///     fields:
///       P: {bit: 0, title: Present}
///       address: {bits: 51:12, role: address}
/// ```
public struct EntryLayout: Sendable {
    /// Layout name.
    public var name: String
    /// Entry size in bytes: 4 or 8.
    public var size: Int
    /// Fields in bit order.
    public var fields: [EntryField]
    /// Where it was defined.
    public var location: SourceLocation

    /// The field called `name`.
    public func field(_ name: String) -> EntryField? { fields.first { $0.name == name } }
    /// The field with `role`.
    public func field(role: EntryFieldRole) -> EntryField? { fields.first { $0.role == role } }
}

/// A condition under which some entry bits are reserved (must be zero in a present entry).
public struct ReservedBits: Sendable, Hashable {
    /// What is reserved.
    public enum Bits: Sendable, Hashable {
        /// Fixed bit positions.
        case range(BitRange)
        /// A named entry field.
        case field(String)
        /// The bits of the address field at or above MAXPHYADDR (and above the format's
        /// physical-address limit).
        case aboveMaxPhysicalAddress
    }
    /// The bits.
    public var bits: Bits
    /// When they are reserved; `nil` means always.
    public var when: Rule?
    /// Where it was written.
    public var location: SourceLocation
}

/// One piece of a page-frame address: entry bits `from` land in physical-address bits `to`.
/// PSE-36 uses a second piece (PDE bits 20:13 → PA bits 39:32).
public struct AddressPiece: Sendable, Hashable {
    /// Entry bits.
    public var from: BitRange
    /// Physical-address bits (same width).
    public var to: BitRange
    /// CPUID feature without which the piece's entry bits are reserved instead.
    public var requires: String?
    /// Where it was written.
    public var location: SourceLocation
}

/// One level of a paging structure hierarchy (PML5E, PML4E, PDPTE, PDE, PTE, EPT levels).
public struct PagingLevel: Sendable {
    /// The entry name at this level (`PML4E`).
    public var name: String
    /// The linear-address bits that index the table.
    public var index: BitRange
    /// The entry layout, when it differs from the format's (PAE PDPTEs).
    public var entryLayout: String?
    /// When a present entry maps a page (`PS`, `PS && CR4.PSE`); `nil` on the last level means
    /// always, elsewhere never.
    public var leafWhen: Rule?
    /// Reserved bits of every present entry at this level.
    public var reserved: [ReservedBits]
    /// Additional reserved bits when the entry maps a page (alignment bits of large pages).
    public var leafReserved: [ReservedBits]
    /// Additional reserved bits when the entry references a table (EPT memory-type bits).
    public var tableReserved: [ReservedBits]
    /// Page-frame address pieces for a leaf; empty means the address field above the page offset.
    public var leafAddress: [AddressPiece]
    /// Entries at this level are loaded with the root (PAE PDPTEs at MOV CR3): reserved bits
    /// make the state invalid rather than fault, and A is never set.
    public var loadedWithRoot: Bool
    /// Where it was defined.
    public var location: SourceLocation

    /// The size of a page mapped at this level: 2^(low bit of the index).
    public var pageShift: Int { index.low }
}

/// How one effective right folds along the walk (SDM Vol. 3A §4.6: R/W and U/S are ANDed,
/// XD is ORed).
public struct RightRule: Sendable, Hashable {
    /// Folding.
    public enum Fold: String, Sendable, Hashable {
        /// The right holds if the field is 1 in every entry that has it.
        case all
        /// The right holds if the field is 0 in every entry that has it.
        case none
    }
    /// Right name (`writable`).
    public var name: String
    /// Folding.
    public var fold: Fold
    /// The entry field folded.
    public var field: String
    /// Where it was defined.
    public var location: SourceLocation
}

/// One fault condition of the access-rights check.
public struct FaultRule: Sendable, Hashable {
    /// The condition under which the access faults.
    public var when: Rule
    /// Error-code flags this fault sets besides the common ones (`PK`).
    public var sets: [String]
    /// Why, in the SDM's words, for `--explain`.
    public var why: String
    /// Where it was defined.
    public var location: SourceLocation
}

/// Protection keys: which entry field holds the key and which registers give each key's rights.
public struct ProtectionKeys: Sendable, Hashable {
    /// The entry field with the key (`PKEY`).
    public var field: String
    /// Register consulted for user-mode pages (`PKRU`).
    public var userRegister: String
    /// Register consulted for supervisor-mode pages (`IA32_PKRS`).
    public var supervisorRegister: String
    /// Right that tells a user page from a supervisor page (`user`).
    public var pageIsUser: String
    /// Where it was defined.
    public var location: SourceLocation
    /// Where each value was written, by spec key (`field`, `user-pages`, `supervisor-pages`,
    /// `page-is-user`).
    public var keyLocations: [String: SourceLocation] = [:]
}

/// A paging format: one of the SDM's paging modes, or an EPT format (Vol. 3A §4.3–4.5,
/// Vol. 3C §29.3), as layout data plus rules.
public struct PagingFormat: Sendable {
    /// Whether the format translates linear addresses for the guest (faults are #PF) or
    /// guest-physical addresses (EPT: faults are EPT violations and misconfigurations).
    public enum Family: String, Sendable, Hashable {
        /// Guest paging: faults are page faults.
        case guest
        /// Extended page tables.
        case ept
    }
    /// Format name (`ia32e-4level`).
    public var name: String
    /// Human title.
    public var title: String
    /// Family.
    public var family: Family
    /// The format this one extends, if any.
    public var extends: Located<String>?
    /// When this format is the active one, over control-register bits.
    public var enabledWhen: Rule?
    /// Width of the input (linear or guest-physical) address.
    public var addressBits: Int
    /// Whether inputs must be canonical (bits above `addressBits - 1` equal to that bit).
    public var canonical: Bool
    /// Upper bound on physical-address width besides MAXPHYADDR (40 for 32-bit paging).
    public var physicalAddressLimit: Int?
    /// The default entry layout.
    public var entryLayout: String
    /// Where the entry layout was named.
    public var entryLocation: SourceLocation
    /// Register and field holding the root table's address (`CR3.address`).
    public var root: Located<String>
    /// Levels, top first.
    public var levels: [PagingLevel]
    /// When a fetched entry is present.
    public var present: Rule
    /// Reserved bits of every present entry at every level.
    public var reserved: [ReservedBits]
    /// Entry encodings that are invalid whatever the access (EPT misconfigurations).
    public var misconfigured: [Rule]
    /// Same, checked only on leaves (EPT memory types 2, 3 and 7).
    public var leafMisconfigured: [Rule]
    /// How rights fold along the walk.
    public var rights: [RightRule]
    /// The access-rights faults.
    public var faults: [FaultRule]
    /// The fault-report builder: each flag of the error code (or exit qualification) as a rule.
    public var report: FaultReport
    /// When the accessed and dirty flags are maintained (`EPTP.AD` for EPT); `nil` means always.
    public var accessedDirtyWhen: Rule?
    /// Protection keys, if the format has them.
    public var protectionKeys: ProtectionKeys?
    /// Conditions under which the root register holds a value the processor rejects (an EPTP that
    /// VM entry would refuse), each with its reason.
    public var rootChecks: [RootCheck]
    /// Bits of the root register that must be zero (`above-maxphyaddr` means the root field's bits at
    /// or above MAXPHYADDR).
    public var rootReserved: [ReservedBits]
    /// How translations of this format are cached, if they are (guest formats).
    public var tlb: TLBRules?
    /// Spec source cited by the file.
    public var source: String
    /// Spec file and position.
    public var location: SourceLocation
    /// Files this format's definition came from (itself and what it extends).
    public var files: [String]
}

/// How a fault is reported: which register layout (`PF_ERROR_CODE`) and a rule per flag.
public struct FaultReport: Sendable {
    /// The register whose fields are the flags.
    public var register: Located<String>
    /// One rule per field, in spec order.
    public var flags: [(field: String, rule: Rule)]
    /// Where it was defined.
    public var location: SourceLocation
    /// Where each flag's name was written.
    public var flagLocations: [String: SourceLocation] = [:]
}

/// A condition that makes the root register invalid (SDM Vol. 3C §27.2.1.1: EPTP checks on VM entry).
public struct RootCheck: Sendable, Hashable {
    /// When the root value is invalid.
    public var invalidWhen: Rule
    /// Why, for messages.
    public var why: String
    /// Where it was written.
    public var location: SourceLocation
}

/// How the TLB caches a format's translations (SDM Vol. 3A §4.10): which leaves are global, which
/// register field tags address spaces (PCIDs), and which root write keeps the tag's entries.
///
/// ```yaml
/// tlb:
///   global-when: G && CR4.PGE
///   tag: CR3.PCID
///   tag-when: CR4.PCIDE
///   keep-when: CR4.PCIDE && CR3.no-flush
/// ```
public struct TLBRules: Sendable {
    /// Leaf-entry rule: the translation survives root writes and is shared by all tags.
    public var globalWhen: Rule?
    /// Register field that tags cached translations (`CR3.PCID`).
    public var tag: Located<String>?
    /// When the tag is in use; otherwise the tag is 0.
    public var tagWhen: Rule?
    /// Rule over the new root-register value and control state: a root write keeps the tag's
    /// non-global entries (`CR3.no-flush` with PCIDs).
    public var keepWhen: Rule?
    /// Control fields whose change invalidates every cached translation, global ones included.
    public var flushAllOnChange: [Located<String>]
    /// Where it was defined.
    public var location: SourceLocation
}
