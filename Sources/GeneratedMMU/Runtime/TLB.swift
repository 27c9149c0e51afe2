/// A translation lookaside buffer for the generated walker (SDM Vol. 3A §4.10, Vol. 3C §29.4).
///
/// One direct-mapped array per page size (4 KiB, 2 MiB/4 MiB, 1 GiB: the leaf sizes of the formats
/// given at creation). Entries are tagged with the format, the address-space tag (PCID when
/// CR4.PCIDE), the VPID and the EPTP, and marked global when the format's `global-when` rule holds
/// for the leaf. A hit is one probe per page size and the prepared format's permission-table check,
/// with no allocation; rights are re-checked on every hit, so control bits such as CR0.WP, SMEP,
/// SMAP and PKRU need no flush. A translation cached without the dirty flag does not serve a write:
/// the write walks again and sets D (the rule whose absence was IBMulator issue #34).
///
/// The property the tests check: for any sequence of accesses, page-table writes and the
/// invalidations the SDM requires after them, results through the TLB equal walking every time.
///
/// Not thread-safe: one per logical processor, like the hardware's.
public final class TLB {
    struct Entry {
        var valid = false
        var global = false
        var dirty = false
        var level: UInt8 = 0
        var rights: UInt8 = 0
        var tag: UInt16 = 0
        var vpid: UInt16 = 0
        var format: Int32 = -1
        var page: UInt64 = 0
        var physical: UInt64 = 0
        var leafEntry: UInt64 = 0
        var eptp: UInt64 = 0
    }

    struct Array {
        let shift: UInt64
        let mask: UInt64
        let entries: UnsafeMutablePointer<Entry>
    }

    private var arrays: [Array]
    /// Hits and misses since creation.
    public private(set) var hits = 0
    /// Misses since creation.
    public private(set) var misses = 0
    private let setsPerSize: Int
    private let formatIndex: [String: Int32]

    /// Creates a TLB for the leaf page sizes of `formats`, with `sets` entries per page size (a
    /// power of two).
    public init(formats: [PagingFormatDescriptor] = SpecFormats.all, sets: Int = 256) {
        var shifts: Set<UInt8> = []
        for f in formats where f.family == .guest {
            for l in f.levels where l.isLast || l.leafWhen != nil { shifts.insert(l.indexShift) }
        }
        let count = max(1, sets.nonzeroBitCount == 1 ? sets : 256)
        setsPerSize = count
        arrays = shifts.sorted().map { shift in
            let p = UnsafeMutablePointer<Entry>.allocate(capacity: count)
            p.initialize(repeating: Entry(), count: count)
            return Array(shift: UInt64(shift), mask: UInt64(count - 1), entries: p)
        }
        var index: [String: Int32] = [:]
        for (i, f) in formats.enumerated() { index[f.name] = Int32(i) }
        formatIndex = index
    }

    deinit {
        for a in arrays { a.entries.deallocate() }
    }

    private var lastName = ""
    private var lastID: Int32 = -1

    /// The format's number, hashing its name only when the format changes between calls (a hit
    /// repeats the same descriptor, whose name compares by storage identity).
    @inline(__always)
    func identifier(of format: PreparedFormat) -> Int32 {
        let name = format.descriptor.name
        if name == lastName { return lastID }
        lastName = name
        lastID = formatIndex[name] ?? -1
        return lastID
    }

    @inline(__always)
    func slot(_ a: Array, _ page: UInt64, _ tag: UInt64) -> Int { Int((page ^ (page >> 9) ^ tag) & a.mask) }

    /// Translates `access`: a hit is checked against the current permission table; a miss walks
    /// `format` in `space` and caches a successful translation.
    public func translate<S: EntrySpace>(
        _ format: PreparedFormat, _ access: Access, space: S, vpid: UInt16 = 0, eptp: UInt64 = 0
    ) -> WalkOutcome {
        let formatID = identifier(of: format)
        let attributes = access.attributes
        let isWrite = attributes.contains(.write)
        for a in arrays {
            let page = access.address >> a.shift
            let i = slot(a, page, 0)
            let e = a.entries[i]
            guard e.valid, e.page == page, e.format == formatID, e.vpid == vpid, e.eptp == eptp,
                e.global || UInt64(e.tag) == format.tag
            else { continue }
            if isWrite && !e.dirty { break }  // the write must walk to set D
            hits += 1
            let level = format.levels[Int(e.level)]
            if let denied = Walker.permissionFault(format, level: level, depth: Int(e.level), entry: e.leafEntry,
                                                   rights: e.rights, attributes: attributes) {
                return .fault(denied)
            }
            let offsetMask: UInt64 = (1 << a.shift) - 1
            return .translation(Translation(
                physical: e.physical | (access.address & offsetMask), pageSize: 1 << a.shift, rights: e.rights,
                leafEntry: e.leafEntry, level: Int(e.level)))
        }
        misses += 1
        let outcome = Walker.walk(format, access, space: space)
        if case .translation(let t) = outcome {
            fill(format, formatID, access, t, vpid: vpid, eptp: eptp)
        }
        return outcome
    }

    func fill(_ format: PreparedFormat, _ formatID: Int32, _ access: Access, _ t: Translation, vpid: UInt16, eptp: UInt64) {
        // Cache at the size of the translation (the smaller of guest and EPT pages when nested).
        let shift = UInt64(t.pageSize.trailingZeroBitCount)
        guard let a = arrays.first(where: { $0.shift == shift }) else { return }
        let level = format.levels[t.level]
        let global = format.globalWhen.map { Walker.entryRule($0, t.leafEntry) } ?? false
        let page = access.address >> shift
        var e = Entry()
        e.valid = true
        e.global = global
        e.dirty = level.dirtyMask == 0 || t.leafEntry & level.dirtyMask != 0 || access.attributes.contains(.write)
        e.level = UInt8(t.level)
        e.rights = t.rights
        e.tag = UInt16(truncatingIfNeeded: global ? 0 : format.tag)
        e.vpid = vpid
        e.format = formatID
        e.page = page
        e.physical = t.physical & ~(t.pageSize - 1)
        e.leafEntry = t.leafEntry
        e.eptp = eptp
        a.entries[slot(a, page, 0)] = e
    }

    func invalidate(where predicate: (Entry) -> Bool) {
        for a in arrays {
            for i in 0..<setsPerSize where a.entries[i].valid && predicate(a.entries[i]) { a.entries[i].valid = false }
        }
    }

    /// Number of valid entries.
    public var count: Int {
        var n = 0
        for a in arrays { for i in 0..<setsPerSize where a.entries[i].valid { n += 1 } }
        return n
    }

    /// INVLPG: removes the translations of `address` for the current tag and global ones, large
    /// pages included; a non-canonical operand (at the CPU's linear width) is a no-op.
    public func invalidatePage(_ address: UInt64, format: PreparedFormat, vpid: UInt16 = 0, linearBits: Int = 57) {
        if linearBits < 64 {
            let high = address >> UInt64(linearBits - 1)
            if high != 0 && high != (~0 >> UInt64(linearBits - 1)) { return }
        }
        for a in arrays {
            let page = address >> a.shift
            let i = slot(a, page, 0)
            let e = a.entries[i]
            if e.valid && e.page == page && e.vpid == vpid && (e.global || UInt64(e.tag) == format.tag) {
                a.entries[i].valid = false
            }
        }
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
    public func controlChanged(_ descriptor: PagingFormatDescriptor, old: ControlState, new: ControlState, vpid: UInt16 = 0) {
        for f in descriptor.tlb?.flushAllOnChange ?? [] where (old[index: f.register] ^ new[index: f.register]) & f.mask != 0 {
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
            for a in arrays {
                let page = address >> a.shift
                let i = slot(a, page, 0)
                let e = a.entries[i]
                if e.valid && e.page == page && !e.global && e.tag == pcid && e.vpid == vpid { a.entries[i].valid = false }
            }
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
            for a in arrays {
                let page = address >> a.shift
                let i = slot(a, page, 0)
                if a.entries[i].valid && a.entries[i].page == page && a.entries[i].vpid == vpid { a.entries[i].valid = false }
            }
        case .singleContext: invalidate { $0.vpid == vpid }
        case .allContexts: invalidate { $0.vpid != 0 }
        case .singleContextRetainingGlobals: invalidate { !$0.global && $0.vpid == vpid }
        }
    }

    /// Removes everything.
    public func flushAll() { invalidate { _ in true } }
}
