/// Attributes of a memory access, as the fault rules of the specs see them (`access.write`, …).
///
/// Models the SDM's access classification (Vol. 3A §4.6): type, user or supervisor mode, implicit
/// supervisor accesses; for EPT (Vol. 3C Table 28-7), whether a guest linear address was
/// translated and whether this is the final translation or a guest paging-structure access.
public struct AccessAttributes: OptionSet, Sendable, Hashable {
    /// The raw attribute bits.
    public let rawValue: UInt32
    /// Creates attributes from raw bits.
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// A data read.
    @inlinable public static var read: AccessAttributes { AccessAttributes(rawValue: 1 << 0) }
    /// A data write.
    @inlinable public static var write: AccessAttributes { AccessAttributes(rawValue: 1 << 1) }
    /// An instruction fetch.
    @inlinable public static var fetch: AccessAttributes { AccessAttributes(rawValue: 1 << 2) }
    /// A data access (read or write).
    @inlinable public static var data: AccessAttributes { AccessAttributes(rawValue: 1 << 3) }
    /// A user-mode access (CPL 3, not implicit).
    @inlinable public static var user: AccessAttributes { AccessAttributes(rawValue: 1 << 4) }
    /// A supervisor-mode access.
    @inlinable public static var supervisor: AccessAttributes { AccessAttributes(rawValue: 1 << 5) }
    /// An implicit supervisor access.
    @inlinable public static var implicit: AccessAttributes { AccessAttributes(rawValue: 1 << 6) }
    /// EPT: a guest linear address was translated.
    @inlinable public static var linearValid: AccessAttributes { AccessAttributes(rawValue: 1 << 7) }
    /// EPT: the final translation, not a guest paging-structure access.
    @inlinable public static var final: AccessAttributes { AccessAttributes(rawValue: 1 << 8) }
    /// EPT: the guest page is user-mode.
    @inlinable public static var guestUser: AccessAttributes { AccessAttributes(rawValue: 1 << 9) }
    /// EPT: the guest page is writable.
    @inlinable public static var guestWritable: AccessAttributes { AccessAttributes(rawValue: 1 << 10) }
    /// EPT: the guest page is execute-disabled.
    @inlinable public static var guestExecuteDisabled: AccessAttributes { AccessAttributes(rawValue: 1 << 11) }
}

/// The type of a memory access.
public enum AccessKind: UInt8, Sendable, Hashable, CaseIterable {
    /// Data read.
    case read
    /// Data write.
    case write
    /// Instruction fetch.
    case fetch
}

/// One access to translate: an address, its type and mode.
///
/// ```swift
/// let access = Access(address: 0x7f12_3460_3100, kind: .write, cpl: 3)
/// ```
public struct Access: Sendable, Hashable {
    /// The linear (or, for EPT, guest-physical) address.
    public var address: UInt64
    /// Read, write or fetch.
    public var kind: AccessKind { didSet { derived = Self.attributes(kind, cpl, implicit, extra) } }
    /// Current privilege level, 0–3.
    public var cpl: UInt8 { didSet { derived = Self.attributes(kind, cpl, implicit, extra) } }
    /// An implicit supervisor access (descriptor tables), whatever the CPL.
    public var implicit: Bool { didSet { derived = Self.attributes(kind, cpl, implicit, extra) } }
    /// Extra attributes (EPT context).
    public var extra: AccessAttributes { didSet { derived = Self.attributes(kind, cpl, implicit, extra) } }
    /// All attributes, derived from kind, CPL, the implicit flag and the extra attributes when the
    /// access is made (so that a walk or a TLB hit reads them instead of deriving them).
    @inlinable public var attributes: AccessAttributes { derived }
    @usableFromInline var derived: AccessAttributes

    /// Creates an access.
    @inlinable
    public init(address: UInt64, kind: AccessKind, cpl: UInt8 = 0, implicit: Bool = false, extra: AccessAttributes = [])
    {
        self.address = address
        self.kind = kind
        self.cpl = cpl
        self.implicit = implicit
        self.extra = extra
        derived = Self.attributes(kind, cpl, implicit, extra)
    }

    /// The attributes of an access of `kind` at `cpl`.
    @inlinable
    static func attributes(_ kind: AccessKind, _ cpl: UInt8, _ implicit: Bool, _ extra: AccessAttributes)
        -> AccessAttributes
    {
        var a = extra
        switch kind {
        case .read: a.formUnion([.read, .data])
        case .write: a.formUnion([.write, .data])
        case .fetch: a.insert(.fetch)
        }
        if cpl == 3 && !implicit { a.insert(.user) } else { a.insert(.supervisor) }
        if implicit { a.insert(.implicit) }
        return a
    }
}
