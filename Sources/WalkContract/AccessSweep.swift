import SpecParser

/// The kvm-unit-tests `x86/access.c` sweep as walk cases: every legal combination of PTE, PDE and
/// PDPTE flags, protection keys, access type and control bits (x86-paging reference §c.5), for
/// 4-level or 5-level paging.
///
/// A case is a number whose bits are the flags below; ``isLegal(_:)`` applies access.c's filter
/// (no fetch+write, no PKRU flags without CR4.PKE, PDE bit 13 only with PSE, at most one reserved
/// bit) and ``walkCase(_:)`` builds the page tables.
public struct AccessSweep: Sendable {
    /// The flags, one bit each, in access.c's order.
    public enum Flag: Int, CaseIterable, Sendable {
        case pteWritable, pteUser, pteAccessed, pteDirty, pteNX, ptePresent, pteBit51, pteBit36
        case pdeWritable, pdeUser, pdeAccessed, pdeDirty, pdePSE, pdeNX, pdePresent, pdeBit51, pdeBit36, pdeBit13
        case pdpteNotWritable
        case pkruAD, pkruWD, pkey1
        case accessUser, accessWrite, accessFetch, accessTwice
        case eferNX, cr0WP, cr4SMEP, cr4PKE
        case cr4SMAP, rflagsAC
    }

    /// Paging levels: 4 or 5.
    public var levels: Int
    /// MAXPHYADDR of the CPU.
    public var maxPhysicalAddressBits: Int
    /// Include SMEP (access.c dropped it from the sweep in 2021) and SMAP/AC (not in access.c).
    public var includeSupervisorProtections: Bool

    /// Creates a sweep.
    public init(levels: Int, maxPhysicalAddressBits: Int = 46, includeSupervisorProtections: Bool = false) {
        self.levels = levels
        self.maxPhysicalAddressBits = maxPhysicalAddressBits
        self.includeSupervisorProtections = includeSupervisorProtections
    }

    /// Number of flag bits; cases are numbers below `1 << flagCount`.
    public var flagCount: Int { includeSupervisorProtections ? Flag.allCases.count : Flag.cr4PKE.rawValue + 1 }

    @inline(__always)
    static func has(_ c: UInt64, _ f: Flag) -> Bool { (c >> UInt64(f.rawValue)) & 1 != 0 }

    /// access.c's legality filter.
    public func isLegal(_ c: UInt64) -> Bool {
        let h = { (f: Flag) in Self.has(c, f) }
        if h(.accessFetch) && h(.accessWrite) { return false }
        if (h(.pkruAD) || h(.pkruWD) || h(.pkey1)) && !h(.cr4PKE) { return false }
        if h(.pdeBit13) && !h(.pdePSE) { return false }
        if !includeSupervisorProtections && h(.cr4SMEP) { return false }
        if h(.rflagsAC) && !h(.cr4SMAP) { return false }
        // Flags the CPU cannot express.
        if (h(.pteBit51) || h(.pdeBit51)) && maxPhysicalAddressBits >= 52 { return false }
        if (h(.pteBit36) || h(.pdeBit36)) && maxPhysicalAddressBits <= 36 { return false }
        var reserved = 0
        for f in [Flag.pteBit51, .pteBit36, .pdeBit51, .pdeBit36, .pdeBit13] where h(f) { reserved += 1 }
        if !h(.eferNX) { reserved += (h(.pteNX) ? 1 : 0) + (h(.pdeNX) ? 1 : 0) }
        return reserved <= 1
    }

    /// The CPU's features (the same for every case).
    static let features: Set<String> = ["nx", "smep", "smap", "pku", "pdpe1gb", "la57", "pse", "pge"]

    static let pteMask: UInt64 = (1 << UInt64(Flag.pteBit36.rawValue + 1)) - 1

    /// The page tables and access for case `c`.
    public func walkCase(_ c: UInt64) -> WalkCase {
        let h = { (f: Flag) in Self.has(c, f) }
        // Fixed table pages; the linear address indexes distinct slots at every level.
        let linear: UInt64 = levels == 5 ? 0x00ab_cdef_1234_5678 & ~0xFFF | 0x678 : 0x0000_7f12_3456_7678
        let canonical = levels == 5 ? linear : linear
        var memory: [UInt64: UInt64] = [:]
        let tables: [UInt64] = [0x1000, 0x2000, 0x3000, 0x4000, 0x5000]
        let page: UInt64 = 0x0020_0000
        func index(_ level: Int) -> UInt64 { (canonical >> UInt64(12 + 9 * level)) & 0x1FF }
        // Upper levels: present, writable, user.
        var level = levels - 1
        var t = 0
        while level > 2 {
            memory[tables[t] + index(level) * 8] = tables[t + 1] | 0x7
            t += 1
            level -= 1
        }
        // PDPTE.
        memory[tables[t] + index(2) * 8] = tables[t + 1] | (h(.pdpteNotWritable) ? 0x5 : 0x7)
        t += 1
        var pde: UInt64 = 0
        if h(.pdePresent) { pde |= 1 }
        if h(.pdeWritable) { pde |= 2 }
        if h(.pdeUser) { pde |= 4 }
        if h(.pdeAccessed) { pde |= 0x20 }
        if h(.pdeDirty) { pde |= 0x40 }
        if h(.pdeNX) { pde |= 1 << 63 }
        if h(.pdeBit51) { pde |= 1 << 51 }
        if h(.pdeBit36) { pde |= 1 << 36 }
        if h(.pdeBit13) { pde |= 1 << 13 }
        let key: UInt64 = h(.pkey1) ? 1 : 0
        if h(.pdePSE) {
            pde |= 0x80 | page | key << 59
        } else {
            pde |= tables[t + 1]
            var pte: UInt64 = page | key << 59
            if h(.ptePresent) { pte |= 1 }
            if h(.pteWritable) { pte |= 2 }
            if h(.pteUser) { pte |= 4 }
            if h(.pteAccessed) { pte |= 0x20 }
            if h(.pteDirty) { pte |= 0x40 }
            if h(.pteNX) { pte |= 1 << 63 }
            if h(.pteBit51) { pte |= 1 << 51 }
            if h(.pteBit36) { pte |= 1 << 36 }
            memory[tables[t + 1] + index(0) * 8] = pte
        }
        memory[tables[t] + index(1) * 8] = pde
        var cr0: UInt64 = 0x8000_0011
        if h(.cr0WP) { cr0 |= 1 << 16 }
        var cr4: UInt64 = 0x20
        if levels == 5 { cr4 |= 1 << 12 }
        if h(.cr4SMEP) { cr4 |= 1 << 20 }
        if h(.cr4SMAP) { cr4 |= 1 << 21 }
        if h(.cr4PKE) { cr4 |= 1 << 22 }
        var efer: UInt64 = 0x500
        if h(.eferNX) { efer |= 0x800 }
        var pkru: UInt64 = 0
        if h(.pkruAD) { pkru |= 1 << (2 * key) }
        if h(.pkruWD) { pkru |= 2 << (2 * key) }
        let kind = h(.accessFetch) ? "fetch" : h(.accessWrite) ? "write" : "read"
        return WalkCase(
            id: "sweep-\(levels)-\(String(c, radix: 16))", maxPhysicalAddressBits: maxPhysicalAddressBits,
            features: Self.features,
            registers: [
                "CR0": cr0, "CR3": tables[0], "CR4": cr4, "EFER": efer, "RFLAGS": h(.rflagsAC) ? 0x40002 : 2,
                "PKRU": pkru,
            ],
            ept: nil, memory: memory, address: canonical, guestPhysical: false, kind: kind,
            cpl: h(.accessUser) ? 3 : 0, implicit: false, user: false)
    }
}
