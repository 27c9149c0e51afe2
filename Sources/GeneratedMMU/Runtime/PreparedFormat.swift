/// A paging format specialised to one control state and CPU: every rule over control bits and
/// CPUID features is evaluated, reserved masks are computed from MAXPHYADDR, and the fault rules
/// are folded into one permission table over the access attributes, folded rights and key rights
/// (what KVM's `update_permission_bitmask` and `reset_rsvds_bits_mask` do by hand).
///
/// Prepare once per control-state change; walks then only load, mask and look up.
public struct PreparedFormat: Sendable {
    /// One level, specialised: plain values only (no arrays, no references), so the walk loop reads
    /// it without reference counting.
    public struct Level: Sendable {
        // Declared hot fields first: the walk's shortest path reads the first three cache lines only.
        /// Present, misconfigured and leaf as one lookup (when the rules allow).
        @usableFromInline var entryClass: EntryClass
        @usableFromInline var indexShift: UInt64
        @usableFromInline var indexMask: UInt64
        @usableFromInline var addressMask: UInt64
        /// Entry bits of rights this level has no field for (OR-ed in before folding).
        @usableFromInline var neutralRights: UInt64
        @usableFromInline var reservedTable: UInt64
        @usableFromInline var reservedLeaf: UInt64
        @usableFromInline var pageMask: UInt64
        @usableFromInline var keyMask: UInt64
        @usableFromInline var keyShift: UInt64
        /// `1 << keyWidth` when the level has a key field, else 0: its part of a slot in
        /// ``LevelTable/Lookup/permissionIndex``.
        @usableFromInline var keyBase: UInt64 = 0
        /// The dirty flag when this entry's A/D flags are maintained, else 0.
        @usableFromInline var dirtyToSet: UInt64
        /// The accessed flag when this entry's A/D flags are maintained, else 0.
        @usableFromInline var accessedToSet: UInt64
        @usableFromInline var entryBytes: UInt64
        @usableFromInline var accessedMask: UInt64
        @usableFromInline var dirtyMask: UInt64
        @usableFromInline var isLast: Bool
        @usableFromInline var loadedWithRoot: Bool
        /// Leaf address pieces (in ``PreparedFormat/levelRules``) instead of the address field.
        @usableFromInline var hasPieces: Bool
        /// 8-byte entries in memory (not loaded with the root), rights that fold in place, and the entry
        /// class usable: the walk's shortest path.
        @usableFromInline var fast: Bool
        @usableFromInline var leafMisconfigured: EntryTest
        /// The entry is present.
        @usableFromInline var present: EntryTest
        /// A present entry maps a page (always on the last level).
        @usableFromInline var leaf: EntryTest
        @usableFromInline var misconfigured: EntryTest
    }

    /// The parts of a level the walk needs only off the fast path: rule tables without a short form,
    /// address pieces, rights that do not fold in place.
    @usableFromInline
    struct LevelRules: Sendable {
        var present: RuleTable
        var leafWhen: RuleTable?
        var misconfigured: RuleTable?
        var leafMisconfigured: RuleTable?
        var pieces: [AddressPieceDescriptor]
        var rightMasks: [UInt64]
        var rightDenies: UInt8
    }

    /// What depends only on the control state, shared by every copy: a prepared format is copied
    /// into each walk (and a nested space holds one), so the copy is a reference, not hundreds of bytes.
    /// Written only while preparing.
    @usableFromInline
    final class Storage: @unchecked Sendable {
        @usableFromInline let descriptor: PagingFormatDescriptor
        @exclusivity(unchecked) @usableFromInline var levels: [Level] = []
        @exclusivity(unchecked) @usableFromInline var levelTable = LevelTable(
            [], maps: PermissionMaps(), keyWidth: 0, rightCount: 0, pageIsUserRight: 0
        ) { _, _ in 0 }
        @exclusivity(unchecked) @usableFromInline var levelRules: [LevelRules] = []
        @exclusivity(unchecked) @usableFromInline var permissionInputs: [RuleInput] = []
        @exclusivity(unchecked) @usableFromInline var permission: [UInt64] = []
        @exclusivity(unchecked) @usableFromInline var factTables: [(fact: Int, bits: [UInt64])] = []
        @exclusivity(unchecked) @usableFromInline var reportFlags: [(mask: UInt64, rule: RuleTable)] = []
        @exclusivity(unchecked) @usableFromInline var accessedDirty: Bool = false
        @exclusivity(unchecked) @usableFromInline var keyRights: (user: UInt64, supervisor: UInt64) = (0, 0)
        @exclusivity(unchecked) @usableFromInline var keys: ProtectionKeyDescriptor? = nil
        @exclusivity(unchecked) @usableFromInline var rightCount: Int = 0
        @exclusivity(unchecked) @usableFromInline var allRights: UInt8 = 0xFF
        @exclusivity(unchecked) @usableFromInline var fold: RightsFold = RightsFold()
        @exclusivity(unchecked) @usableFromInline var maps: PermissionMaps = PermissionMaps()
        @exclusivity(unchecked) @usableFromInline var keyBitsTable: [UInt8] = []
        @exclusivity(unchecked) @usableFromInline var keyCount: Int = 0
        @exclusivity(unchecked) @usableFromInline var pageIsUserRight: UInt8 = 0
        @exclusivity(unchecked) @usableFromInline var addressBits: UInt64 = 64
        @exclusivity(unchecked) @usableFromInline var canonical: Bool = false
        @exclusivity(unchecked) @usableFromInline var firstLoadedWithRoot: Bool = false
        @exclusivity(unchecked) @usableFromInline var someLoadedWithRoot: Bool = false
        @exclusivity(unchecked) @usableFromInline var fastAccessed: UInt64 = 0
        @exclusivity(unchecked) @usableFromInline var allFast: Bool = false
        @exclusivity(unchecked) @usableFromInline var globalWhen: RuleTable? = nil
        @exclusivity(unchecked) @usableFromInline var tagInUse: Bool = false
        @exclusivity(unchecked) @usableFromInline var rootInvalid: String? = nil

        init(_ descriptor: PagingFormatDescriptor) { self.descriptor = descriptor }
    }

    @usableFromInline let storage: Storage
    @usableFromInline var root: UInt64
    /// The address-space tag (PCID) of the current root, 0 when tags are off.
    public internal(set) var tag: UInt64 = 0

    /// The format.
    @inlinable public var descriptor: PagingFormatDescriptor { storage.descriptor }
    /// Levels, top first.
    @inlinable public var levels: [Level] { storage.levels }
    /// The same levels, for the walk to read in place.
    @inlinable var levelTable: LevelTable { storage.levelTable }
    /// Per level, what the fast path leaves to tables.
    @inlinable var levelRules: [LevelRules] { storage.levelRules }
    @inlinable var permissionInputs: [RuleInput] { storage.permissionInputs }
    @inlinable var permission: [UInt64] { storage.permission }
    @inlinable var factTables: [(fact: Int, bits: [UInt64])] { storage.factTables }
    @inlinable var reportFlags: [(mask: UInt64, rule: RuleTable)] { storage.reportFlags }
    @inlinable var accessedDirty: Bool { storage.accessedDirty }
    @inlinable var keyRights: (user: UInt64, supervisor: UInt64) { storage.keyRights }
    @inlinable var keys: ProtectionKeyDescriptor? { storage.keys }
    @inlinable var rightCount: Int { storage.rightCount }
    /// Every right held: the fold's starting value.
    @inlinable var allRights: UInt8 { storage.allRights }
    /// Rights folded in the entries' bit positions (when the format allows).
    @inlinable var fold: RightsFold { storage.fold }
    /// The permission table as one map per access class.
    @inlinable var maps: PermissionMaps { storage.maps }
    /// Key rights (AD | WD << 1) by page owner and key: `keyBitsTable[isUser * keyCount + key]`.
    @inlinable var keyBitsTable: [UInt8] { storage.keyBitsTable }
    @inlinable var keyCount: Int { storage.keyCount }
    /// The right that tells user pages from supervisor pages, for the key register.
    @inlinable var pageIsUserRight: UInt8 { storage.pageIsUserRight }
    /// The input address's width, and whether it must be canonical (sign-extended) there.
    @inlinable var addressBits: UInt64 { storage.addressBits }
    @inlinable var canonical: Bool { storage.canonical }
    /// The first level is loaded with the root (PAE PDPTEs).
    /// The accessed flag of every fast level (they share it; 0 when A/D flags are not maintained).
    @inlinable var fastAccessed: UInt64 { storage.fastAccessed }
    /// Every level is fast, the permission maps apply, no leaf has address pieces, the rights fold
    /// keeps the accessed flag and the root is valid: ``Walker/quickTranslate(_:_:_:_:_:)`` can try
    /// the walk.
    @inlinable var allFast: Bool { storage.allFast }
    /// Some level is loaded with the root.
    @inlinable var someLoadedWithRoot: Bool { storage.someLoadedWithRoot }
    @inlinable var firstLoadedWithRoot: Bool { storage.firstLoadedWithRoot }
    /// Leaf-entry rule for global translations, specialised (nil: never global).
    @inlinable var globalWhen: RuleTable? { storage.globalWhen }
    @inlinable var tagInUse: Bool { storage.tagInUse }
    /// Why the root register's value is one the processor refuses, if it is.
    @inlinable public var rootInvalid: String? { storage.rootInvalid }
    /// Whether accessed and dirty flags are maintained (for EPT, also: guest paging-structure
    /// accesses count as writes).
    @inlinable public var maintainsAccessedDirty: Bool { accessedDirty }

    /// Specialises `descriptor` to `state` and `cpu`.
    public init(_ descriptor: PagingFormatDescriptor, state: ControlState, cpu: CPUConfiguration) {
        storage = Storage(descriptor)
        root = 0
        func staticValue(_ input: RuleInput) -> UInt64 {
            switch input.source {
            case .control:
                let v = state[index: Int(input.index)] >> UInt64(input.shift)
                return input.width >= 64 ? v : v & ((1 << UInt64(input.width)) - 1)
            case .feature:
                return cpu.features[Int(input.index)] ? 1 : 0
            default:
                return 0
            }
        }
        func holds(_ table: RuleTable?) -> Bool {
            guard let table else { return true }
            return table.specialized(staticValue).constantValue ?? false
        }
        let physicalBits = min(cpu.maxPhysicalAddressBits, Int(descriptor.physicalAddressLimit))
        let physicalMask: UInt64 = physicalBits >= 64 ? ~0 : (1 << UInt64(physicalBits)) - 1
        func mask(_ items: [ReservedDescriptor]) -> UInt64 {
            var m: UInt64 = 0
            for r in items where holds(r.when) {
                m |= r.aboveMaxPhysicalAddress ? (r.mask & ~physicalMask) : r.mask
            }
            return m
        }
        root = state[index: descriptor.rootRegister] & descriptor.rootMask
        storage.rootInvalid = nil
        let rootValue = state[index: descriptor.rootRegister]
        if rootValue & mask(descriptor.rootReserved) != 0 {
            let bad = rootValue & mask(descriptor.rootReserved)
            storage.rootInvalid =
                "reserved bits 0x\(String(bad, radix: 16)) of \(SpecRegisters.names[descriptor.rootRegister]) are set"
        }
        for check in descriptor.rootChecks where holds(check.rule) && rootInvalid == nil {
            storage.rootInvalid = check.why
        }
        if let t = descriptor.tlb {
            storage.globalWhen = t.globalWhen?.specialized(staticValue)
            storage.tagInUse = t.tagWhen.map { holds($0) } ?? (t.tagMask != 0)
        }
        storage.rightCount = descriptor.rightNames.count
        storage.allRights = UInt8(truncatingIfNeeded: (1 << min(8, descriptor.rightNames.count)) - 1)
        let (fold, neutral) = RightsFold.make(descriptor.levels, rightCount: descriptor.rightNames.count)
        storage.fold = fold
        let accessedDirty = holds(descriptor.accessedDirtyWhen)
        var rules: [LevelRules] = []
        storage.levels = descriptor.levels.enumerated().map { depth, l in
            var leafReserved = mask(l.reserved + l.leafReserved)
            var pieces: [AddressPieceDescriptor] = []
            for p in l.leafPieces {
                let fieldMask: UInt64 = ((1 << UInt64(p.width)) - 1) << UInt64(p.fromShift)
                if p.requires >= 0 && !cpu.features[Int(p.requires)] {
                    leafReserved |= fieldMask
                    continue
                }
                // Entry bits that would land at or above the physical-address width are reserved.
                for bit in 0..<Int(p.width) where Int(p.toShift) + bit >= physicalBits {
                    leafReserved |= 1 << UInt64(Int(p.fromShift) + bit)
                }
                pieces.append(p)
            }
            var denies: UInt8 = 0
            for (i, r) in l.rights.enumerated() where r.denies { denies |= 1 << UInt8(i) }
            let present = l.present.specialized(staticValue)
            let leafWhen = l.leafWhen?.specialized(staticValue)
            let misconfigured = l.misconfigured?.specialized(staticValue)
            let leafMisconfigured = l.leafMisconfigured?.specialized(staticValue)
            rules.append(
                LevelRules(
                    present: present, leafWhen: leafWhen, misconfigured: misconfigured,
                    leafMisconfigured: leafMisconfigured, pieces: pieces, rightMasks: l.rights.map(\.mask),
                    rightDenies: denies))
            let maintained = accessedDirty && !l.loadedWithRoot && l.accessedMask != 0
            let presentTest = EntryTest(present, absent: true)
            let leafTest = l.isLast ? EntryTest(.always) : EntryTest(leafWhen, absent: false)
            let misconfiguredTest = EntryTest(misconfigured, absent: false)
            let entryClass = EntryClass(present: presentTest, misconfigured: misconfiguredTest, leaf: leafTest)
            return Level(
                entryClass: entryClass, indexShift: UInt64(l.indexShift), indexMask: (1 << UInt64(l.indexBits)) - 1,
                addressMask: l.addressMask, neutralRights: neutral[depth],
                reservedTable: mask(l.reserved + l.tableReserved),
                reservedLeaf: leafReserved, pageMask: (1 << UInt64(l.indexShift)) - 1, keyMask: l.keyMask,
                keyShift: UInt64(l.keyMask == 0 ? 0 : l.keyMask.trailingZeroBitCount),
                dirtyToSet: maintained ? l.dirtyMask : 0, accessedToSet: maintained ? l.accessedMask : 0,
                entryBytes: UInt64(l.entryBytes), accessedMask: l.accessedMask, dirtyMask: l.dirtyMask,
                isLast: l.isLast,
                loadedWithRoot: l.loadedWithRoot, hasPieces: !pieces.isEmpty,
                fast: l.entryBytes == 8 && !l.loadedWithRoot && fold.usable && entryClass.usable,
                leafMisconfigured: EntryTest(leafMisconfigured, absent: false), present: presentTest, leaf: leafTest,
                misconfigured: misconfiguredTest)
        }
        storage.levelRules = rules
        storage.addressBits = UInt64(descriptor.addressBits)
        storage.canonical = descriptor.canonical
        storage.firstLoadedWithRoot = descriptor.levels.first?.loadedWithRoot ?? false
        storage.someLoadedWithRoot = descriptor.levels.contains { $0.loadedWithRoot }
        // Fold every fault rule into one table over the dynamic inputs.
        let faults = descriptor.faults.map { $0.rule.specialized(staticValue) }
        var inputs: [RuleInput] = []
        for f in faults {
            for i in f.inputs where !inputs.contains(i) { inputs.append(i) }
        }
        storage.permissionInputs = inputs
        let size = 1 << inputs.count
        var any = [UInt64](repeating: 0, count: max(1, (size + 63) >> 6))
        var facts: [Int: [UInt64]] = [:]
        // Each rule's inputs as positions in the combined index (all dynamic inputs are one bit).
        let positions = faults.map { f in f.inputs.map { inputs.firstIndex(of: $0) ?? 0 } }
        for combo in 0..<size {
            for (fi, f) in faults.enumerated() {
                var index = 0
                for (bit, pos) in positions[fi].enumerated() { index |= ((combo >> pos) & 1) << bit }
                guard f.bit(index) else { continue }
                any[combo >> 6] |= 1 << UInt64(combo & 63)
                for fact in descriptor.faults[fi].sets {
                    facts[Int(fact), default: [UInt64](repeating: 0, count: any.count)][combo >> 6] |=
                        1 << UInt64(combo & 63)
                }
            }
        }
        storage.permission = any
        storage.factTables = facts.keys.sorted().map { ($0, facts[$0] ?? []) }
        storage.reportFlags = descriptor.reportFlags.map { ($0.mask, $0.rule.specialized(staticValue)) }
        storage.accessedDirty = accessedDirty
        storage.keys = descriptor.protectionKeys
        if let k = descriptor.protectionKeys {
            let user = state[index: k.userRegister], supervisor = state[index: k.supervisorRegister]
            storage.keyRights = (user, supervisor)
            // Each key's AD and WD bits for user and supervisor pages, read from PKRU / IA32_PKRS now.
            let count = min(k.accessDisableShift.count, k.writeDisableShift.count)
            storage.keyCount = count
            storage.pageIsUserRight = UInt8(truncatingIfNeeded: k.pageIsUserRight)
            storage.keyBitsTable = (0..<(2 * count)).map { i in
                let register = i >= count ? user : supervisor
                let key = i % count
                return UInt8(
                    (register >> UInt64(k.accessDisableShift[key])) & 1
                        | ((register >> UInt64(k.writeDisableShift[key])) & 1) << 1)
            }
        } else {
            storage.keyRights = (0, 0)
        }
        var maps = PermissionMaps(inputs: permissionInputs, permission: permission, rightCount: rightCount)
        // Key rights by (page owner, key) for every key value a level's key field can hold.
        var keyWidth = 0
        for l in levels where l.keyMask != 0 {
            keyWidth = max(keyWidth, 64 - (l.keyMask >> l.keyShift).leadingZeroBitCount)
        }
        if keyWidth > 8 {
            maps.usable = false
            keyWidth = 0
        }
        storage.maps = maps
        // Fast levels share one accessed flag, so the walk ANDs their entries and tests it once.
        var prepared = levels
        let common = prepared.first(where: \.fast)?.accessedToSet ?? 0
        for i in prepared.indices where prepared[i].fast && prepared[i].accessedToSet != common {
            prepared[i].fast = false
        }
        // A leaf with a key field has its own half of the permission index (``LevelTable/Lookup``).
        for i in prepared.indices where prepared[i].keyMask != 0 { prepared[i].keyBase = 1 << UInt64(keyWidth) }
        storage.fastAccessed = common
        storage.levels = prepared
        // The shortest path reads the shared accessed flag from the rights fold, which keeps the
        // entries' own bits wherever neither the NX-style inversion nor a level's neutral rights touch.
        let accessedInFold = fold.denyXor & common == 0 && prepared.allSatisfy { $0.neutralRights & common == 0 }
        storage.allFast =
            !prepared.isEmpty && prepared.count <= 8 && prepared.allSatisfy { $0.fast && !$0.hasPieces }
            && maps.usable && fold.usable && rootInvalid == nil && accessedInFold
        let count = keyCount, table = keyBitsTable
        storage.levelTable = LevelTable(
            levels, maps: maps, keyWidth: keyWidth, rightCount: rightCount, pageIsUserRight: Int(pageIsUserRight)
        ) { isUser, key in
            key < count ? table[isUser * count + key] : 0
        }
    }
}

extension PreparedFormat {
    /// The root (table address) from `state`, without re-preparing: CR3 changes far more often than
    /// the control bits the tables depend on.
    public mutating func reload(root state: ControlState) {
        root = state[index: descriptor.rootRegister] & descriptor.rootMask
        if let t = descriptor.tlb, tagInUse {
            tag = (state[index: t.tagRegister] & t.tagMask) >> UInt64(t.tagMask.trailingZeroBitCount)
        } else {
            tag = 0
        }
    }
}

/// Prepared formats by the control state they depend on, so that a walker re-specialises its tables
/// only when a relevant control bit, CPUID feature or MAXPHYADDR changes — not on every CR3 write.
///
/// Not thread-safe: keep one per virtual CPU.
public final class PreparedFormatCache {
    private struct Key: Hashable {
        var format: String
        var bits: [UInt64]
        var maxPhysicalAddressBits: Int
    }
    private var entries: [Key: PreparedFormat] = [:]
    /// Maximum number of prepared formats kept.
    public let capacity: Int

    /// Creates an empty cache.
    public init(capacity: Int = 64) { self.capacity = capacity }

    /// The prepared form of `descriptor` for `state` and `cpu`, with the root loaded from `state`.
    public func prepared(_ descriptor: PagingFormatDescriptor, state: ControlState, cpu: CPUConfiguration)
        -> PreparedFormat
    {
        var bits: [UInt64] = []
        func collect(_ t: RuleTable?) {
            guard let t else { return }
            for i in t.inputs {
                switch i.source {
                case .control:
                    bits.append(
                        (state[index: Int(i.index)] >> UInt64(i.shift))
                            & (i.width >= 64 ? ~0 : (1 << UInt64(i.width)) - 1))
                case .feature: bits.append(cpu.features[Int(i.index)] ? 1 : 0)
                default: break
                }
            }
        }
        collect(descriptor.enabledWhen)
        collect(descriptor.accessedDirtyWhen)
        for l in descriptor.levels {
            collect(l.present)
            collect(l.leafWhen)
            collect(l.misconfigured)
            collect(l.leafMisconfigured)
            for r in l.reserved + l.leafReserved + l.tableReserved { collect(r.when) }
            for p in l.leafPieces where p.requires >= 0 { bits.append(cpu.features[Int(p.requires)] ? 1 : 0) }
        }
        for f in descriptor.faults { collect(f.rule) }
        for f in descriptor.reportFlags { collect(f.rule) }
        for c in descriptor.rootChecks { collect(c.rule) }
        for r in descriptor.rootReserved { collect(r.when) }
        if !descriptor.rootReserved.isEmpty || !descriptor.rootChecks.isEmpty {
            bits.append(state[index: descriptor.rootRegister])
        }
        if let k = descriptor.protectionKeys {
            bits.append(state[index: k.userRegister])
            bits.append(state[index: k.supervisorRegister])
        }
        let key = Key(format: descriptor.name, bits: bits, maxPhysicalAddressBits: cpu.maxPhysicalAddressBits)
        if var hit = entries[key] {
            hit.reload(root: state)
            return hit
        }
        var made = PreparedFormat(descriptor, state: state, cpu: cpu)
        made.reload(root: state)
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = made
        return made
    }
}
