/// The walker's hot-path forms of the generated tables, built once per control state by
/// ``PreparedFormat`` (what KVM precomputes by hand: `rsvd_bits_mask`, `bad_mt_xwr`, the inverted
/// NX bit, `permissions[]`, `pkru_mask`). Every form keeps the exact meaning of the rule table it
/// comes from; a rule that fits none of them is evaluated from its table.

/// Up to two runs of bits gathered into a small index: `(v >> shift0) & mask0 | ((v >> shift1) & mask1) << width0`.
@usableFromInline
struct BitRuns: Sendable, Hashable {
    @usableFromInline var shift0: UInt64 = 0
    @usableFromInline var mask0: UInt64 = 0
    @usableFromInline var shift1: UInt64 = 0
    @usableFromInline var mask1: UInt64 = 0
    @usableFromInline var width0: UInt64 = 0

    @inlinable @inline(__always)
    func gather(_ v: UInt64) -> UInt64 {
        ((v &>> shift0) & mask0) | (((v &>> shift1) & mask1) &<< width0)
    }

    /// No bits.
    init() {}

    /// Runs for `sources`: bit `j` of the index is bit `sources[j]` of the value; nil if that needs
    /// more than two runs.
    init?(sources: [Int]) {
        var runs: [(start: Int, width: Int)] = []
        for s in sources {
            guard s >= 0 && s < 64 else { return nil }
            if let last = runs.last, last.start + last.width == s {
                runs[runs.count - 1].width += 1
            } else {
                runs.append((s, 1))
            }
        }
        guard runs.count <= 2 else { return nil }
        func mask(_ w: Int) -> UInt64 { w >= 64 ? ~0 : (1 << UInt64(w)) - 1 }
        if let r = runs.first {
            shift0 = UInt64(r.start)
            mask0 = mask(r.width)
            width0 = UInt64(r.width)
        }
        if runs.count == 2 {
            shift1 = UInt64(runs[1].start)
            mask1 = mask(runs[1].width)
        }
    }
}

/// A rule over the fields of one paging-structure entry (present, maps a page, misconfigured),
/// specialised to the control state, in its cheapest exact form.
@usableFromInline
struct EntryTest: Sendable {
    @usableFromInline
    enum Kind: UInt8, Sendable {
        /// Never holds.
        case never
        /// Always holds.
        case always
        /// Holds when any bit of `mask` is set (P; R || W || X).
        case any
        /// Holds when no bit of `mask` is set.
        case none
        /// `truth` bit `runs.gather(entry)` (EPT's XWR and memory-type checks).
        case lookup
        /// Evaluated from the rule table (more than six relevant bits, or more than two runs).
        case table
    }

    @usableFromInline var kind: Kind
    @usableFromInline var mask: UInt64 = 0
    @usableFromInline var runs = BitRuns()
    @usableFromInline var truth: UInt64 = 0

    init(_ kind: Kind) { self.kind = kind }

    /// Whether the test holds for `entry`; `table` evaluates the rule when the test has no short form.
    @inlinable @inline(__always)
    func holds(_ entry: UInt64, _ table: () -> Bool) -> Bool {
        switch kind {
        case .never: return false
        case .always: return true
        case .any: return entry & mask != 0
        case .none: return entry & mask == 0
        case .lookup: return (truth &>> runs.gather(entry)) & 1 != 0
        case .table: return table()
        }
    }

    /// Lowers `table` (nil: `absent`). The table's inputs must all be entry fields once specialised;
    /// anything else stays a table.
    init(_ table: RuleTable?, absent: Bool) {
        guard let table else {
            self.init(absent ? .always : .never)
            return
        }
        var bits: [Int] = []
        for input in table.inputs {
            guard input.source == .entry, Int(input.shift) + Int(input.width) <= 64 else {
                self.init(.table)
                return
            }
            for b in 0..<Int(input.width) where !bits.contains(Int(input.shift) + b) {
                bits.append(Int(input.shift) + b)
            }
        }
        bits.sort()
        guard bits.count <= 16 else {
            self.init(.table)
            return
        }
        func value(_ combo: Int, _ over: [Int]) -> Bool {
            var entry: UInt64 = 0
            for (k, b) in over.enumerated() where (combo >> k) & 1 != 0 { entry |= 1 << UInt64(b) }
            return Walker.entryRule(table, entry)
        }
        // Drop the bits the rule does not depend on.
        var relevant: [Int] = []
        let all = (0..<(1 << bits.count)).map { value($0, bits) }
        for (k, b) in bits.enumerated() where (0..<all.count).contains(where: { all[$0] != all[$0 ^ (1 << k)] }) {
            relevant.append(b)
        }
        let truths = (0..<(1 << relevant.count)).map { value($0, relevant) }
        var mask: UInt64 = 0
        for b in relevant { mask |= 1 << UInt64(b) }
        if relevant.isEmpty {
            self.init(truths[0] ? .always : .never)
        } else if truths.enumerated().allSatisfy({ $0.element == ($0.offset != 0) }) {
            self.init(.any)
            self.mask = mask
        } else if truths.enumerated().allSatisfy({ $0.element == ($0.offset == 0) }) {
            self.init(.none)
            self.mask = mask
        } else if relevant.count <= 6, let runs = BitRuns(sources: relevant) {
            self.init(.lookup)
            self.runs = runs
            for (i, t) in truths.enumerated() where t { truth |= 1 << UInt64(i) }
        } else {
            self.init(.table)
        }
    }
}

/// Rights folded as KVM folds them: in the entry's own bit positions, the granting bits ANDed and the
/// denying ones (XD) inverted first, so one AND per level; gathered into right numbers at the leaf.
@usableFromInline
struct RightsFold: Sendable {
    /// XOR applied to each entry: the bits of rights an entry grants when clear.
    @usableFromInline var denyXor: UInt64 = 0
    /// Entry bit of each right → right number.
    @usableFromInline var gather = BitRuns()
    /// Rights no level has a field for (always held).
    @usableFromInline var alwaysHeld: UInt8 = 0
    /// Whether the fold applies (every right is one bit at the same place on every level that has it).
    @usableFromInline var usable = false

    @inlinable @inline(__always)
    func rights(_ folded: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: gather.gather(folded)) | alwaysHeld }

    /// The fold for `levels`, and each level's neutral bits (rights the level has no field for).
    static func make(_ levels: [LevelDescriptor], rightCount: Int) -> (RightsFold, [UInt64]) {
        var fold = RightsFold()
        var neutral = [UInt64](repeating: 0, count: levels.count)
        guard rightCount <= 8 else { return (fold, neutral) }
        var bit = [Int](repeating: -1, count: rightCount)
        var denies = [Bool?](repeating: nil, count: rightCount)
        for l in levels {
            guard l.rights.count == rightCount else { return (fold, neutral) }
            for (i, r) in l.rights.enumerated() where r.mask != 0 {
                guard r.mask.nonzeroBitCount == 1 else { return (fold, neutral) }
                let b = r.mask.trailingZeroBitCount
                if bit[i] >= 0 && bit[i] != b { return (fold, neutral) }
                if let d = denies[i], d != r.denies { return (fold, neutral) }
                bit[i] = b
                denies[i] = r.denies
            }
        }
        // A right no level has a field for is always held; its index bit is OR-ed in, so gather it
        // from whatever bit continues the previous run.
        var sources: [Int] = []
        for i in 0..<rightCount {
            if bit[i] < 0 {
                fold.alwaysHeld |= 1 << UInt8(i)
                sources.append(min(63, (sources.last ?? -1) + 1))
            } else {
                sources.append(bit[i])
                if denies[i] == true { fold.denyXor |= 1 << UInt64(bit[i]) }
            }
        }
        guard let gather = BitRuns(sources: sources) else { return (fold, neutral) }
        fold.gather = gather
        for (k, l) in levels.enumerated() {
            var n: UInt64 = 0
            for (i, r) in l.rights.enumerated() where r.mask == 0 && bit[i] >= 0 { n |= 1 << UInt64(bit[i]) }
            neutral[k] = n
        }
        fold.usable = true
        return (fold, neutral)
    }
}

/// The fault rules of a format as KVM's `permissions[]`: one 64-bit map per class of access (the
/// access attributes the rules read), whose bit `rights | keyBits << rightCount` says whether that
/// leaf faults. The class comes from the attributes through one small table per 6 attribute bits.
@usableFromInline
struct PermissionMaps: Sendable {
    /// Whether the maps apply (at most 6 bits of rights and key rights, at most 10 access attributes).
    @usableFromInline var usable = false
    /// `chunkCount` tables of 64: attribute bits `6c..<6c+6` → their bits of the class index.
    @usableFromInline var chunks: [UInt16] = []
    @usableFromInline var chunkCount = 0
    /// One map per class.
    @usableFromInline var maps: [UInt64] = [0]
    /// Where the key bits start in a map's index (the number of rights).
    @usableFromInline var keyShift: UInt64 = 0

    init() {}

    /// Maps for the permission table `permission` over `inputs` (see ``PreparedFormat``).
    init(inputs: [RuleInput], permission: [UInt64], rightCount: Int) {
        var accessBits: [Int] = []
        for i in inputs {
            switch i.source {
            case .access:
                guard i.width == 1, i.index < 32 else { return }
                if !accessBits.contains(Int(i.index)) { accessBits.append(Int(i.index)) }
            case .right:
                guard i.width == 1, Int(i.index) < rightCount else { return }
            case .key:
                guard i.width == 1, i.index < 2 else { return }
            default:
                return
            }
        }
        guard rightCount + 2 <= 6, accessBits.count <= 10 else { return }
        chunkCount = (accessBits.max() ?? -1) / 6 + 1
        chunks = [UInt16](repeating: 0, count: max(2, chunkCount) * 64)
        for c in 0..<chunkCount {
            for v in 0..<64 {
                var part = 0
                for (j, b) in accessBits.enumerated() where b / 6 == c && (v >> (b % 6)) & 1 != 0 { part |= 1 << j }
                chunks[c * 64 + v] = UInt16(part)
            }
        }
        maps = (0..<(1 << accessBits.count)).map { cls in
            var m: UInt64 = 0
            for r in 0..<(1 << rightCount) {
                for k in 0..<4 {
                    var combo = 0
                    for (pos, input) in inputs.enumerated() {
                        let v: Int
                        switch input.source {
                        case .access: v = (cls >> (accessBits.firstIndex(of: Int(input.index)) ?? 0)) & 1
                        case .right: v = (r >> Int(input.index)) & 1
                        case .key: v = (k >> Int(input.index)) & 1
                        default: v = 0
                        }
                        combo |= v << pos
                    }
                    if (permission[combo >> 6] >> UInt64(combo & 63)) & 1 != 0 { m |= 1 << UInt64(r | k << rightCount) }
                }
            }
            return m
        }
        keyShift = UInt64(rightCount)
        usable = true
    }
}

/// The tables the walk reads on every access, in allocations it reads in place with no bounds
/// checks and no copies: the prepared levels (`levels[depth].field`), the permission maps with their
/// class lookup, and the key rights by page owner and key.
@usableFromInline
final class LevelTable: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<PreparedFormat.Level>
    let count: Int
    /// The permission maps and key rights, as plain pointers (reading them retains nothing).
    @usableFromInline let lookup: Lookup

    init(
        _ levels: [PreparedFormat.Level], maps: PermissionMaps, keyWidth: Int, rightCount: Int,
        pageIsUserRight: Int, keyBits: (_ isUser: Int, _ key: Int) -> UInt8
    ) {
        count = levels.count
        // Cache-line aligned, so that each level's hot fields (declared first) share as few lines as possible.
        base = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, levels.count) * MemoryLayout<PreparedFormat.Level>.stride, alignment: 64
        ).bindMemory(to: PreparedFormat.Level.self, capacity: max(1, levels.count))
        base.initialize(from: levels, count: levels.count)
        let chunkEntries = max(128, maps.chunks.count)
        let chunks = UnsafeMutablePointer<UInt16>.allocate(capacity: chunkEntries)
        chunks.initialize(repeating: 0, count: chunkEntries)
        chunks.update(from: maps.chunks, count: maps.chunks.count)
        let mapStorage = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, maps.maps.count))
        mapStorage.initialize(repeating: 0, count: max(1, maps.maps.count))
        mapStorage.update(from: maps.maps, count: maps.maps.count)
        // A leaf's bit in its permission map by rights, whether its level has a key field, and key.
        let rightsShift = keyWidth + 1
        let slots = maps.usable ? (1 << rightCount) << rightsShift : 1
        let permissionIndex = UnsafeMutablePointer<UInt8>.allocate(capacity: slots)
        for slot in 0..<slots {
            let rights = slot >> rightsShift, hasKey = (slot >> keyWidth) & 1, key = slot & ((1 << keyWidth) - 1)
            let bits = hasKey == 0 ? 0 : Int(keyBits((rights >> pageIsUserRight) & 1, key))
            (permissionIndex + slot).initialize(to: UInt8(truncatingIfNeeded: rights | bits << Int(maps.keyShift)))
        }
        lookup = Lookup(
            chunks: chunks, chunkCount: maps.chunkCount, maps: mapStorage, permissionIndex: permissionIndex,
            rightsShift: UInt64(rightsShift))
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
        lookup.chunks.deallocate()
        lookup.maps.deallocate()
        lookup.permissionIndex.deallocate()
    }

    /// ``PermissionMaps`` and the key rights, read in place.
    @usableFromInline
    struct Lookup: @unchecked Sendable {
        /// ``PermissionMaps/chunks`` (at least 128 entries).
        @usableFromInline let chunks: UnsafeMutablePointer<UInt16>
        @usableFromInline let chunkCount: Int
        /// ``PermissionMaps/maps``.
        @usableFromInline let maps: UnsafeMutablePointer<UInt64>
        /// A leaf's bit in its access class's permission map, `rights | keyBits << rightCount`, at
        /// slot `rights << rightsShift | level.keyBase | key` (key 0 and `keyBase` 0 for a level
        /// without a key field): the key rights of the page's owner (PKRU or IA32_PKRS, as the rights
        /// make it a user page) folded in once per prepared format, as KVM's `pkru_mask` is.
        @usableFromInline let permissionIndex: UnsafeMutablePointer<UInt8>
        @usableFromInline let rightsShift: UInt64

        /// The slot in ``permissionIndex`` of a leaf `entry` with `rights` at `level`.
        @inlinable @inline(__always)
        func permissionSlot(_ entry: UInt64, rights: UInt8, level: UnsafePointer<PreparedFormat.Level>) -> Int {
            Int(
                truncatingIfNeeded: UInt64(rights) &<< rightsShift | level.pointee.keyBase
                    | (entry & level.pointee.keyMask) &>> level.pointee.keyShift)
        }

        /// The leaf's bit in its class's permission map; a level without a key field needs no lookup
        /// (the table holds the rights themselves there).
        @inlinable @inline(__always)
        func permissionBit(_ entry: UInt64, rights: UInt8, level: UnsafePointer<PreparedFormat.Level>) -> UInt64 {
            level.pointee.keyBase == 0
                ? UInt64(rights) : UInt64(permissionIndex[permissionSlot(entry, rights: rights, level: level)])
        }

        /// The permission map of the class of `attributes` (see ``PermissionMaps``).
        @inlinable @inline(__always)
        func map(for attributes: AccessAttributes) -> UInt64 {
            let raw = Int(attributes.rawValue)
            if chunkCount <= 2 {
                // Attribute bits 0–11 (all there are today): two lookups.
                return maps[Int(chunks[raw & 63] | chunks[64 &+ ((raw &>> 6) & 63)])]
            }
            var index = 0
            var rest = raw
            var c = 0
            while c < chunkCount {
                index |= Int(chunks[c &* 64 &+ (rest & 63)])
                rest &>>= 6
                c &+= 1
            }
            return maps[index]
        }
    }
}

/// The three rules every entry on the walk meets (present, misconfigured, maps a page) as one lookup:
/// the (at most six) bits they read hashed into a 6-bit index by one multiplication, and two 64-bit
/// words over it — where the walk must stop (not present, or an invalid encoding) and where the entry
/// is a leaf. KVM's hand-written equivalents are `is_present_gpte`, `bad_mt_xwr` and `is_last_gpte`.
@usableFromInline
struct EntryClass: Sendable {
    /// Whether the lookup applies (the rules read at most six bits, and a multiplier was found).
    @usableFromInline var usable = false
    /// The bits the rules read.
    @usableFromInline var mask: UInt64 = 0
    /// `((entry & mask) * multiplier) >> 58` separates every combination of those bits that matters.
    @usableFromInline var multiplier: UInt64 = 0
    /// Bit `index` set: the entry is not present or misconfigured.
    @usableFromInline var stop: UInt64 = ~0
    /// Bit `index` set: the entry maps a page.
    @usableFromInline var leaf: UInt64 = 0

    @inlinable @inline(__always)
    func index(_ entry: UInt64) -> UInt64 { ((entry & mask) &* multiplier) &>> 58 }

    init() {}

    init(present: EntryTest, misconfigured: EntryTest, leaf leafTest: EntryTest) {
        var bits: [Int] = []
        for t in [present, misconfigured, leafTest] {
            switch t.kind {
            case .never, .always: break
            case .any, .none:
                for b in 0..<64 where (t.mask >> UInt64(b)) & 1 != 0 && !bits.contains(b) { bits.append(b) }
            case .lookup:
                for (shift, mask) in [(t.runs.shift0, t.runs.mask0), (t.runs.shift1, t.runs.mask1)] {
                    for b in 0..<64 where (mask >> UInt64(b)) & 1 != 0 && !bits.contains(Int(shift) + b) {
                        bits.append(Int(shift) + b)
                    }
                }
            case .table:
                return
            }
        }
        guard bits.count <= 6 else { return }
        bits.sort()
        var mask: UInt64 = 0
        for b in bits { mask |= 1 << UInt64(b) }
        let unreachable: () -> Bool = { preconditionFailure("a table rule in an entry class") }
        let combos: [(entry: UInt64, stop: Bool, leaf: Bool)] = (0..<(1 << bits.count)).map { combo in
            var entry: UInt64 = 0
            for (k, b) in bits.enumerated() where (combo >> k) & 1 != 0 { entry |= 1 << UInt64(b) }
            return (
                entry, !present.holds(entry, unreachable) || misconfigured.holds(entry, unreachable),
                leafTest.holds(entry, unreachable)
            )
        }
        // A multiplier that moves bit k of the combination to bit 58 + k, if the carries allow; else
        // search (as chess engines find "magic" multipliers): any multiplier works whose index
        // never maps two combinations with different outcomes to the same bit.
        func fits(_ m: UInt64) -> (UInt64, UInt64)? {
            var stop: UInt64 = 0, leaf: UInt64 = 0, seen: UInt64 = 0
            for c in combos {
                let i = ((c.entry & mask) &* m) &>> 58
                let s = (stop >> i) & 1 != 0, l = (leaf >> i) & 1 != 0
                if (seen >> i) & 1 != 0 {
                    if s != c.stop || l != c.leaf { return nil }
                    continue
                }
                seen |= 1 << i
                if c.stop { stop |= 1 << i }
                if c.leaf { leaf |= 1 << i }
            }
            return (stop, leaf)
        }
        var direct: UInt64 = 0
        for (k, b) in bits.enumerated() where 58 + k >= b { direct &+= 1 << UInt64(58 + k - b) }
        var candidate: UInt64? = bits.isEmpty ? 0 : direct
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ mask
        var found: (UInt64, UInt64)? = candidate.flatMap(fits)
        var tries = 0
        while found == nil && tries < 100_000 {
            // Sparse random multipliers (three random words ANDed) are the ones that work.
            var r: UInt64 = ~0
            for _ in 0..<3 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                r &= z ^ (z >> 31)
            }
            candidate = r
            found = fits(r)
            tries += 1
        }
        guard let found, let candidate else { return }
        self.mask = mask
        multiplier = candidate
        stop = found.0
        self.leaf = found.1
        usable = true
    }
}
