/// The generic table-driven page walker: one loop for every format the specs describe.
///
/// The steps follow the SDM (Vol. 3A §4.5, Vol. 3C §29.3): check the address width; from the
/// root, for each level read the entry, fold the rights, stop on a not-present entry, a reserved
/// bit or an invalid encoding; stop at a leaf; check the access against the permission table;
/// then set the accessed flags of every entry used and the dirty flag of the leaf for writes, with
/// compare-and-exchange, re-walking if a concurrent writer changed an entry.
///
/// The walk is `@inlinable`, so it is specialised for the memory, the entry space and the tracer
/// where it is called, across the module boundary; the hot path reads only plain values prepared
/// by ``PreparedFormat`` (per-level masks and entry tests, rights folded in the entries' own bit
/// positions, one permission map per access class) and builds messages only for a tracer that
/// wants them. Faults leave the hot path through out-of-line functions.
public enum Walker {
    /// Translates `access` through `format` in `memory`.
    @inlinable
    public static func walk<M: PhysicalMemory>(_ format: PreparedFormat, _ access: Access, memory: M) -> WalkOutcome {
        let attributes = access.attributes
        let map = faultMap(format, attributes)
        let space = DirectSpace(memory)
        // No tracer: try the shortest form first (it changes nothing when it gives up).
        if let t = quickTranslate(format, access.address, map, isWrite: attributes.contains(.write), space) {
            return .translation(t)
        }
        var tracer = NoTracer()
        return walk(format, access.address, attributes, map, space, &tracer, updating: false)
    }

    /// Translates `access` with paging structures in `space`.
    @inlinable
    public static func walk<S: EntrySpace>(_ format: PreparedFormat, _ access: Access, space: S) -> WalkOutcome {
        walk(format, access.address, access.attributes, space: space)
    }

    /// Translates `address` for an access with `attributes` (the TLB's miss path).
    @inlinable
    static func walk<S: EntrySpace>(
        _ format: PreparedFormat, _ address: UInt64, _ attributes: AccessAttributes,
        space: S
    ) -> WalkOutcome {
        let map = faultMap(format, attributes)
        // No tracer: try the shortest form first (it changes nothing when it gives up).
        if let t = quickTranslate(format, address, map, isWrite: attributes.contains(.write), space),
            let final = space.quickFinal(t, attributes: attributes)
        {
            return .translation(final)
        }
        var tracer = NoTracer()
        return walk(format, address, attributes, map, space, &tracer, updating: false)
    }

    /// Translates `access`, reporting each step to `tracer`.
    @inlinable
    public static func walk<S: EntrySpace, T: WalkTracer>(
        _ format: PreparedFormat, _ access: Access, space: S, tracer: inout T
    ) -> WalkOutcome {
        let attributes = access.attributes
        return walk(format, access.address, attributes, faultMap(format, attributes), space, &tracer, updating: false)
    }

    /// Formats whose first level is loaded with the root (PAE): the walk with room for those entries.
    @usableFromInline @inline(never)
    static func walkLoadingRoot<S: EntrySpace, T: WalkTracer>(
        _ format: PreparedFormat, _ address: UInt64, _ attributes: AccessAttributes, _ faultMap: UInt64, _ space: S,
        _ tracer: inout T, updating: Bool
    ) -> WalkOutcome {
        updating
            ? walk(format, address, attributes, faultMap, space, &tracer, updating: true, rootLoaded: true)
            : walk(format, address, attributes, faultMap, space, &tracer, updating: false, rootLoaded: true)
    }

    /// Translates `address` for an access with `attributes`, whose permission map `faultMap` the
    /// caller already has (``faultMap(_:_:)``): the nested space keeps the maps of its EPT accesses.
    @inlinable
    static func walk<S: EntrySpace>(
        _ format: PreparedFormat, _ address: UInt64, _ attributes: AccessAttributes,
        faultMap: UInt64, space: S
    ) -> WalkOutcome {
        var tracer = NoTracer()
        return walk(format, address, attributes, faultMap, space, &tracer, updating: false)
    }

    /// The permission map of the class of `attributes` (0 when the format's rules have no maps).
    @inlinable @inline(__always)
    static func faultMap(_ format: PreparedFormat, _ attributes: AccessAttributes) -> UInt64 {
        format.maps.usable ? format.levelTable.lookup.map(for: attributes) : 0
    }

    /// The walk with the accessed/dirty update: when the first pass finds a flag to set, it walks
    /// again recording every entry it uses, then updates them with compare-and-exchange (walking
    /// again if an entry changed). Off the fast path, so the common walk keeps no record.
    @usableFromInline @inline(never)
    static func walkUpdatingAccessedDirty<S: EntrySpace, T: WalkTracer>(
        _ format: PreparedFormat, _ address: UInt64, _ attributes: AccessAttributes, _ faultMap: UInt64, _ space: S,
        _ tracer: inout T
    ) -> WalkOutcome {
        walk(format, address, attributes, faultMap, space, &tracer, updating: true)
    }

    /// The walk itself. `updating` is constant where this is inlined: false on the fast path (read
    /// only; a missing accessed/dirty flag hands over to
    /// ``walkUpdatingAccessedDirty(_:_:_:_:_:_:)``), true there (entries recorded and updated; the
    /// trace of the entries was already given).
    @inlinable @inline(__always)
    static func walk<S: EntrySpace, T: WalkTracer>(
        _ format: PreparedFormat, _ address: UInt64, _ attributes: AccessAttributes, _ faultMap: UInt64, _ space: S,
        _ tracer: inout T, updating: Bool
    ) -> WalkOutcome {
        if format.someLoadedWithRoot {
            return walkLoadingRoot(format, address, attributes, faultMap, space, &tracer, updating: updating)
        }
        return walk(format, address, attributes, faultMap, space, &tracer, updating: updating, rootLoaded: false)
    }

    /// The walk proper; `rootLoaded` (constant where inlined) says whether the first level's entries
    /// are loaded with the root, so the common formats keep no room for them.
    @inlinable @inline(__always)
    static func walk<S: EntrySpace, T: WalkTracer>(
        _ format: PreparedFormat, _ address: UInt64, _ attributes: AccessAttributes, _ faultMap: UInt64, _ space: S,
        _ tracer: inout T, updating: Bool, rootLoaded: Bool
    ) -> WalkOutcome {
        if let invalid = format.rootInvalid {
            if tracer.isEnabled { tracer.end("the root is invalid: \(invalid)") }
            return .invalidState(invalid)
        }
        let bits = format.addressBits
        if bits < 64 {
            if format.canonical {
                let s = 64 &- bits
                if UInt64(bitPattern: Int64(bitPattern: address &<< s) &>> s) != address {
                    if tracer.isEnabled { tracer.end("the address is not canonical: bits 63:\(bits - 1) differ") }
                    return .generalProtection
                }
            } else if address &>> bits != 0 {
                return tooWide(format, address, attributes, &tracer)
            }
        }
        // PDPTEs are loaded with the root (PAE, at MOV CR3): read them all now; a reserved bit in any
        // present one is a #GP there, so the state is invalid.
        var rootEntries = InlineArray<8, UInt64>(repeating: 0)
        if rootLoaded && format.firstLoadedWithRoot {
            let first = format.levels[0]
            let count = Int(first.indexMask) + 1
            guard count <= 8 else { return .invalidState("a root-loaded table has more than 8 entries") }
            for i in 0..<count {
                let entryAddress = format.root &+ UInt64(i) &* first.entryBytes
                switch space.readRootEntry(entryAddress, base: format.root, bytes: first.entryBytes) {
                case .value(let v): rootEntries[i] = v
                case .stop(let outcome):
                    if tracer.isEnabled {
                        tracer.end("loading the root entries at 0x\(String(format.root, radix: 16)) failed")
                    }
                    return outcome
                }
                let entry = rootEntries[i]
                let present = first.present.holds(entry) { tableRule(format, 0, .present, entry) }
                if present && entry & first.reservedTable != 0 {
                    if tracer.isEnabled { tracer.end("PDPTE \(i) has reserved bits set: loading CR3 would raise #GP") }
                    return .invalidState(
                        "PDPTE \(i) at 0x\(String(entryAddress, radix: 16)) has reserved bits 0x\(String(entry & first.reservedTable, radix: 16)) set; loading CR3 would raise #GP"
                    )
                }
            }
        }
        let levelCount = format.levels.count
        guard levelCount <= 8 else { return .invalidState("format \(format.descriptor.name) has more than 8 levels") }
        let isWrite = attributes.contains(.write)
        // `faultMap`: the permission map of this access's class: bit `rights | keyBits << rightCount` = fault.
        let lookup = format.levelTable.lookup
        let denyXor = format.fold.denyXor
        let levels = format.levelTable.base
        var retries = 0
        restart: while true {
            var table = format.root
            // Rights, folded in the entries' bit positions (or one by one when the format does not allow it).
            var folded: UInt64 = ~0
            var slowRights = format.allRights
            // Accessed/dirty flags some used entry lacks: the update runs only when this is nonzero.
            var missing: UInt64 = 0
            // The fast levels' entries ANDed: their accessed flags are all one bit (KVM's accessed_dirty).
            var fastAnd: UInt64 = ~0
            // Entries used, for the A/D update (recorded only when `updating`): fixed storage, no allocation.
            var entryAddresses = InlineArray<8, UInt64>(repeating: 0)
            var entryValues = InlineArray<8, UInt64>(repeating: 0)
            var depth = 0
            while depth < levelCount {
                let level = levels + depth
                let index = (address &>> level.pointee.indexShift) & level.pointee.indexMask
                let entry: UInt64
                let leaf: Bool
                let entryAddress: UInt64
                if level.pointee.fast {
                    entryAddress = table &+ index &<< 3
                    // 8-byte entries in memory, rights that fold in place, the entry rules as one lookup.
                    switch space.readEntry(entryAddress, bytes: 8) {
                    case .value(let v): entry = v
                    case .stop(let outcome): return readFailed(format, depth, entryAddress, outcome, &tracer)
                    }
                    if !updating {
                        tracer.entry(
                            level: depth, tableAddress: table, index: index, address: entryAddress, value: entry)
                    }
                    folded &= (entry ^ denyXor) | level.pointee.neutralRights
                    fastAnd &= entry
                    let i = level.pointee.entryClass.index(entry)
                    if (level.pointee.entryClass.stop &>> i) & 1 != 0 {
                        return stoppedAt(format, depth, entry, attributes, format.fold.rights(folded), &tracer)
                    }
                    leaf = (level.pointee.entryClass.leaf &>> i) & 1 != 0
                } else {
                    entryAddress = table &+ index &* level.pointee.entryBytes
                    if rootLoaded && level.pointee.loadedWithRoot {
                        entry = rootEntries[Int(index)]
                    } else {
                        switch space.readEntry(entryAddress, bytes: level.pointee.entryBytes) {
                        case .value(let v): entry = v
                        case .stop(let outcome): return readFailed(format, depth, entryAddress, outcome, &tracer)
                        }
                    }
                    if !updating {
                        tracer.entry(
                            level: depth, tableAddress: table, index: index, address: entryAddress, value: entry)
                    }
                    if format.fold.usable {
                        folded &= (entry ^ denyXor) | level.pointee.neutralRights
                    } else {
                        slowRights = foldRights(format, depth, entry, slowRights)
                    }
                    missing |= ~entry & level.pointee.accessedToSet
                    if level.pointee.entryClass.usable {
                        let i = level.pointee.entryClass.index(entry)
                        if (level.pointee.entryClass.stop &>> i) & 1 != 0 {
                            let rights = format.fold.usable ? format.fold.rights(folded) : slowRights
                            return stoppedAt(format, depth, entry, attributes, rights, &tracer)
                        }
                        leaf = (level.pointee.entryClass.leaf &>> i) & 1 != 0
                    } else {
                        if !level.pointee.present.holds(entry, { tableRule(format, depth, .present, entry) }) {
                            let rights = format.fold.usable ? format.fold.rights(folded) : slowRights
                            return stopped(format, depth, .notPresent, attributes, rights, &tracer)
                        }
                        if level.pointee.misconfigured.holds(entry, { tableRule(format, depth, .misconfigured, entry) })
                        {
                            let rights = format.fold.usable ? format.fold.rights(folded) : slowRights
                            return stopped(format, depth, .misconfiguration, attributes, rights, &tracer)
                        }
                        leaf = level.pointee.leaf.holds(entry, { tableRule(format, depth, .leaf, entry) })
                    }
                }
                let reserved = entry & (leaf ? level.pointee.reservedLeaf : level.pointee.reservedTable)
                if reserved != 0 {
                    let rights = format.fold.usable ? format.fold.rights(folded) : slowRights
                    return reservedFault(format, depth, reserved, attributes, rights, &tracer)
                }
                if updating {
                    entryAddresses[depth] = entryAddress
                    entryValues[depth] = entry
                }
                if !leaf {
                    table = entry & level.pointee.addressMask
                    depth &+= 1
                    continue
                }
                let rights = format.fold.usable ? format.fold.rights(folded) : slowRights
                if level.pointee.leafMisconfigured.kind != .never,
                    level.pointee.leafMisconfigured.holds(
                        entry, { tableRule(format, depth, .leafMisconfigured, entry) })
                {
                    return stopped(format, depth, .leafMisconfiguration, attributes, rights, &tracer)
                }
                // The leaf: check the access against the permission table.
                if format.maps.usable {
                    if (faultMap &>> lookup.permissionBit(entry, rights: rights, level: level)) & 1 != 0 {
                        return denied(format, depth, entry, rights, attributes, &tracer)
                    }
                } else if permissionFault(
                    format, level: format.levels[depth], depth: depth, entry: entry, rights: rights,
                    attributes: attributes) != nil
                {
                    return denied(format, depth, entry, rights, attributes, &tracer)
                }
                var physical: UInt64
                if level.pointee.hasPieces {
                    physical = assemble(format, depth, entry)
                } else {
                    physical = entry & level.pointee.addressMask & ~level.pointee.pageMask
                }
                physical |= address & level.pointee.pageMask
                let translation = Translation(
                    physical: physical, pageSize: level.pointee.pageMask &+ 1, rights: rights, leafEntry: entry,
                    level: depth)
                // The output address's own translation (nested paging) comes before any A/D update.
                let final = space.translateFinal(translation, attributes: attributes)
                guard case .translation = final else {
                    if tracer.isEnabled { tracer.end("the translation of the output address failed") }
                    return final
                }
                // Accessed on every entry used, dirty on the leaf for writes; on success only, and only
                // when some flag is missing (KVM's accessed_dirty test).
                missing |= ~fastAnd & format.fastAccessed
                if isWrite { missing |= ~entry & level.pointee.dirtyToSet }
                if missing != 0 {
                    if !updating {
                        return walkUpdatingAccessedDirty(format, address, attributes, faultMap, space, &tracer)
                    }
                    for i in 0...depth {
                        let l = levels[i]
                        if l.accessedToSet == 0 { continue }
                        let value = entryValues[i]
                        var updated = value | l.accessedMask
                        if i == depth && isWrite { updated |= l.dirtyMask }
                        if updated == value { continue }
                        switch space.updateEntry(
                            entryAddresses[i], bytes: l.entryBytes, expected: value, desired: updated)
                        {
                        case .stored: break
                        case .changed:
                            retries += 1
                            if retries < 64 { continue restart }
                        case .stop(let outcome):
                            if tracer.isEnabled {
                                tracer.end(
                                    "updating the accessed/dirty flags of \(format.descriptor.levels[i].name) failed")
                            }
                            return outcome
                        }
                    }
                }
                if tracer.isEnabled {
                    tracer.end("\(format.descriptor.levels[depth].name) maps a \(level.pointee.pageMask + 1)-byte page")
                }
                return final
            }
            if tracer.isEnabled { tracer.end("the walk ran out of levels") }
            return .invalidState("format \(format.descriptor.name) has no leaf level")
        }
    }

    /// The common walk in its shortest form: no tracer, every level fast, the translation succeeds
    /// with no accessed or dirty flag to set. Anything else returns nil, having changed nothing, and
    /// the caller walks (``walk(_:_:space:tracer:)``), which then gives the same result it would have.
    /// The nested space tries it for every EPT walk, and `walk(_:_:memory:)` for each access.
    @inlinable @inline(__always)
    static func quickTranslate<S: EntrySpace>(
        _ format: PreparedFormat, _ address: UInt64, _ faultMap: UInt64,
        isWrite: Bool, _ space: S
    ) -> Translation? {
        guard format.allFast else { return nil }
        let bits = format.addressBits
        if bits < 64 {
            let s = 64 &- bits
            if format.canonical {
                guard UInt64(bitPattern: Int64(bitPattern: address &<< s) &>> s) == address else { return nil }
            } else if address &>> bits != 0 {
                return nil
            }
        }
        let levels = format.levelTable.base
        let levelCount = format.levels.count
        let denyXor = format.fold.denyXor
        var table = format.root
        // The fold also carries the AND of the entries' accessed flags (``PreparedFormat/allFast``).
        var folded: UInt64 = ~0
        var depth = 0
        while true {
            let level = levels + depth
            let index = (address &>> level.pointee.indexShift) & level.pointee.indexMask
            guard let entry = space.quickEntry(table &+ index &<< 3) else { return nil }
            folded &= (entry ^ denyXor) | level.pointee.neutralRights
            let i = level.pointee.entryClass.index(entry)
            guard (level.pointee.entryClass.stop &>> i) & 1 == 0 else { return nil }
            if (level.pointee.entryClass.leaf &>> i) & 1 == 0 {
                guard entry & level.pointee.reservedTable == 0 else { return nil }
                table = entry & level.pointee.addressMask
                depth &+= 1
                guard depth < levelCount else { return nil }
                continue
            }
            guard entry & level.pointee.reservedLeaf == 0 else { return nil }
            let leafMisconfigured = level.pointee.leafMisconfigured.kind
            if leafMisconfigured == .lookup {
                // EPT's memory-type check, tested directly (no jump through the kinds).
                let test = level.pointee.leafMisconfigured
                guard (test.truth &>> test.runs.gather(entry)) & 1 == 0 else { return nil }
            } else if leafMisconfigured != .never {
                guard leafMisconfigured != .table, !level.pointee.leafMisconfigured.holds(entry, { true }) else {
                    return nil
                }
            }
            let rights = format.fold.rights(folded)
            let bit = format.levelTable.lookup.permissionBit(entry, rights: rights, level: level)
            guard (faultMap &>> bit) & 1 == 0 else { return nil }
            guard (~folded & format.fastAccessed) | (isWrite ? ~entry & level.pointee.dirtyToSet : 0) == 0 else {
                return nil
            }
            let pageMask = level.pointee.pageMask
            return Translation(
                physical: entry & level.pointee.addressMask & ~pageMask | address & pageMask,
                pageSize: pageMask &+ 1, rights: rights, leafEntry: entry, level: depth)
        }
    }

    // MARK: - Off the fast path

    /// Why a walk stopped at an entry, for ``stopped(_:_:_:_:_:_:)``.
    @usableFromInline
    enum Stop: Sendable {
        case notPresent
        case misconfiguration
        case leafMisconfiguration
    }

    /// An input address wider than the format's.
    @usableFromInline @inline(never)
    static func tooWide<T: WalkTracer>(
        _ format: PreparedFormat, _ address: UInt64, _ attributes: AccessAttributes,
        _ tracer: inout T
    ) -> WalkOutcome {
        let bits = format.addressBits
        if tracer.isEnabled { tracer.end("the address is wider than \(bits) bits") }
        if format.descriptor.family == .ept {
            // Guest-physical bits above the walk's width must be zero: an EPT violation with
            // no permissions (SDM Vol. 3C §29.3.3), not an alias of a lower address.
            return .fault(fault(format, .notPresent, attributes, 0, 0, facts: 1 << 0))
        }
        return .invalidState("address 0x\(String(address, radix: 16)) is wider than the format's \(bits) bits")
    }

    /// Reading an entry failed (outside memory, or its EPT translation faulted).
    @usableFromInline @inline(never)
    static func readFailed<T: WalkTracer>(
        _ format: PreparedFormat, _ depth: Int, _ entryAddress: UInt64,
        _ outcome: WalkOutcome, _ tracer: inout T
    ) -> WalkOutcome {
        if tracer.isEnabled {
            tracer.end("reading \(format.descriptor.levels[depth].name) at 0x\(String(entryAddress, radix: 16)) failed")
        }
        return outcome
    }

    /// The entry class says stop: a not-present entry or an invalid encoding.
    @usableFromInline @inline(never)
    static func stoppedAt<T: WalkTracer>(
        _ format: PreparedFormat, _ depth: Int, _ entry: UInt64,
        _ attributes: AccessAttributes, _ rights: UInt8, _ tracer: inout T
    ) -> WalkOutcome {
        let level = format.levels[depth]
        let present = level.present.holds(entry) { tableRule(format, depth, .present, entry) }
        return stopped(format, depth, present ? .misconfiguration : .notPresent, attributes, rights, &tracer)
    }

    /// A not-present entry or an invalid encoding.
    @usableFromInline @inline(never)
    static func stopped<T: WalkTracer>(
        _ format: PreparedFormat, _ depth: Int, _ why: Stop, _ attributes: AccessAttributes,
        _ rights: UInt8, _ tracer: inout T
    ) -> WalkOutcome {
        let name = format.descriptor.levels[depth].name
        switch why {
        case .notPresent:
            if tracer.isEnabled { tracer.end("\(name) is not present") }
            return .fault(fault(format, .notPresent, attributes, rights, depth, facts: 1 << 0))
        case .misconfiguration:
            if tracer.isEnabled { tracer.end("\(name) has an invalid encoding (misconfiguration)") }
            return .fault(Fault(kind: .misconfiguration, report: 0, level: depth, rights: rights))
        case .leafMisconfiguration:
            if tracer.isEnabled { tracer.end("\(name) has an invalid leaf encoding (misconfiguration)") }
            return .fault(Fault(kind: .misconfiguration, report: 0, level: depth, rights: rights))
        }
    }

    /// A reserved bit set in a present entry.
    @usableFromInline @inline(never)
    static func reservedFault<T: WalkTracer>(
        _ format: PreparedFormat, _ depth: Int, _ reserved: UInt64,
        _ attributes: AccessAttributes, _ rights: UInt8,
        _ tracer: inout T
    ) -> WalkOutcome {
        if tracer.isEnabled {
            tracer.end("\(format.descriptor.levels[depth].name) has reserved bits 0x\(String(reserved, radix: 16)) set")
        }
        return .fault(fault(format, .reserved, attributes, rights, depth, facts: 1 << 1))
    }

    /// The permission table denies the access.
    @usableFromInline @inline(never)
    static func denied<T: WalkTracer>(
        _ format: PreparedFormat, _ depth: Int, _ entry: UInt64, _ rights: UInt8,
        _ attributes: AccessAttributes, _ tracer: inout T
    ) -> WalkOutcome {
        if tracer.isEnabled { tracer.end("the access rights deny the access") }
        let level = format.levels[depth]
        let keyBits =
            level.keyMask != 0 && format.keyCount != 0
            ? keyBits(format, level.keyMask, level.keyShift, entry, rights) : 0
        return .fault(protectionFault(format, depth, attributes, rights, keyBits))
    }

    /// Rights folded one by one, for formats whose rights do not fold in place.
    @usableFromInline @inline(never)
    static func foldRights(_ format: PreparedFormat, _ depth: Int, _ entry: UInt64, _ rights: UInt8) -> UInt8 {
        let rules = format.levelRules[depth]
        var rights = rights
        for (i, m) in rules.rightMasks.enumerated() where m != 0 {
            let set = entry & m != 0
            if set == ((rules.rightDenies >> UInt8(i)) & 1 != 0) { rights &= ~(1 << UInt8(i)) }
        }
        return rights
    }

    /// The entry rules, for ``tableRule(_:_:_:_:)``.
    @usableFromInline
    enum RuleKind: Sendable {
        case present
        case leaf
        case misconfigured
        case leafMisconfigured
    }

    /// An entry rule evaluated from its table (a rule with no short form; see ``EntryTest``).
    @usableFromInline @inline(never)
    static func tableRule(_ format: PreparedFormat, _ depth: Int, _ kind: RuleKind, _ entry: UInt64) -> Bool {
        let rules = format.levelRules[depth]
        switch kind {
        case .present: return entryRule(rules.present, entry)
        case .leaf: return rules.leafWhen.map { entryRule($0, entry) } ?? false
        case .misconfigured: return rules.misconfigured.map { entryRule($0, entry) } ?? false
        case .leafMisconfigured: return rules.leafMisconfigured.map { entryRule($0, entry) } ?? false
        }
    }

    /// A page-frame address assembled from pieces of the entry (PSE-36).
    @usableFromInline @inline(never)
    static func assemble(_ format: PreparedFormat, _ depth: Int, _ entry: UInt64) -> UInt64 {
        var physical: UInt64 = 0
        for p in format.levelRules[depth].pieces {
            physical |= ((entry >> UInt64(p.fromShift)) & ((1 << UInt64(p.width)) - 1)) << UInt64(p.toShift)
        }
        return physical
    }

    /// The key rights (AD | WD << 1) of the leaf's protection key, from PKRU or IA32_PKRS as the page
    /// is a user or a supervisor page.
    @inlinable @inline(__always)
    static func keyBits(
        _ format: PreparedFormat, _ keyMask: UInt64, _ keyShift: UInt64, _ entry: UInt64,
        _ rights: UInt8
    ) -> UInt64 {
        let key = Int(truncatingIfNeeded: (entry & keyMask) &>> keyShift)
        guard key < format.keyCount else { return 0 }
        let isUser = Int(truncatingIfNeeded: (rights &>> format.pageIsUserRight) & 1)
        return UInt64(format.keyBitsTable[isUser &* format.keyCount &+ key])
    }

    /// The fault, if the permission table denies `attributes` on a leaf with `rights` (the folded
    /// rights) and `entry` (for its protection key). Shared by the walk and the TLB hit path.
    @inlinable @inline(__always)
    static func permissionFault(
        _ format: PreparedFormat, level: PreparedFormat.Level, depth: Int, entry: UInt64,
        rights: UInt8, attributes: AccessAttributes
    ) -> Fault? {
        let keyBits =
            level.keyMask != 0 && format.keyCount != 0
            ? keyBits(format, level.keyMask, level.keyShift, entry, rights) : 0
        if format.maps.usable {
            let map = format.levelTable.lookup.map(for: attributes)
            guard (map &>> (UInt64(rights) | keyBits &<< format.maps.keyShift)) & 1 != 0 else { return nil }
            return protectionFault(format, depth, attributes, rights, keyBits)
        }
        return tablePermissionFault(format, depth, attributes, rights, keyBits)
    }

    /// ``permissionFault(_:level:depth:entry:rights:attributes:)`` from the permission table itself,
    /// for formats whose rules do not fit the per-class maps.
    @usableFromInline @inline(never)
    static func tablePermissionFault(
        _ format: PreparedFormat, _ depth: Int, _ attributes: AccessAttributes,
        _ rights: UInt8, _ keyBits: UInt64
    ) -> Fault? {
        let combo = permissionIndex(format.permissionInputs, attributes, rights, keyBits)
        guard (format.permission[combo >> 6] >> UInt64(combo & 63)) & 1 != 0 else { return nil }
        return protectionFault(format, depth, attributes, rights, keyBits)
    }

    /// The protection fault with its report (the facts the denying rules set, such as PK).
    @usableFromInline @inline(never)
    static func protectionFault(
        _ format: PreparedFormat, _ depth: Int, _ attributes: AccessAttributes, _ rights: UInt8,
        _ keyBits: UInt64
    ) -> Fault {
        let combo = permissionIndex(format.permissionInputs, attributes, rights, keyBits)
        var facts: UInt64 = 0
        for (fact, bits) in format.factTables where (bits[combo >> 6] >> UInt64(combo & 63)) & 1 != 0 {
            facts |= 1 << UInt64(fact)
        }
        return fault(format, .protection, attributes, rights, depth, facts: facts)
    }

    /// Evaluates an entry rule (present, leaf, misconfiguration) specialised to the control state.
    @usableFromInline
    static func entryRule(_ table: RuleTable, _ entry: UInt64) -> Bool {
        var index = 0
        var offset = 0
        for input in table.inputs {
            let v = (entry >> UInt64(input.shift)) & ((1 << UInt64(input.width)) - 1)
            index |= Int(v) << offset
            offset += Int(input.width)
        }
        return table.bit(index)
    }

    @usableFromInline
    static func permissionIndex(
        _ inputs: [RuleInput], _ attributes: AccessAttributes, _ rights: UInt8, _ keyBits: UInt64
    ) -> Int {
        var index = 0
        for (pos, input) in inputs.enumerated() {
            let v: UInt64
            switch input.source {
            case .access: v = UInt64((attributes.rawValue >> UInt32(input.index)) & 1)
            case .right: v = UInt64((rights >> UInt8(input.index)) & 1)
            case .key: v = (keyBits >> UInt64(input.index)) & 1
            default: v = 0
            }
            index |= Int(v) << pos
        }
        return index
    }

    @usableFromInline
    static func fault(
        _ format: PreparedFormat, _ kind: FaultKind, _ attributes: AccessAttributes, _ rights: UInt8,
        _ level: Int, facts: UInt64
    ) -> Fault {
        var report: UInt64 = 0
        for flag in format.reportFlags {
            let hit = flag.rule.evaluate { input in
                switch input.source {
                case .access: return UInt64((attributes.rawValue >> UInt32(input.index)) & 1)
                case .right: return UInt64((rights >> UInt8(input.index)) & 1)
                case .fault: return (facts >> UInt64(input.index)) & 1
                default: return 0
                }
            }
            if hit { report |= flag.mask }
        }
        return Fault(kind: kind, report: report, level: level, rights: rights)
    }
}
