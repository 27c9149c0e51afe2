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
    /// The final translation when it takes the shortest path (nil: the walker walks again and calls
    /// ``translateFinal(_:attributes:)``, which gives the outcome). The default calls `translateFinal`.
    func quickFinal(_ translation: Translation, attributes: AccessAttributes) -> Translation?
}

extension EntrySpace {
    /// The entry through ``readEntry(_:bytes:)``, nil when that stops the walk.
    @inlinable
    public func quickEntry(_ address: UInt64) -> UInt64? {
        if case .value(let v) = readEntry(address, bytes: 8) { return v }
        return nil
    }

    /// The final translation through ``translateFinal(_:attributes:)``, nil unless it translates.
    @inlinable
    public func quickFinal(_ translation: Translation, attributes: AccessAttributes) -> Translation? {
        if case .translation(let t) = translateFinal(translation, attributes: attributes) { return t }
        return nil
    }
}

/// Paging structures in physical memory: no second stage.
public struct DirectSpace<M: PhysicalMemory>: EntrySpace {
    /// The memory.
    public let memory: M

    /// Wraps `memory`.
    @inlinable public init(_ memory: M) { self.memory = memory }

    /// Loads the 4- or 8-byte entry at physical `address`; stops the walk when it is outside memory.
    @inlinable
    public func readEntry(_ address: UInt64, bytes: UInt64) -> EntryRead {
        if bytes == 8 {
            guard let v = memory.load64(address) else { return .stop(.outsideMemory(address)) }
            return .value(v)
        }
        guard let v = memory.load32(address) else { return .stop(.outsideMemory(address)) }
        return .value(UInt64(v))
    }

    /// Reads the entry like any other: without a second stage, root-loaded entries need nothing more.
    @inlinable
    public func readRootEntry(_ address: UInt64, base: UInt64, bytes: UInt64) -> EntryRead {
        readEntry(address, bytes: bytes)
    }

    /// The 8-byte word at `address`, nil outside the memory.
    @inlinable
    public func quickEntry(_ address: UInt64) -> UInt64? { memory.load64(address) }

    /// Compare-exchanges the entry in physical memory: `.stored`, or `.changed` if another writer won.
    @inlinable
    public func updateEntry(_ address: UInt64, bytes: UInt64, expected: UInt64, desired: UInt64) -> EntryUpdate {
        let ok =
            bytes == 8
            ? memory.compareExchange64(address, expected: expected, desired: desired)
            : memory.compareExchange32(
                address, expected: UInt32(truncatingIfNeeded: expected),
                desired: UInt32(truncatingIfNeeded: desired))
        return ok ? .stored : .changed
    }

    /// The translation unchanged: the walk's output is already a physical address.
    @inlinable
    public func translateFinal(_ translation: Translation, attributes: AccessAttributes) -> WalkOutcome {
        .translation(translation)
    }

    /// The translation unchanged.
    @inlinable @inline(__always)
    public func quickFinal(_ translation: Translation, attributes: AccessAttributes) -> Translation? { translation }
}

/// Guest paging structures in guest-physical memory, translated through EPT: every entry read and
/// the final guest-physical address go through an EPT walk (SDM Vol. 3C §29.3.3).
///
/// Guest paging-structure accesses are reads, or writes when EPT A/D is enabled; setting a guest
/// A/D flag is a read-modify-write. EPT faults on them report a valid linear address and a
/// paging-structure access (exit-qualification bits 7 = 1, 8 = 0); the final access reports bit 8 = 1
/// and the guest page's rights as the advanced information (bits 9–11).
///
/// A class: made once per EPT context (what KVM keeps per vCPU MMU), and passed to every walk as one
/// reference, so the walk reads its fields in place.
public final class NestedSpace<M: PhysicalMemory>: EntrySpace {
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
    /// The final accesses' attributes and permission maps, prepared once for every access type and
    /// guest-page rights combination.
    @usableFromInline let finals: FinalAccesses

    /// Creates the space.
    public init(ept: PreparedFormat, memory: M, guest: PagingFormatDescriptor?) {
        self.ept = ept
        self.memory = memory
        let names = guest?.rightNames ?? []
        guestRights = (
            names.firstIndex(of: "user"), names.firstIndex(of: "writable"), names.firstIndex(of: "executable")
        )
        let extra: AccessAttributes = ept.maintainsAccessedDirty ? [.linearValid, .write] : [.linearValid]
        structureRead = Access(address: 0, kind: .read, extra: extra).attributes
        structureReadMap = Walker.faultMap(ept, structureRead)
        finals = FinalAccesses(ept: ept, guestRights: guestRights)
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

    /// Translates guest-physical `address` through EPT as a paging-structure read, then loads the entry.
    @inlinable
    public func readEntry(_ address: UInt64, bytes: UInt64) -> EntryRead {
        if let t = Walker.quickTranslate(
            ept, address, structureReadMap, isWrite: structureRead.contains(.write),
            DirectSpace(memory))
        {
            return DirectSpace(memory).readEntry(t.physical, bytes: bytes)
        }
        let outcome = Walker.walk(ept, address, structureRead, faultMap: structureReadMap, space: DirectSpace(memory))
        if case .translation(let t) = outcome {
            return DirectSpace(memory).readEntry(t.physical, bytes: bytes)
        }
        return .stop(nested(outcome, address))
    }

    /// A guest paging-structure entry whose EPT translation takes the shortest path; nil otherwise
    /// (the walk then reads it through ``readEntry(_:bytes:)``). Specialised for the memory but kept
    /// out of line: this EPT walk then has the registers to itself and the guest walk keeps its own
    /// state in registers across the call, where inlined into the guest loop both spilled (nested 4×4
    /// at 1.19× C inlined, 1.11× out of line, paired batches; the final translation stays inlined).
    @inlinable @inline(never)
    public func quickEntry(_ address: UInt64) -> UInt64? {
        guard
            let t = Walker.quickTranslate(
                ept, address, structureReadMap, isWrite: structureRead.contains(.write),
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

    /// Sets guest A/D flags: an EPT-translated read-modify-write of the entry, then a compare-exchange.
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

    /// Translates the guest walk's output through EPT as the final access, keeping the smaller page size.
    @inlinable
    public func translateFinal(_ translation: Translation, attributes: AccessAttributes) -> WalkOutcome {
        if let t = quickFinal(translation, attributes: attributes) { return .translation(t) }
        return translateFinalByWalking(
            translation, finals.attributes[finals.index(attributes, rights: translation.rights)])
    }

    /// The final translation by EPT's shortest path; nil when that path gives up (A/D flags to set, a
    /// fault), having changed nothing. Inlined into the guest walk, with the EPT walk itself out of
    /// line like ``quickEntry(_:)``'s (its own registers; the guest's translation stays in the caller's).
    @inlinable @inline(__always)
    public func quickFinal(_ translation: Translation, attributes: AccessAttributes) -> Translation? {
        guard let t = quickFinalEPT(translation.physical, finals.index(attributes, rights: translation.rights))
        else { return nil }
        var combined = translation
        combined.physical = t.physical
        combined.pageSize = min(translation.pageSize, t.pageSize)
        return combined
    }

    /// The final access's quick EPT walk for slot `i` of ``finals``: host-physical address and page size.
    @inlinable @inline(never)
    func quickFinalEPT(_ address: UInt64, _ i: Int) -> (physical: UInt64, pageSize: UInt64)? {
        guard
            let t = Walker.quickTranslate(
                ept, address, finals.maps[i], isWrite: finals.attributes[i].contains(.write), DirectSpace(memory))
        else { return nil }
        return (t.physical, t.pageSize)
    }

    /// The final translation by the full EPT walk (A/D flags to set, faults, slow formats).
    @usableFromInline @inline(never)
    func translateFinalByWalking(_ translation: Translation, _ attributes: AccessAttributes) -> WalkOutcome {
        let outcome = Walker.walk(
            ept, translation.physical, attributes, faultMap: Walker.faultMap(ept, attributes),
            space: DirectSpace(memory))
        switch nested(outcome, translation.physical) {
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

/// The EPT attributes of a nested walk's final access (SDM Vol. 3C §29.3.3.2: a valid linear address,
/// the final translation, and the guest page's user, writable and execute-disable bits as the
/// advanced information) and their permission maps, for each access type and combination of those
/// guest rights: what KVM's nested MMU computes per access, computed once per space.
@usableFromInline
final class FinalAccesses: @unchecked Sendable {
    /// By ``index(_:rights:)``: 3 access types × 8 guest-rights combinations.
    @usableFromInline let attributes: UnsafeMutablePointer<AccessAttributes>
    @usableFromInline let maps: UnsafeMutablePointer<UInt64>
    /// ``index(_:rights:)`` for every access type (write | fetch << 1) and folded-rights byte.
    @usableFromInline let slots: UnsafeMutablePointer<UInt8>

    init(ept: PreparedFormat, guestRights: (user: Int?, writable: Int?, executable: Int?)) {
        attributes = .allocate(capacity: 32)
        maps = .allocate(capacity: 32)
        slots = .allocate(capacity: 4 << 8)
        let userShift = UInt8(guestRights.user ?? 0)
        let writableShift = UInt8(guestRights.writable ?? 0)
        let executableShift = UInt8(guestRights.executable ?? 0)
        let granted =
            UInt8(guestRights.user == nil ? 1 : 0) | (guestRights.writable == nil ? 2 : 0)
            | (guestRights.executable == nil ? 4 : 0)
        for type in 0..<4 {
            for rights in 0..<256 {
                let r = UInt8(rights)
                let held =
                    ((r &>> userShift) & 1) | ((r &>> writableShift) & 1) &<< 1 | ((r &>> executableShift) & 1) &<< 2
                let kind = type & 2 != 0 ? 2 : type & 1 != 0 ? 1 : 0
                (slots + (type << 8 | rights)).initialize(to: UInt8(kind << 3) | held | granted)
            }
        }
        for kind in 0..<4 {
            for rights in 0..<8 {
                var extra: AccessAttributes = [.linearValid, .final]
                if rights & 1 != 0 { extra.insert(.guestUser) }
                if rights & 2 != 0 { extra.insert(.guestWritable) }
                if rights & 4 == 0 { extra.insert(.guestExecuteDisabled) }
                let type: AccessKind = kind == 2 ? .fetch : kind == 1 ? .write : .read
                let a = Access(address: 0, kind: type, extra: extra).attributes
                (attributes + (kind << 3 | rights)).initialize(to: a)
                (maps + (kind << 3 | rights)).initialize(to: Walker.faultMap(ept, a))
            }
        }
    }

    deinit {
        attributes.deallocate()
        maps.deallocate()
        slots.deallocate()
    }

    /// The slot for a guest access with `attributes` to a page with folded `rights`: the type from
    /// the attributes (fetch: 2, write: 1, else read) times 8, plus the guest's user, writable and
    /// executable rights (those the format lacks taken as held), from one table lookup.
    @inlinable @inline(__always)
    func index(_ attributes: AccessAttributes, rights: UInt8) -> Int {
        let type =
            (attributes.rawValue & AccessAttributes.write.rawValue != 0 ? 1 : 0)
            | (attributes.rawValue & AccessAttributes.fetch.rawValue != 0 ? 2 : 0)
        return Int(slots[type &<< 8 | Int(rights)])
    }
}
