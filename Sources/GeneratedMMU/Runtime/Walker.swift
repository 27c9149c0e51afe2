/// The generic table-driven page walker: one loop for every format the specs describe.
///
/// The steps follow the SDM (Vol. 3A §4.5, Vol. 3C §29.3): check the address width; from the
/// root, for each level read the entry, fold the rights, stop on a not-present entry, a reserved
/// bit or an invalid encoding; stop at a leaf; check the access against the permission table;
/// then set the accessed flags of every entry used and the dirty flag of the leaf for writes, with
/// compare-and-exchange, re-walking if a concurrent writer changed an entry.
public enum Walker {
    /// Translates `access` through `format` in `memory`.
    @inlinable
    public static func walk<M: PhysicalMemory>(_ format: PreparedFormat, _ access: Access, memory: M) -> WalkOutcome {
        var tracer = NoTracer()
        return walk(format, access, space: DirectSpace(memory), tracer: &tracer)
    }

    /// Translates `access` with paging structures in `space`.
    @inlinable
    public static func walk<S: EntrySpace>(_ format: PreparedFormat, _ access: Access, space: S) -> WalkOutcome {
        var tracer = NoTracer()
        return walk(format, access, space: space, tracer: &tracer)
    }

    /// Translates `access`, reporting each step to `tracer`.
    public static func walk<S: EntrySpace, T: WalkTracer>(
        _ format: PreparedFormat, _ access: Access, space: S, tracer: inout T
    ) -> WalkOutcome {
        if let invalid = format.rootInvalid {
            tracer.end("the root is invalid: \(invalid)")
            return .invalidState(invalid)
        }
        let bits = UInt64(format.descriptor.addressBits)
        if bits < 64 {
            let high = access.address >> (bits - 1)
            if format.descriptor.canonical {
                if high != 0 && high != (~0 >> (bits - 1)) {
                    tracer.end("the address is not canonical: bits 63:\(bits - 1) differ")
                    return .generalProtection
                }
            } else if access.address >> bits != 0 {
                tracer.end("the address is wider than \(bits) bits")
                if format.descriptor.family == .ept {
                    // Guest-physical bits above the walk's width must be zero: an EPT violation with
                    // no permissions (SDM Vol. 3C §29.3.3), not an alias of a lower address.
                    return .fault(fault(format, .notPresent, access.attributes, 0, 0, facts: 1 << 0))
                }
                return .invalidState("address 0x\(String(access.address, radix: 16)) is wider than the format's \(bits) bits")
            }
        }
        // PDPTEs are loaded with the root (PAE, at MOV CR3): read them all now; a reserved bit in any
        // present one is a #GP there, so the state is invalid.
        var rootEntries = InlineArray<8, UInt64>(repeating: 0)
        if let first = format.levels.first, first.loadedWithRoot {
            let count = Int(first.indexMask) + 1
            guard count <= 8 else { return .invalidState("a root-loaded table has more than 8 entries") }
            for i in 0..<count {
                let address = format.root &+ UInt64(i) &* first.entryBytes
                switch space.readRootEntry(address, base: format.root, bytes: first.entryBytes) {
                case .value(let v): rootEntries[i] = v
                case .stop(let outcome):
                    tracer.end("loading the root entries at 0x\(String(format.root, radix: 16)) failed")
                    return outcome
                }
                let entry = rootEntries[i]
                if entryRule(first.present, entry) && entry & first.reservedTable != 0 {
                    tracer.end("PDPTE \(i) has reserved bits set: loading CR3 would raise #GP")
                    return .invalidState(
                        "PDPTE \(i) at 0x\(String(address, radix: 16)) has reserved bits 0x\(String(entry & first.reservedTable, radix: 16)) set; loading CR3 would raise #GP")
                }
            }
        }
        let attributes = access.attributes
        var retries = 0
        restart: while true {
            var table = format.root
            var rights: UInt8 = (1 << UInt8(format.rightCount)) &- 1
            // Entries used, for the A/D update: fixed storage, no allocation on the walk path.
            var entryAddresses = InlineArray<8, UInt64>(repeating: 0)
            var entryValues = InlineArray<8, UInt64>(repeating: 0)
            var entryLevels = InlineArray<8, Int>(repeating: 0)
            var used = 0
            for (depth, level) in format.levels.enumerated() {
                let index = (access.address >> level.indexShift) & level.indexMask
                let address = table &+ index &* level.entryBytes
                let entry: UInt64
                switch level.loadedWithRoot ? .value(rootEntries[Int(index)]) : space.readEntry(address, bytes: level.entryBytes) {
                case .value(let v): entry = v
                case .stop(let outcome):
                    tracer.end("reading \(format.descriptor.levels[depth].name) at 0x\(String(address, radix: 16)) failed")
                    return outcome
                }
                tracer.entry(level: depth, tableAddress: table, index: index, address: address, value: entry)
                for (i, m) in level.rightMasks.enumerated() where m != 0 {
                    let set = entry & m != 0
                    if set == ((level.rightDenies >> UInt8(i)) & 1 != 0) { rights &= ~(1 << UInt8(i)) }
                }
                if !entryRule(level.present, entry) {
                    tracer.end("\(format.descriptor.levels[depth].name) is not present")
                    return .fault(fault(format, .notPresent, attributes, rights, depth, facts: 1 << 0))
                }
                if let m = level.misconfigured, entryRule(m, entry) {
                    tracer.end("\(format.descriptor.levels[depth].name) has an invalid encoding (misconfiguration)")
                    return .fault(Fault(kind: .misconfiguration, report: 0, level: depth, rights: rights))
                }
                let leaf = level.isLast || (level.leafWhen.map { entryRule($0, entry) } ?? false)
                let reserved = entry & (leaf ? level.reservedLeaf : level.reservedTable)
                if reserved != 0 {
                    tracer.end("\(format.descriptor.levels[depth].name) has reserved bits 0x\(String(reserved, radix: 16)) set")
                    return .fault(fault(format, .reserved, attributes, rights, depth, facts: 1 << 1))
                }
                guard used < 8 else { return .invalidState("format \(format.descriptor.name) has more than 8 levels") }
                entryAddresses[used] = address
                entryValues[used] = entry
                entryLevels[used] = depth
                used += 1
                if !leaf {
                    table = entry & level.addressMask
                    continue
                }
                if let m = level.leafMisconfigured, entryRule(m, entry) {
                    tracer.end("\(format.descriptor.levels[depth].name) has an invalid leaf encoding (misconfiguration)")
                    return .fault(Fault(kind: .misconfiguration, report: 0, level: depth, rights: rights))
                }
                // The leaf: check the access against the permission table.
                if let denied = permissionFault(format, level: level, depth: depth, entry: entry, rights: rights,
                                                attributes: attributes) {
                    tracer.end("the access rights deny the access")
                    return .fault(denied)
                }
                var physical: UInt64
                if level.pieces.isEmpty {
                    physical = entry & level.addressMask & ~level.pageMask
                } else {
                    physical = 0
                    for p in level.pieces {
                        physical |= ((entry >> UInt64(p.fromShift)) & ((1 << UInt64(p.width)) - 1)) << UInt64(p.toShift)
                    }
                }
                physical |= access.address & level.pageMask
                let translation = Translation(
                    physical: physical, pageSize: level.pageMask + 1, rights: rights, leafEntry: entry, level: depth)
                // The output address's own translation (nested paging) comes before any A/D update.
                let final = space.translateFinal(translation, attributes: attributes)
                guard case .translation = final else {
                    tracer.end("the translation of the output address failed")
                    return final
                }
                // Accessed on every entry used, dirty on the leaf for writes; on success only.
                if format.accessedDirty {
                    for i in 0..<used {
                        let l = format.levels[entryLevels[i]]
                        if l.loadedWithRoot || l.accessedMask == 0 { continue }
                        let value = entryValues[i]
                        var updated = value | l.accessedMask
                        if i == used - 1 && attributes.contains(.write) { updated |= l.dirtyMask }
                        if updated == value { continue }
                        switch space.updateEntry(entryAddresses[i], bytes: l.entryBytes, expected: value, desired: updated) {
                        case .stored: break
                        case .changed:
                            retries += 1
                            if retries < 64 { continue restart }
                        case .stop(let outcome):
                            tracer.end("updating the accessed/dirty flags of \(format.descriptor.levels[entryLevels[i]].name) failed")
                            return outcome
                        }
                    }
                }
                tracer.end("\(format.descriptor.levels[depth].name) maps a \(level.pageMask + 1)-byte page")
                return final
            }
            tracer.end("the walk ran out of levels")
            return .invalidState("format \(format.descriptor.name) has no leaf level")
        }
    }

    /// The fault, if the permission table denies `attributes` on a leaf with `rights` (the folded
    /// rights) and `entry` (for its protection key). Shared by the walk and the TLB hit path.
    @inline(__always)
    static func permissionFault(_ format: PreparedFormat, level: PreparedFormat.Level, depth: Int, entry: UInt64,
                                rights: UInt8, attributes: AccessAttributes) -> Fault? {
        var keyBits: UInt64 = 0
        if let keys = format.keys, level.keyMask != 0 {
            let key = Int((entry & level.keyMask) >> level.keyShift)
            if key < keys.accessDisableShift.count {
                let isUser = (rights >> UInt8(keys.pageIsUserRight)) & 1 != 0
                let register = isUser ? format.keyRights.user : format.keyRights.supervisor
                keyBits = (register >> UInt64(keys.accessDisableShift[key])) & 1
                    | ((register >> UInt64(keys.writeDisableShift[key])) & 1) << 1
            }
        }
        let combo = permissionIndex(format.permissionInputs, attributes, rights, keyBits)
        guard (format.permission[combo >> 6] >> UInt64(combo & 63)) & 1 != 0 else { return nil }
        var facts: UInt64 = 0
        for (fact, bits) in format.factTables where (bits[combo >> 6] >> UInt64(combo & 63)) & 1 != 0 {
            facts |= 1 << UInt64(fact)
        }
        return fault(format, .protection, attributes, rights, depth, facts: facts)
    }

    /// Evaluates an entry rule (present, leaf, misconfiguration) specialised to the control state.
    @inline(__always)
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

    @inline(__always)
    static func permissionIndex(_ inputs: [RuleInput], _ attributes: AccessAttributes, _ rights: UInt8, _ keyBits: UInt64) -> Int {
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

    static func fault(_ format: PreparedFormat, _ kind: FaultKind, _ attributes: AccessAttributes, _ rights: UInt8,
                      _ level: Int, facts: UInt64) -> Fault {
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
