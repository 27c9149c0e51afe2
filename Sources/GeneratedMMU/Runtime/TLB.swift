/// A translation lookaside buffer for the generated walker (SDM Vol. 3A §4.10, Vol. 3C §29.4).
///
/// One direct-mapped array per page size (4 KiB, 2 MiB/4 MiB, 1 GiB: the leaf sizes of the formats
/// given at creation), probed smallest first. Entries are tagged with the format, the address-space
/// tag (PCID when CR4.PCIDE), the VPID and the EPTP, and marked global when the format's
/// `global-when` rule holds for the leaf. A hit is one probe per page size and the prepared format's
/// permission map (KVM's `permissions[]`) with the page's key rights, with no allocation; rights are
/// re-checked on every hit, so control bits such as CR0.WP, SMEP, SMAP and PKRU need no flush. A
/// translation cached without the dirty flag does not serve a write: the write walks again and
/// sets D (the rule whose absence was IBMulator issue #34).
///
/// The property the tests check: for any sequence of accesses, page-table writes and the
/// invalidations the SDM requires after them, results through the TLB equal walking every time.
///
/// Not thread-safe: one per logical processor, like the hardware's.
public final class TLB {
    /// One cached translation. An empty slot has a page number no address produces.
    @usableFromInline
    struct Entry {
        /// Linear address >> page shift; ``TLB/emptyPage`` when the slot is empty.
        @usableFromInline var page: UInt64 = TLB.emptyPage
        /// The page's physical base.
        @usableFromInline var physical: UInt64 = 0
        @usableFromInline var leafEntry: UInt64 = 0
        @usableFromInline var eptp: UInt64 = 0
        /// Format number, VPID and PCID as one word (``TLB/match(_:_:tag:)``); a hit needs
        /// `(match ^ wanted) & matchMask == 0`, and a global entry's mask leaves the PCID out.
        @usableFromInline var match: UInt64 = 0
        @usableFromInline var matchMask: UInt64 = ~0
        /// The leaf's slot in the prepared format's ``LevelTable/Lookup/permissionIndex`` (rights
        /// and key; the key's rights are read there on every hit, so a PKRU change needs no flush).
        @usableFromInline var permissionSlot: UInt16 = 0
        @usableFromInline var rights: UInt8 = 0
        @usableFromInline var level: UInt8 = 0
        /// Serves writes (the leaf's dirty flag is set, or the format keeps none).
        @usableFromInline var dirty = false
        /// Pads the entry to one cache line (the array is 64-byte aligned), so a probe reads one line.
        var padding: UInt64 = 0

        @inlinable var valid: Bool { page != TLB.emptyPage }
        var vpid: UInt16 { UInt16(truncatingIfNeeded: match >> 16) }
        var tag: UInt16 { UInt16(truncatingIfNeeded: match >> 32) }
        var global: Bool { matchMask != ~0 }
    }

    /// No address shifted right by a page shift reaches this page number.
    @usableFromInline static let emptyPage: UInt64 = ~0

    /// All entries: `sizeCount` arrays of `sets` entries, smallest page size first.
    @usableFromInline let entries: UnsafeMutablePointer<Entry>
    /// The page shift of each array.
    @usableFromInline let shifts: UnsafeMutablePointer<UInt64>
    @usableFromInline let sizeCount: Int
    @usableFromInline let setMask: UInt64
    private let setsPerSize: Int
    private let formatIndex: [String: UInt32]

    /// Hits since creation.
    public var hits: Int { hitCount }
    /// Misses since creation.
    public var misses: Int { missCount }
    @exclusivity(unchecked) @usableFromInline var hitCount = 0
    @exclusivity(unchecked) @usableFromInline var missCount = 0
    /// The storage of the last prepared format seen and its number: the number is looked up by name
    /// only when the format changes (held strongly, so its address cannot be reused meanwhile).
    @exclusivity(unchecked) var lastStorage: PreparedFormat.Storage?
    /// `lastStorage`'s address, compared on every call.
    @exclusivity(unchecked) @usableFromInline var lastStorageAddress: UInt = 0
    @exclusivity(unchecked) @usableFromInline var lastFormat: UInt32 = 0

    /// Creates a TLB for the leaf page sizes of `formats`, with `sets` entries per page size (a
    /// power of two).
    public init(formats: [PagingFormatDescriptor] = SpecFormats.all, sets: Int = 256) {
        var sizes: Set<UInt8> = []
        for f in formats where f.family == .guest {
            for l in f.levels where l.isLast || l.leafWhen != nil { sizes.insert(l.indexShift) }
        }
        let count = max(1, sets.nonzeroBitCount == 1 ? sets : 256)
        setsPerSize = count
        setMask = UInt64(count - 1)
        let sorted = sizes.sorted()
        sizeCount = sorted.count
        shifts = .allocate(capacity: max(1, sorted.count))
        shifts.initialize(repeating: 0, count: max(1, sorted.count))
        for (i, s) in sorted.enumerated() { shifts[i] = UInt64(s) }
        entries = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, sorted.count * count) * MemoryLayout<Entry>.stride, alignment: 64
        ).bindMemory(to: Entry.self, capacity: max(1, sorted.count * count))
        entries.initialize(repeating: Entry(), count: max(1, sorted.count * count))
        var index: [String: UInt32] = [:]
        for (i, f) in formats.enumerated() { index[f.name] = UInt32(i + 1) }
        formatIndex = index
    }

    deinit {
        entries.deinitialize(count: max(1, sizeCount * setsPerSize))
        entries.deallocate()
        shifts.deallocate()
    }

    /// The format's number (0 for a format the TLB was not made for: it caches nothing for it).
    @inlinable @inline(__always)
    func number(of format: PreparedFormat) -> UInt32 {
        if UInt(bitPattern: ObjectIdentifier(format.storage)) == lastStorageAddress { return lastFormat }
        return learn(format)
    }

    @usableFromInline @inline(never)
    func learn(_ format: PreparedFormat) -> UInt32 {
        lastStorage = format.storage
        lastStorageAddress = UInt(bitPattern: ObjectIdentifier(format.storage))
        lastFormat = formatIndex[format.descriptor.name] ?? 0
        return lastFormat
    }

    /// The entry's tag word: format number (bits 15:0), VPID (31:16), PCID (47:32).
    @inlinable @inline(__always)
    static func match(_ format: UInt32, _ vpid: UInt16, tag: UInt64) -> UInt64 {
        UInt64(format) | UInt64(vpid) << 16 | (tag & 0xFFFF) << 32
    }

    /// The match mask of a global entry: the PCID is ignored.
    @usableFromInline static let globalMatchMask: UInt64 = ~(0xFFFF << 32)

    /// The slot of `page` in array `size`.
    @inlinable @inline(__always)
    func slot(_ size: Int, _ page: UInt64) -> UnsafeMutablePointer<Entry> {
        entries
            + (size &* Int(truncatingIfNeeded: setMask &+ 1) &+ Int(truncatingIfNeeded: (page ^ page &>> 9) & setMask))
    }

    /// Translates `access`: a hit is checked against the current permission map; a miss walks
    /// `format` in `space` and caches a successful translation.
    @inlinable
    public func translate<S: EntrySpace>(
        _ format: PreparedFormat, _ access: Access, space: S, vpid: UInt16 = 0, eptp: UInt64 = 0
    ) -> WalkOutcome {
        let formatNumber = number(of: format)
        let attributes = access.attributes
        let wanted = Self.match(formatNumber, vpid, tag: format.tag)
        let address = access.address
        var size = 0
        while size < sizeCount {
            let shift = shifts[size]
            let page = address &>> shift
            let e = slot(size, page)
            if e.pointee.page == page && (e.pointee.match ^ wanted) & e.pointee.matchMask == 0
                && e.pointee.eptp == eptp
            {
                // A write to a page cached without D walks, to set it.
                if !e.pointee.dirty && attributes.contains(.write) { break }
                let rights = e.pointee.rights
                let allowed: Bool
                if format.maps.usable {
                    let lookup = format.levelTable.lookup
                    let bit = lookup.permissionIndex[Int(truncatingIfNeeded: e.pointee.permissionSlot)]
                    allowed = (lookup.map(for: attributes) &>> UInt64(bit)) & 1 == 0
                } else {
                    allowed = false
                }
                hitCount &+= 1
                let offsetMask: UInt64 = (1 &<< shift) &- 1
                if !allowed { return checkedOnHit(format, e.pointee, attributes, address, offsetMask) }
                return .translation(
                    Translation(
                        physical: e.pointee.physical | (address & offsetMask), pageSize: offsetMask &+ 1,
                        rights: rights,
                        leafEntry: e.pointee.leafEntry, level: Int(e.pointee.level)))
            }
            size &+= 1
        }
        return miss(format, formatNumber, address, attributes, space: space, vpid: vpid, eptp: eptp)
    }

    /// A hit the permission map denies, or a format without maps: the walker's own check, with its
    /// fault report.
    @usableFromInline @inline(never)
    func checkedOnHit(
        _ format: PreparedFormat, _ e: Entry, _ attributes: AccessAttributes, _ address: UInt64,
        _ offsetMask: UInt64
    ) -> WalkOutcome {
        let depth = Int(e.level)
        if let denied = Walker.permissionFault(
            format, level: format.levels[depth], depth: depth, entry: e.leafEntry,
            rights: e.rights, attributes: attributes)
        {
            return .fault(denied)
        }
        return .translation(
            Translation(
                physical: e.physical | (address & offsetMask), pageSize: offsetMask &+ 1, rights: e.rights,
                leafEntry: e.leafEntry, level: depth))
    }

    /// The miss: walk, and cache a successful translation.
    @inlinable @inline(never)
    func miss<S: EntrySpace>(
        _ format: PreparedFormat, _ formatNumber: UInt32, _ address: UInt64,
        _ attributes: AccessAttributes, space: S, vpid: UInt16, eptp: UInt64
    ) -> WalkOutcome {
        missCount &+= 1
        let outcome = Walker.walk(format, address, attributes, space: space)
        if case .translation(let t) = outcome, formatNumber != 0 {
            fill(format, formatNumber, address, attributes, t, vpid: vpid, eptp: eptp)
        }
        return outcome
    }

    @usableFromInline
    func fill(
        _ format: PreparedFormat, _ formatNumber: UInt32, _ address: UInt64, _ attributes: AccessAttributes,
        _ t: Translation, vpid: UInt16, eptp: UInt64
    ) {
        // Cache at the size of the translation (the smaller of guest and EPT pages when nested).
        let shift = UInt64(t.pageSize.trailingZeroBitCount)
        guard let size = (0..<sizeCount).first(where: { shifts[$0] == shift }) else { return }
        let level = format.levels[t.level]
        let global = format.globalWhen.map { Walker.entryRule($0, t.leafEntry) } ?? false
        let page = address >> shift
        var e = Entry()
        e.page = page
        e.dirty = level.dirtyMask == 0 || t.leafEntry & level.dirtyMask != 0 || attributes.contains(.write)
        e.level = UInt8(t.level)
        e.rights = t.rights
        e.match = Self.match(formatNumber, vpid, tag: global ? 0 : format.tag)
        e.matchMask = global ? Self.globalMatchMask : ~0
        e.physical = t.physical & ~(t.pageSize - 1)
        e.leafEntry = t.leafEntry
        e.eptp = eptp
        if format.maps.usable {
            let slot = format.levelTable.lookup.permissionSlot(
                t.leafEntry, rights: t.rights, level: format.levelTable.base + t.level)
            e.permissionSlot = UInt16(truncatingIfNeeded: slot)
        }
        slot(size, page).pointee = e
    }

    func invalidate(where predicate: (Entry) -> Bool) {
        for i in 0..<(sizeCount * setsPerSize) where entries[i].valid && predicate(entries[i]) {
            entries[i].page = Self.emptyPage
        }
    }

    /// Removes the entries of `address` (one slot per page size) that `predicate` selects.
    func invalidate(address: UInt64, where predicate: (Entry) -> Bool) {
        for size in 0..<sizeCount {
            let page = address >> shifts[size]
            let e = slot(size, page)
            if e.pointee.page == page && predicate(e.pointee) { e.pointee.page = Self.emptyPage }
        }
    }

    /// Number of valid entries.
    public var count: Int {
        var n = 0
        for i in 0..<(sizeCount * setsPerSize) where entries[i].valid { n += 1 }
        return n
    }

    /// INVLPG: removes the translations of `address` for the current tag and global ones, large
    /// pages included; a non-canonical operand (at the CPU's linear width) is a no-op.
    public func invalidatePage(_ address: UInt64, format: PreparedFormat, vpid: UInt16 = 0, linearBits: Int = 57) {
        if linearBits < 64 {
            let high = address >> UInt64(linearBits - 1)
            if high != 0 && high != (~0 >> UInt64(linearBits - 1)) { return }
        }
        let tag = format.tag
        invalidate(address: address) { $0.vpid == vpid && ($0.global || UInt64($0.tag) == tag) }
    }

    /// MOV to the root register (CR3): unless the format's `keep-when` rule holds for the new value,
    /// removes the non-global translations of the new tag (or of every tag when tags are off).
    public func rootWritten(_ format: PreparedFormat, newState: ControlState, vpid: UInt16 = 0) {
        if let keep = format.descriptor.tlb?.keepWhen,
            keep.evaluate({ i in (newState[index: Int(i.index)] >> UInt64(i.shift)) & ((1 << UInt64(i.width)) - 1) })
        {
            return
        }
        let tag = format.tag
        let tagged = format.tagInUse
        invalidate { !$0.global && $0.vpid == vpid && (!tagged || UInt64($0.tag) == tag) }
    }

    /// A control-register write: if any of the format's flush-all fields changed, removes every
    /// translation of the VPID, global ones included.
    public func controlChanged(
        _ descriptor: PagingFormatDescriptor, old: ControlState, new: ControlState, vpid: UInt16 = 0
    ) {
        for f in descriptor.tlb?.flushAllOnChange ?? []
        where (old[index: f.register] ^ new[index: f.register]) & f.mask != 0 {
            invalidate { $0.vpid == vpid }
            return
        }
    }

    /// INVPCID types (SDM Vol. 2A INVPCID).
    public enum INVPCIDType: Int, Sendable {
        /// Individual address: non-global translations of one address for one PCID.
        case individualAddress = 0
        /// Single context: non-global translations of one PCID.
        case singleContext = 1
        /// All contexts, global translations included.
        case allContextsIncludingGlobal = 2
        /// All contexts, global translations kept.
        case allContexts = 3
    }

    /// INVPCID.
    public func invalidatePCID(_ type: INVPCIDType, pcid: UInt16, address: UInt64 = 0, vpid: UInt16 = 0) {
        switch type {
        case .individualAddress:
            invalidate(address: address) { !$0.global && $0.tag == pcid && $0.vpid == vpid }
        case .singleContext: invalidate { !$0.global && $0.tag == pcid && $0.vpid == vpid }
        case .allContextsIncludingGlobal: invalidate { $0.vpid == vpid }
        case .allContexts: invalidate { !$0.global && $0.vpid == vpid }
        }
    }

    /// INVEPT: single-context (translations made through `eptp`'s tables) or global.
    public func invalidateEPT(singleContext eptp: UInt64?) {
        if let eptp { invalidate { $0.eptp == eptp } } else { invalidate { $0.eptp != 0 } }
    }

    /// INVVPID types (SDM Vol. 3C §31.3 INVVPID).
    public enum INVVPIDType: Int, Sendable {
        /// One address of one VPID.
        case individualAddress = 0
        /// Every translation of one VPID.
        case singleContext = 1
        /// Every translation of every VPID but 0.
        case allContexts = 2
        /// Every non-global translation of one VPID.
        case singleContextRetainingGlobals = 3
    }

    /// INVVPID.
    public func invalidateVPID(_ type: INVVPIDType, vpid: UInt16, address: UInt64 = 0) {
        switch type {
        case .individualAddress:
            invalidate(address: address) { $0.vpid == vpid }
        case .singleContext: invalidate { $0.vpid == vpid }
        case .allContexts: invalidate { $0.vpid != 0 }
        case .singleContextRetainingGlobals: invalidate { !$0.global && $0.vpid == vpid }
        }
    }

    /// Removes everything.
    public func flushAll() { invalidate { _ in true } }
}
