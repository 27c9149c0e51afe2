/// What reading a paging-structure entry produced: its value, or the outcome that ends the walk.
public enum EntryRead: Sendable {
    /// The entry's value.
    case value(UInt64)
    /// The walk ends here (the entry's address is outside memory, or its EPT translation faulted).
    case stop(WalkOutcome)
}

/// What updating an entry's accessed/dirty flags produced.
public enum EntryUpdate: Sendable {
    /// The new value is stored.
    case stored
    /// Another writer changed the entry first: walk again.
    case changed
    /// The walk ends here (the update's EPT translation faulted).
    case stop(WalkOutcome)
}

/// The address space the walker's paging structures live in: physical memory directly, or
/// guest-physical memory translated through EPT (nested paging, SDM Vol. 3C §29.3.1).
public protocol EntrySpace {
    /// Reads the `bytes`-wide entry at `address`.
    func readEntry(_ address: UInt64, bytes: UInt64) -> EntryRead
    /// Reads an entry loaded with the root (a PAE PDPTE at MOV CR3) from the table at `base`.
    func readRootEntry(_ address: UInt64, base: UInt64, bytes: UInt64) -> EntryRead
    /// Atomically replaces `expected` with `desired` at `address`.
    func updateEntry(_ address: UInt64, bytes: UInt64, expected: UInt64, desired: UInt64) -> EntryUpdate
    /// Translates the walk's output address (for nested paging: through EPT), before any A/D update.
    func translateFinal(_ translation: Translation, attributes: AccessAttributes) -> WalkOutcome
    /// The 8-byte entry at `address` when reading it is plain (nil: take ``readEntry(_:bytes:)``, which
    /// says why not). For the walker's shortest path; the default reads through `readEntry`.
    func quickEntry(_ address: UInt64) -> UInt64?
}

extension EntrySpace {
    /// The entry through ``readEntry(_:bytes:)``, nil when that stops the walk.
    @inlinable
    public func quickEntry(_ address: UInt64) -> UInt64? {
        if case .value(let v) = readEntry(address, bytes: 8) { return v }
        return nil
    }
}

/// Paging structures in physical memory: no second stage.
public struct DirectSpace<M: PhysicalMemory>: EntrySpace {
    /// The memory.
    public let memory: M

    /// Wraps `memory`.
    @inlinable public init(_ memory: M) { self.memory = memory }

    @inlinable
    public func readEntry(_ address: UInt64, bytes: UInt64) -> EntryRead {
        if bytes == 8 {
            guard let v = memory.load64(address) else { return .stop(.outsideMemory(address)) }
            return .value(v)
        }
        guard let v = memory.load32(address) else { return .stop(.outsideMemory(address)) }
        return .value(UInt64(v))
    }

    @inlinable
    public func readRootEntry(_ address: UInt64, base: UInt64, bytes: UInt64) -> EntryRead {
        readEntry(address, bytes: bytes)
    }

    /// The 8-byte word at `address`, nil outside the memory.
    @inlinable
    public func quickEntry(_ address: UInt64) -> UInt64? { memory.load64(address) }

    @inlinable
    public func updateEntry(_ address: UInt64, bytes: UInt64, expected: UInt64, desired: UInt64) -> EntryUpdate {
        let ok = bytes == 8
            ? memory.compareExchange64(address, expected: expected, desired: desired)
            : memory.compareExchange32(address, expected: UInt32(truncatingIfNeeded: expected),
                                       desired: UInt32(truncatingIfNeeded: desired))
        return ok ? .stored : .changed
    }

    @inlinable
    public func translateFinal(_ translation: Translation, attributes: AccessAttributes) -> WalkOutcome {
        .translation(translation)
    }
}

/// Guest paging structures in guest-physical memory, translated through EPT: every entry read and
/// the final guest-physical address go through an EPT walk (SDM Vol. 3C §29.3.3).
///
/// Guest paging-structure accesses are reads, or writes when EPT A/D is enabled; setting a guest
/// A/D flag is a read-modify-write. EPT faults on them report a valid linear address and a
/// paging-structure access (exit-qualification bits 7 = 1, 8 = 0); the final access reports bit 8 = 1
/// and the guest page's rights as the advanced information (bits 9–11).
public struct NestedSpace<M: PhysicalMemory>: EntrySpace {
    /// The EPT format, prepared.
    public let ept: PreparedFormat
    /// Host-physical memory.
    public let memory: M
    /// Names of the guest format's rights that give the advanced information: user, writable, executable.
    public let guestRights: (user: Int?, writable: Int?, executable: Int?)

    /// Guest paging-structure reads as EPT sees them: a read (a write with EPT A/D) of a valid linear
    /// address; and their permission map.
    @usableFromInline let structureRead: AccessAttributes
    @usableFromInline let structureReadMap: UInt64

    /// Creates the space.
    public init(ept: PreparedFormat, memory: M, guest: PagingFormatDescriptor?) {
        self.ept = ept
        self.memory = memory
        let names = guest?.rightNames ?? []
        guestRights = (names.firstIndex(of: "user"), names.firstIndex(of: "writable"), names.firstIndex(of: "executable"))
        let extra: AccessAttributes = ept.maintainsAccessedDirty ? [.linearValid, .write] : [.linearValid]
        structureRead = Access(address: 0, kind: .read, extra: extra).attributes
        structureReadMap = Walker.faultMap(ept, structureRead)
    }

    @inlinable
    func eptWalk(_ address: UInt64, _ access: Access) -> WalkOutcome {
        nested(Walker.walk(ept, access, space: DirectSpace(memory)), address)
    }

    /// An EPT walk's outcome as the nested walk reports it: faults are EPT faults at `address`.
    @inlinable @inline(__always)
    func nested(_ outcome: WalkOutcome, _ address: UInt64) -> WalkOutcome {
        switch outcome {
        case .fault(let f): return .nestedFault(f, guestPhysical: address)
        case .nestedFault(let f, _): return .nestedFault(f, guestPhysical: address)
        case let other: return other
        }
    }

    @inlinable
    public func readEntry(_ address: UInt64, bytes: UInt64) -> EntryRead {
        if let t = Walker.quickTranslate(ept, address, structureReadMap, isWrite: structureRead.contains(.write),
                                         DirectSpace(memory)) {
            return DirectSpace(memory).readEntry(t.physical, bytes: bytes)
        }
        let outcome = Walker.walk(ept, address, structureRead, faultMap: structureReadMap, space: DirectSpace(memory))
        if case .translation(let t) = outcome {
            return DirectSpace(memory).readEntry(t.physical, bytes: bytes)
        }
        return .stop(nested(outcome, address))
    }

    /// A guest paging-structure entry whose EPT translation takes the shortest path; nil otherwise
    /// (the walk then reads it through ``readEntry(_:bytes:)``).
    @inlinable
    public func quickEntry(_ address: UInt64) -> UInt64? {
        guard let t = Walker.quickTranslate(ept, address, structureReadMap, isWrite: structureRead.contains(.write),
                                            DirectSpace(memory))
        else { return nil }
        return memory.load64(t.physical)
    }

    /// PDPTE loads belong to MOV CR3: plain reads (no EPT D even with EPT A/D), with no guest linear
    /// address; a fault reports the table's base.
    @inlinable
    public func readRootEntry(_ address: UInt64, base: UInt64, bytes: UInt64) -> EntryRead {
        switch eptWalk(base, Access(address: base, kind: .read)) {
        case .translation(let t):
            return DirectSpace(memory).readEntry(t.physical &+ (address &- base), bytes: bytes)
        case let stop:
            return .stop(stop)
        }
    }

    @inlinable
    public func updateEntry(_ address: UInt64, bytes: UInt64, expected: UInt64, desired: UInt64) -> EntryUpdate {
        // Setting a guest A/D flag is a read-modify-write of the guest paging structure.
        switch eptWalk(address, Access(address: address, kind: .read, extra: [.linearValid, .write])) {
        case .translation(let t):
            return DirectSpace(memory).updateEntry(t.physical, bytes: bytes, expected: expected, desired: desired)
        case let stop:
            return .stop(stop)
        }
    }

    @inlinable
    public func translateFinal(_ translation: Translation, attributes: AccessAttributes) -> WalkOutcome {
        var extra: AccessAttributes = [.linearValid, .final]
        if guestRights.user.map({ (translation.rights >> UInt8($0)) & 1 != 0 }) ?? true { extra.insert(.guestUser) }
        if guestRights.writable.map({ (translation.rights >> UInt8($0)) & 1 != 0 }) ?? true { extra.insert(.guestWritable) }
        if !(guestRights.executable.map({ (translation.rights >> UInt8($0)) & 1 != 0 }) ?? true) {
            extra.insert(.guestExecuteDisabled)
        }
        let kind: AccessKind = attributes.contains(.fetch) ? .fetch : attributes.contains(.write) ? .write : .read
        let access = Access(address: translation.physical, kind: kind, extra: extra)
        let finalAttributes = access.attributes
        if let t = Walker.quickTranslate(ept, translation.physical, Walker.faultMap(ept, finalAttributes),
                                         isWrite: finalAttributes.contains(.write), DirectSpace(memory)) {
            var combined = translation
            combined.physical = t.physical
            combined.pageSize = min(translation.pageSize, t.pageSize)
            return .translation(combined)
        }
        switch eptWalk(translation.physical, access) {
        case .translation(let t):
            var combined = translation
            combined.physical = t.physical
            combined.pageSize = min(translation.pageSize, t.pageSize)
            return .translation(combined)
        case let other:
            return other
        }
    }
}

