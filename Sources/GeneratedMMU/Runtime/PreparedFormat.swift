/// A paging format specialised to one control state and CPU: every rule over control bits and
/// CPUID features is evaluated, reserved masks are computed from MAXPHYADDR, and the fault rules
/// are folded into one permission table over the access attributes, folded rights and key rights
/// (what KVM's `update_permission_bitmask` and `reset_rsvds_bits_mask` do by hand).
///
/// Prepare once per control-state change; walks then only load, mask and look up.
public struct PreparedFormat: Sendable {
    /// One level, specialised.
    public struct Level: Sendable {
        var indexShift: UInt64
        var indexMask: UInt64
        var entryBytes: UInt64
        var addressMask: UInt64
        var accessedMask: UInt64
        var dirtyMask: UInt64
        var keyMask: UInt64
        var keyShift: UInt64
        var present: RuleTable
        var leafWhen: RuleTable?
        var isLast: Bool
        var loadedWithRoot: Bool
        var reservedTable: UInt64
        var reservedLeaf: UInt64
        var pieces: [AddressPieceDescriptor]
        var pageMask: UInt64
        var misconfigured: RuleTable?
        var leafMisconfigured: RuleTable?
        var rightMasks: [UInt64]
        var rightDenies: UInt8
    }

    /// The format.
    public let descriptor: PagingFormatDescriptor
    /// Levels, top first.
    public internal(set) var levels: [Level]
    var root: UInt64
    var permissionInputs: [RuleInput]
    var permission: [UInt64]
    var factTables: [(fact: Int, bits: [UInt64])]
    var reportFlags: [(mask: UInt64, rule: RuleTable)]
    var accessedDirty: Bool
    var keyRights: (user: UInt64, supervisor: UInt64)
    var keys: ProtectionKeyDescriptor?
    var rightCount: Int
    /// Leaf-entry rule for global translations, specialised (nil: never global).
    var globalWhen: RuleTable?
    /// The address-space tag (PCID) of the current root, 0 when tags are off.
    public internal(set) var tag: UInt64 = 0
    var tagInUse = false
    /// Why the root register's value is one the processor refuses, if it is.
    public internal(set) var rootInvalid: String?
    /// Whether accessed and dirty flags are maintained (for EPT, also: guest paging-structure
    /// accesses count as writes).
    public var maintainsAccessedDirty: Bool { accessedDirty }

    /// Specialises `descriptor` to `state` and `cpu`.
    public init(_ descriptor: PagingFormatDescriptor, state: ControlState, cpu: CPUConfiguration) {
        self.descriptor = descriptor
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
        rootInvalid = nil
        let rootValue = state[index: descriptor.rootRegister]
        if rootValue & mask(descriptor.rootReserved) != 0 {
            let bad = rootValue & mask(descriptor.rootReserved)
            rootInvalid = "reserved bits 0x\(String(bad, radix: 16)) of \(SpecRegisters.names[descriptor.rootRegister]) are set"
        }
        for check in descriptor.rootChecks where holds(check.rule) && rootInvalid == nil {
            rootInvalid = check.why
        }
        if let t = descriptor.tlb {
            globalWhen = t.globalWhen?.specialized(staticValue)
            tagInUse = t.tagWhen.map { holds($0) } ?? (t.tagMask != 0)
        }
        levels = descriptor.levels.map { l in
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
            return Level(
                indexShift: UInt64(l.indexShift), indexMask: (1 << UInt64(l.indexBits)) - 1,
                entryBytes: UInt64(l.entryBytes), addressMask: l.addressMask, accessedMask: l.accessedMask,
                dirtyMask: l.dirtyMask, keyMask: l.keyMask,
                keyShift: UInt64(l.keyMask == 0 ? 0 : l.keyMask.trailingZeroBitCount),
                present: l.present.specialized(staticValue), leafWhen: l.leafWhen?.specialized(staticValue),
                isLast: l.isLast, loadedWithRoot: l.loadedWithRoot, reservedTable: mask(l.reserved + l.tableReserved),
                reservedLeaf: leafReserved, pieces: pieces, pageMask: (1 << UInt64(l.indexShift)) - 1,
                misconfigured: l.misconfigured?.specialized(staticValue),
                leafMisconfigured: l.leafMisconfigured?.specialized(staticValue),
                rightMasks: l.rights.map(\.mask), rightDenies: denies)
        }
        rightCount = descriptor.rightNames.count
        // Fold every fault rule into one table over the dynamic inputs.
        let faults = descriptor.faults.map { $0.rule.specialized(staticValue) }
        var inputs: [RuleInput] = []
        for f in faults {
            for i in f.inputs where !inputs.contains(i) { inputs.append(i) }
        }
        permissionInputs = inputs
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
                    facts[Int(fact), default: [UInt64](repeating: 0, count: any.count)][combo >> 6] |= 1 << UInt64(combo & 63)
                }
            }
        }
        permission = any
        factTables = facts.keys.sorted().map { ($0, facts[$0] ?? []) }
        reportFlags = descriptor.reportFlags.map { ($0.mask, $0.rule.specialized(staticValue)) }
        accessedDirty = holds(descriptor.accessedDirtyWhen)
        keys = descriptor.protectionKeys
        if let k = descriptor.protectionKeys {
            keyRights = (state[index: k.userRegister], state[index: k.supervisorRegister])
        } else {
            keyRights = (0, 0)
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
    public func prepared(_ descriptor: PagingFormatDescriptor, state: ControlState, cpu: CPUConfiguration) -> PreparedFormat {
        var bits: [UInt64] = []
        func collect(_ t: RuleTable?) {
            guard let t else { return }
            for i in t.inputs {
                switch i.source {
                case .control:
                    bits.append((state[index: Int(i.index)] >> UInt64(i.shift)) & (i.width >= 64 ? ~0 : (1 << UInt64(i.width)) - 1))
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
