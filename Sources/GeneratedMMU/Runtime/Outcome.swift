/// A successful translation (SDM Vol. 3A §4.3–4.5: the physical address, page size and rights).
public struct Translation: Sendable, Hashable {
    /// The physical address.
    public var physical: UInt64
    /// Bytes mapped by the leaf.
    public var pageSize: UInt64
    /// Folded rights: bit i is the format's right i (`writable`, `user`, `executable` for IA-32e).
    public var rights: UInt8
    /// The leaf entry (memory-type bits PWT/PCD/PAT or EPT MT/IPAT live here).
    public var leafEntry: UInt64
    /// The level that mapped the page (0 = top).
    public var level: Int

    /// Creates a translation.
    @inlinable
    public init(physical: UInt64, pageSize: UInt64, rights: UInt8, leafEntry: UInt64, level: Int) {
        self.physical = physical
        self.pageSize = pageSize
        self.rights = rights
        self.leafEntry = leafEntry
        self.level = level
    }
}

/// Why a walk faulted.
public enum FaultKind: Sendable, Hashable {
    /// An entry was not present.
    case notPresent
    /// A reserved bit was set in a present entry.
    case reserved
    /// The access rights deny the access.
    case protection
    /// The entry's encoding is invalid (EPT misconfiguration).
    case misconfiguration
}

/// A fault with its report (the #PF error code, or the EPT-violation exit qualification).
public struct Fault: Sendable, Hashable {
    /// Why.
    public var kind: FaultKind
    /// Error code or exit qualification, built by the format's report rules.
    public var report: UInt64
    /// Level at which the walk stopped.
    public var level: Int
    /// Rights folded so far (including the entry that ended the walk).
    public var rights: UInt8

    /// Creates a fault.
    @inlinable
    public init(kind: FaultKind, report: UInt64, level: Int, rights: UInt8) {
        self.kind = kind
        self.report = report
        self.level = level
        self.rights = rights
    }
}

/// What a walk produced.
public enum WalkOutcome: Sendable, Hashable {
    /// The address translates.
    case translation(Translation)
    /// The access faults.
    case fault(Fault)
    /// The address is not canonical (#GP).
    case generalProtection
    /// The state is one the CPU cannot hold (a PAE PDPTE with reserved bits: MOV CR3 would #GP).
    case invalidState(String)
    /// A paging-structure entry lies outside the memory given to the walker.
    case outsideMemory(UInt64)
    /// The EPT translation of a guest-physical address (a guest paging-structure entry or the final
    /// address) faulted: an EPT violation or misconfiguration at that guest-physical address.
    case nestedFault(Fault, guestPhysical: UInt64)
}

/// Receives each step of a walk, for `specc walk --explain`; the default does nothing and costs nothing.
public protocol WalkTracer {
    /// Whether the walker should build the messages for ``end(_:)``; a tracer that records nothing
    /// says no, and the walk then builds no strings at all. Defaults to true.
    var isEnabled: Bool { get }
    /// An entry was read at `level` from `address` (table base + index × size).
    mutating func entry(level: Int, tableAddress: UInt64, index: UInt64, address: UInt64, value: UInt64)
    /// The walk ended; `reason` names the rule.
    mutating func end(_ reason: String)
}

extension WalkTracer {
    /// Tracers record by default.
    @inlinable public var isEnabled: Bool { true }
}

/// The tracer that records nothing.
public struct NoTracer: WalkTracer {
    /// Creates it.
    @inlinable public init() {}
    /// Records nothing, so the walk builds no messages.
    @inlinable public var isEnabled: Bool { false }
    /// Records nothing.
    @inlinable public mutating func entry(
        level: Int, tableAddress: UInt64, index: UInt64, address: UInt64, value: UInt64
    ) {}
    /// Records nothing.
    @inlinable public mutating func end(_ reason: String) {}
}
