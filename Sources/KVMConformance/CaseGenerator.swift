import GeneratedMMU
import SpecParser
import WalkContract

/// A seedable pseudo-random generator (SplitMix64), so that a seed names a case list.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    /// Starts from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generates walk cases for the KVM conformance check, in the walk-case format (one JSON object a
/// line):
///
/// - `access`: kvm-unit-tests x86/access.c's flag sweep (x86-paging.md §c.5), sampled uniformly
///   over its legal combinations: PTE W/U/A/D/NX/P/bit 51/bit 36; PDE W/U/A/D/PS/NX/P/bit 51/bit
///   36/bit 13; PDPTE read-only; PKRU.AD, PKRU.WD and key 1; user, write and fetch accesses;
///   EFER.NXE, CR0.WP, CR4.SMEP and CR4.PKE; plus smap.c's CR4.SMAP and RFLAGS.AC. MAXPHYADDR is
///   varied so that bit 36 is sometimes reserved. Not generated: FEP (forced emulation) and
///   "twice" (a second access), which a single walk case cannot express.
/// - `random`: random page tables with shared tables, large pages, reserved bits, protection keys,
///   pre-set accessed/dirty flags, random controls and occasionally non-canonical addresses.
///
/// Field positions come from the spec formats; only the choice of dimensions is written here.
///
/// ```swift
/// let lines = try CaseGenerator(specs: specs, options: .init(count: 100, seed: 1)).cases()
/// ```
public struct CaseGenerator {
    /// Which generator.
    public enum Style: String, CaseIterable, Sendable {
        /// The access.c flag sweep, sampled.
        case access
        /// Random page tables.
        case random
    }

    /// What to generate.
    public struct Options: Sendable {
        /// Number of cases.
        public var count: Int
        /// The seed.
        public var seed: UInt64
        /// The styles to alternate.
        public var styles: [Style]
        /// Paging depths to generate (4; 5 only where the host accepts CR4.LA57).
        public var levels: [Int]
        /// MAXPHYADDR values to pick from (36 makes access.c's bit 36 reserved).
        public var maxPhysicalAddressBits: [Int]

        /// Creates options.
        public init(
            count: Int, seed: UInt64, styles: [Style] = Style.allCases, levels: [Int] = [4],
            maxPhysicalAddressBits: [Int] = [46, 40, 36]
        ) {
            self.count = count
            self.seed = seed
            self.styles = styles
            self.levels = levels
            self.maxPhysicalAddressBits = maxPhysicalAddressBits
        }
    }

    /// A spec fact the generator needs is missing, or the options ask for something impossible.
    public struct Unsupported: Error, CustomStringConvertible {
        /// Why.
        public var description: String
    }

    struct Format {
        var descriptor: PagingFormatDescriptor
        var bits: [EntryBits]
    }

    let options: Options
    let formats: [Int: Format]
    let cr0Base: UInt64, wp: UInt64
    let pae: UInt64, la57: UInt64, smep: UInt64, smap: UInt64, pke: UInt64
    let lme: UInt64, lma: UInt64, nxe: UInt64, sce: UInt64
    let rflagsFixed: UInt64, ac: UInt64
    let pkruAD: [UInt64], pkruWD: [UInt64]

    /// Prepares a generator over `specs`' IA-32e formats.
    public init(specs: SpecSet, options: Options) throws {
        self.options = options
        guard !options.styles.isEmpty, !options.levels.isEmpty, !options.maxPhysicalAddressBits.isEmpty else {
            throw Unsupported(description: "styles, levels and MAXPHYADDR values must not be empty")
        }
        var formats: [Int: Format] = [:]
        for levels in options.levels {
            guard let d = SpecFormats.all.first(where: { $0.isLongModeGuestFormat && $0.levels.count == levels }) else {
                throw Unsupported(description: "the specs have no IA-32e paging format with \(levels) levels")
            }
            formats[levels] = Format(descriptor: d, bits: try d.levels.map(EntryBits.init))
        }
        self.formats = formats
        func field(_ register: String, _ name: String) throws -> UInt64 {
            guard let f = specs.register(register)?.field(name) else {
                throw Unsupported(description: "the specs define no \(register).\(name)")
            }
            return f.bits.mask
        }
        cr0Base = try ["PE", "MP", "ET", "NE", "PG"].reduce(0) { $0 | (try field("CR0", $1)) }
        wp = try field("CR0", "WP")
        pae = try field("CR4", "PAE")
        la57 = try field("CR4", "LA57")
        smep = try field("CR4", "SMEP")
        smap = try field("CR4", "SMAP")
        pke = try field("CR4", "PKE")
        lme = try field("EFER", "LME")
        lma = try field("EFER", "LMA")
        nxe = try field("EFER", "NXE")
        sce = try field("EFER", "SCE")
        rflagsFixed = try field("RFLAGS", "fixed1")
        ac = try field("RFLAGS", "AC")
        pkruAD = try (0..<16).map { try field("PKRU", "AD\($0)") }
        pkruWD = try (0..<16).map { try field("PKRU", "WD\($0)") }
    }

    /// The cases, one JSON object a line.
    public func cases() -> [String] {
        var rng = SplitMix64(seed: options.seed)
        return (0..<options.count).map { i in
            let style = options.styles[i % options.styles.count]
            let levels = options.levels[Int.random(in: 0..<options.levels.count, using: &rng)]
            let maxphy = options.maxPhysicalAddressBits[
                Int.random(in: 0..<options.maxPhysicalAddressBits.count, using: &rng)]
            guard let format = formats[levels] else { return "" }
            let number = String(i)
            let id = "\(style.rawValue)-\(levels)-" + String(repeating: "0", count: max(0, 5 - number.count)) + number
            var builder = CaseBuilder(
                id: id, format: format,
                maxPhysicalAddressBits: maxphy)
            switch style {
            case .access: accessCase(&builder, &rng)
            case .random: randomCase(&builder, &rng)
            }
            return builder.json()
        }
    }

    // MARK: access.c

    /// One access.c combination (x86-paging.md §c.5).
    struct AccessFlags {
        var pte = (w: false, u: false, a: false, d: false, nx: false, p: false, bit51: false, bit36: false)
        var pde = (
            w: false, u: false, a: false, d: false, pse: false, nx: false, p: false, bit51: false, bit36: false,
            bit13: false
        )
        var pdpteReadOnly = false
        var pkruAD = false, pkruWD = false, key1 = false
        var user = false, write = false, fetch = false
        var efernx = false, wp = false, smep = false, pke = false, smap = false, ac = false

        mutating func randomize(_ rng: inout SplitMix64) {
            func b() -> Bool { Bool.random(using: &rng) }
            pte = (b(), b(), b(), b(), b(), b(), b(), b())
            pde = (b(), b(), b(), b(), b(), b(), b(), b(), b(), b())
            pdpteReadOnly = b()
            (pkruAD, pkruWD, key1) = (b(), b(), b())
            (user, write, fetch) = (b(), b(), b())
            (efernx, wp, smep, pke, smap, ac) = (b(), b(), b(), b(), b(), b())
        }

        /// access.c's `ac_test_legal`, with bit 36 counted as reserved only below MAXPHYADDR 37.
        func legal(maxPhysicalAddressBits: Int) -> Bool {
            if fetch && write { return false }
            if (pkruAD || pkruWD) && !pke { return false }
            if pde.bit13 && !pde.pse { return false }
            let bit36Reserved = maxPhysicalAddressBits <= 36
            let reserved = [
                pte.bit51, pte.bit36 && bit36Reserved, pde.bit51, pde.bit36 && bit36Reserved, pde.bit13,
                pte.nx && !efernx, pde.nx && !efernx,
            ].filter { $0 }.count
            return reserved <= 1
        }
    }

    func accessCase(_ b: inout CaseBuilder, _ rng: inout SplitMix64) {
        var f = AccessFlags()
        repeat { f.randomize(&rng) } while !f.legal(maxPhysicalAddressBits: b.maxPhysicalAddressBits)
        let format = b.format
        let levels = format.descriptor.levels.count
        let linear = b.randomLinear(&rng)
        let tables = b.randomTables(count: levels, &rng)
        let bit51: UInt64 = 1 << 51, bit36: UInt64 = 1 << 36
        let pdeLevel = levels - 2, pteLevel = levels - 1
        // Upper levels: P|W|U, PDPTE read-only on request (access.c forces the rest).
        for depth in 0..<(levels - 2) {
            let bits = format.bits[depth]
            var e = (tables[depth + 1] & bits.address) | bits.present | bits.user | bits.writable
            if depth == levels - 3 && f.pdpteReadOnly { e &= ~bits.writable }
            if Bool.random(using: &rng) { e |= bits.accessed }
            b.store(table: tables[depth], depth: depth, linear: linear, e)
        }
        let pdeBits = format.bits[pdeLevel], pteBits = format.bits[pteLevel]
        var pde: UInt64 = 0
        if f.pde.pse {
            pde = b.randomFrame(size: format.descriptor.pageBytes(depth: pdeLevel), &rng) | pdeBits.pageSize
            if f.pde.d { pde |= pdeBits.dirty }
            if f.pde.bit13 { pde |= b.lowestLeafReservedBit(depth: pdeLevel) }
            if f.key1 { pde |= pdeBits.key(1) }
        } else {
            pde = tables[pteLevel] & pdeBits.address
        }
        if f.pde.w { pde |= pdeBits.writable }
        if f.pde.u { pde |= pdeBits.user }
        if f.pde.a { pde |= pdeBits.accessed }
        if f.pde.nx { pde |= pdeBits.executeDisable }
        if f.pde.p { pde |= pdeBits.present }
        if f.pde.bit51 { pde |= bit51 }
        if f.pde.bit36 { pde |= bit36 }
        b.store(table: tables[pdeLevel], depth: pdeLevel, linear: linear, pde)
        if !f.pde.pse {
            var pte = b.randomFrame(size: 4096, &rng)
            if f.pte.w { pte |= pteBits.writable }
            if f.pte.u { pte |= pteBits.user }
            if f.pte.a { pte |= pteBits.accessed }
            if f.pte.d { pte |= pteBits.dirty }
            if f.pte.nx { pte |= pteBits.executeDisable }
            if f.pte.p { pte |= pteBits.present }
            if f.pte.bit51 { pte |= bit51 }
            if f.pte.bit36 { pte |= bit36 }
            if f.key1 { pte |= pteBits.key(1) }
            b.store(table: tables[pteLevel], depth: pteLevel, linear: linear, pte)
        }
        b.linear = linear
        b.cpl = f.user ? 3 : 0
        b.kind = f.fetch ? "fetch" : f.write ? "write" : "read"
        b.cr0 = cr0Base | (f.wp ? wp : 0)
        b.cr4 = pae | (levels == 5 ? la57 : 0) | (f.smep ? smep : 0) | (f.smap ? smap : 0) | (f.pke ? pke : 0)
        b.efer = sce | lme | lma | (f.efernx ? nxe : 0)
        b.rflags = rflagsFixed | (f.ac ? ac : 0)
        b.pkru = (f.pkruAD ? pkruAD[1] : 0) | (f.pkruWD ? pkruWD[1] : 0)
        b.root = tables[0]
    }

    // MARK: random tables

    func randomCase(_ b: inout CaseBuilder, _ rng: inout SplitMix64) {
        let format = b.format
        let d = format.descriptor
        let levels = d.levels.count
        func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
        // Tables per level (the root alone at level 0), each with a few populated entries.
        let counts = (0..<levels).map { $0 == 0 ? 1 : Int.random(in: 1...3, using: &rng) }
        var all = b.randomTables(count: counts.reduce(0, +), &rng)
        var tables: [[UInt64]] = []
        for n in counts { tables.append(Array(all.prefix(n))); all.removeFirst(n) }
        var populated: [UInt64: [UInt64]] = [:]  // table -> indices
        for depth in 0..<levels {
            let level = d.levels[depth]
            let bits = format.bits[depth]
            let maxIndex = (UInt64(1) << UInt64(level.indexBits)) - 1
            for table in tables[depth] {
                let indices = (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                    UInt64.random(in: 0...maxIndex, using: &rng)
                }
                for index in indices {
                    populated[table, default: []].append(index)
                    let canBeLeaf = level.isLast || level.leafWhen != nil
                    let leaf = level.isLast || (canBeLeaf && chance(depth == levels - 2 ? 0.3 : 0.15))
                    var e: UInt64
                    if leaf {
                        e = b.randomFrame(size: d.pageBytes(depth: depth), &rng)
                        if !level.isLast { e |= bits.pageSize }
                        if chance(0.4) { e |= bits.dirty }
                        if chance(0.4) { e |= bits.key(UInt64.random(in: 0...15, using: &rng)) }
                    } else {
                        let next = tables[depth + 1][Int.random(in: 0..<tables[depth + 1].count, using: &rng)]
                        e = next & bits.address
                    }
                    if chance(0.9) { e |= bits.present }
                    if chance(0.75) { e |= bits.writable }
                    if chance(0.75) { e |= bits.user }
                    if chance(0.5) { e |= bits.accessed }
                    if chance(0.15) { e |= bits.executeDisable }
                    if chance(0.06) { e |= b.randomReservedBit(depth: depth, leaf: leaf, &rng) }
                    if chance(0.2) { e |= bits.inert & UInt64.random(in: 0...UInt64.max, using: &rng) }
                    b.memory[table + index * UInt64(level.entryBytes)] = e
                }
            }
        }
        // The address: mostly through populated entries, sometimes anywhere.
        var linear: UInt64 = 0
        var table = tables[0][0]
        for depth in 0..<levels {
            let level = d.levels[depth]
            let maxIndex = (UInt64(1) << UInt64(level.indexBits)) - 1
            var index = UInt64.random(in: 0...maxIndex, using: &rng)
            if let list = populated[table], chance(0.93) { index = list[Int.random(in: 0..<list.count, using: &rng)] }
            linear |= index << UInt64(level.indexShift)
            let e = b.memory[table + index * UInt64(level.entryBytes)] ?? 0
            table = e & format.bits[depth].address
        }
        linear |= UInt64.random(in: 0..<4096, using: &rng)
        linear = d.canonical(linear)
        if chance(0.03) { linear ^= 1 << UInt64.random(in: UInt64(d.addressBits)..<64, using: &rng) }
        b.linear = linear
        b.root = tables[0][0]
        b.cpl = chance(0.5) ? 3 : 0
        b.kind = ["read", "write", "fetch"][Int.random(in: 0..<3, using: &rng)]
        b.cr0 = cr0Base | (chance(0.5) ? wp : 0)
        let pkeOn = chance(0.35)
        b.cr4 = pae | (levels == 5 ? la57 : 0) | (chance(0.3) ? smep : 0) | (chance(0.3) ? smap : 0) | (pkeOn ? pke : 0)
        b.efer = sce | lme | lma | (chance(0.7) ? nxe : 0)
        b.rflags = rflagsFixed | (chance(0.3) ? ac : 0)
        if pkeOn || chance(0.1) {
            for k in 0..<16 where chance(0.2) { b.pkru |= chance(0.5) ? pkruAD[k] : pkruWD[k] }
        }
        if chance(0.25) { b.features.append("pdpe1gb") }
    }
}

/// One case under construction.
struct CaseBuilder {
    var id: String
    var format: CaseGenerator.Format
    var maxPhysicalAddressBits: Int
    var features = ["nx", "pku", "smap", "smep"]
    var memory: [UInt64: UInt64] = [:]
    var root: UInt64 = 0
    var linear: UInt64 = 0
    var cpl = 0
    var kind = "read"
    var cr0: UInt64 = 0, cr4: UInt64 = 0, efer: UInt64 = 0, rflags: UInt64 = 0, pkru: UInt64 = 0

    init(id: String, format: CaseGenerator.Format, maxPhysicalAddressBits: Int) {
        self.id = id
        self.format = format
        self.maxPhysicalAddressBits = maxPhysicalAddressBits
        if format.descriptor.levels.count > 4 { features.append("la57") }
    }

    /// A random canonical linear address, in either half.
    func randomLinear(_ rng: inout SplitMix64) -> UInt64 {
        let bits = UInt64(format.descriptor.addressBits)
        return format.descriptor.canonical(UInt64.random(in: 0..<(1 << bits), using: &rng))
    }

    /// `count` distinct random table pages in a random 256 KiB window between 1 MiB and 1 GiB
    /// (tables close together, as access.c preallocates them, keep KVM's memory slots few).
    func randomTables(count: Int, _ rng: inout SplitMix64) -> [UInt64] {
        let window = UInt64.random(in: 0x100..<0x3_FF00, using: &rng)
        var seen = Set<UInt64>()
        var result: [UInt64] = []
        while result.count < count {
            let page = (window + UInt64.random(in: 0..<64, using: &rng)) << 12
            if seen.insert(page).inserted { result.append(page) }
        }
        return result
    }

    /// A random `size`-aligned page frame at or above 1 GiB and below MAXPHYADDR (so never a table).
    func randomFrame(size: UInt64, _ rng: inout SplitMix64) -> UInt64 {
        let top = UInt64(1) << UInt64(maxPhysicalAddressBits)
        let low = max(UInt64(1) << 30, size)
        return UInt64.random(in: low..<top, using: &rng) & ~(size - 1)
    }

    /// The lowest bit of the leaf-reserved bits of level `depth` (access.c's PDE bit 13).
    func lowestLeafReservedBit(depth: Int) -> UInt64 {
        let level = format.descriptor.levels[depth]
        let m = level.leafReserved.filter { !$0.aboveMaxPhysicalAddress && $0.when == nil }.reduce(0) { $0 | $1.mask }
        return m == 0 ? 0 : 1 << UInt64(m.trailingZeroBitCount)
    }

    /// A random bit that the specs reserve in an entry of level `depth` (a leaf or a table entry):
    /// an address bit at or above MAXPHYADDR, or a bit of the level's fixed reserved masks.
    func randomReservedBit(depth: Int, leaf: Bool, _ rng: inout SplitMix64) -> UInt64 {
        let level = format.descriptor.levels[depth]
        var candidates: [UInt64] = []
        for r in level.reserved + (leaf ? level.leafReserved : level.tableReserved) {
            var m = r.mask
            if r.aboveMaxPhysicalAddress { m &= ~((UInt64(1) << UInt64(maxPhysicalAddressBits)) - 1) }
            for bit in 0..<64 where (m >> UInt64(bit)) & 1 != 0 { candidates.append(1 << UInt64(bit)) }
        }
        return candidates.isEmpty ? 0 : candidates[Int.random(in: 0..<candidates.count, using: &rng)]
    }

    /// Stores entry `value` of level `depth` for `linear` in `table`.
    mutating func store(table: UInt64, depth: Int, linear: UInt64, _ value: UInt64) {
        let level = format.descriptor.levels[depth]
        memory[table + format.descriptor.index(linear, depth: depth) * UInt64(level.entryBytes)] = value
    }

    /// The case as one JSON line (keys and memory in a fixed order).
    func json() -> String {
        func hex(_ v: UInt64) -> String { "\"0x\(String(v, radix: 16))\"" }
        let mem = memory.keys.sorted().map { "\(hex($0)): \(hex(memory[$0] ?? 0))" }.joined(separator: ", ")
        let feats = features.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        return "{\"id\": \"\(id)\", \"maxphyaddr\": \(maxPhysicalAddressBits), \"features\": [\(feats)], "
            + "\"regs\": {\"cr0\": \(hex(cr0)), \"cr3\": \(hex(root)), \"cr4\": \(hex(cr4)), \"efer\": \(hex(efer)), "
            + "\"rflags\": \(hex(rflags)), \"pkru\": \(hex(pkru))}, \"memory\": {\(mem)}, "
            + "\"access\": {\"linear\": \(hex(linear)), \"kind\": \"\(kind)\", \"cpl\": \(cpl)}}"
    }
}
