import CWalk
import Foundation
import GeneratedMMU
import SpecInterpreter
import SpecParser

/// The specs of the repository, for names, EPT capability bits and the reference interpreter.
public enum Specs {
    /// `specs/` at the root of the repository this package sits in.
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("specs").path

    /// The loaded specs.
    public static let set: SpecSet = {
        guard let specs = SpecLoader().load(paths: [directory]).specs else {
            fatalError("cannot load the specs in \(directory)")
        }
        return specs
    }()

    /// The mask of `register.field`.
    public static func mask(_ register: String, _ field: String) -> UInt64 {
        guard let m = set.register(register)?.field(field)?.bits.mask else {
            fatalError("no field \(register).\(field) in the specs")
        }
        return m
    }

    /// The register index the generated tables use for `name`.
    public static func register(_ name: String) -> Int {
        guard let i = SpecRegisters.index(named: name) else { fatalError("no register \(name)") }
        return i
    }
}

/// The shape of every fixture: 64 MiB of RAM, 32 regions of 512 pages (16,384 mapped 4 KiB pages,
/// each region filling one page table), 16,384 accesses to random pages and offsets.
public enum FixtureShape {
    /// Frames of RAM (64 MiB).
    public static let ramFrames: UInt64 = 16_384
    /// Frames reserved at the bottom of (guest) RAM for the (guest) page tables.
    public static let tableFrames: UInt64 = 1_024
    /// Mapped regions; each is one full page table.
    public static let regions = 32
    /// Accesses per fixture (a power of two: benchmarks index with `i & (count - 1)`).
    public static let accessCount = 16_384
    /// MAXPHYADDR of the CPU.
    public static let maxPhysicalAddressBits = 46
    /// The seed.
    public static let seed: UInt64 = 0x5EC_C0DE
    /// CPU features of the benchmark CPU.
    public static let features = ["nx", "smep", "smap", "pku", "pdpe1gb", "la57", "pse", "pge", "lm", "pae"]
}

/// A guest access as both walkers take it.
public struct AccessList: @unchecked Sendable {
    /// For the generated walker.
    public let swift: [Access]
    /// Addresses, for the C walkers.
    public let addresses: UnsafeMutablePointer<UInt64>
    /// Access classes, for the C walkers (`CW_ACC_*` or EPT bits).
    public let classes: UnsafeMutablePointer<UInt32>
    /// Number of accesses (a power of two).
    public var count: Int { swift.count }
    /// `count - 1`.
    public var mask: Int { swift.count - 1 }

    init(_ accesses: [Access], classes: [UInt32]) {
        swift = accesses
        addresses = .allocate(capacity: accesses.count)
        self.classes = .allocate(capacity: accesses.count)
        for (i, a) in accesses.enumerated() {
            addresses[i] = a.address
            self.classes[i] = classes[i]
        }
    }
}

/// Kinds in proportion: 60% reads, 30% writes, 10% fetches.
func randomKind(_ rng: inout SplitMix64) -> AccessKind {
    switch rng.below(10) {
    case 0..<6: return .read
    case 6..<9: return .write
    default: return .fetch
    }
}

/// The C access class of a user-mode guest access.
func guestClass(_ kind: AccessKind) -> UInt32 {
    UInt32(CW_ACC_USER) | (kind == .write ? UInt32(CW_ACC_WRITE) : 0) | (kind == .fetch ? UInt32(CW_ACC_FETCH) : 0)
}

/// Register values of a 64-bit Linux-like guest: CR0.WP, SMEP, SMAP, PKE, NXE, PKRU denying every
/// key but 0; LA57 for 5 levels.
func guestRegisters(levels: Int, root: UInt64) -> [String: UInt64] {
    var cr4: UInt64 = 0x20 | 0x80 | 1 << 20 | 1 << 21 | 1 << 22
    if levels == 5 { cr4 |= 1 << 12 }
    return ["CR0": 0x8005_0033, "CR3": root, "CR4": cr4, "EFER": 0xD01, "RFLAGS": 2, "PKRU": 0x5555_5554]
}

/// A control state and CPU from register and feature names.
func machine(_ registers: [String: UInt64]) -> (ControlState, CPUConfiguration) {
    var state = ControlState()
    for (name, value) in registers { state[index: Specs.register(name)] = value }
    var cpu = CPUConfiguration(maxPhysicalAddressBits: FixtureShape.maxPhysicalAddressBits)
    for f in FixtureShape.features {
        guard let i = SpecFeatures.index(named: f) else { fatalError("no feature \(f)") }
        cpu.features[i] = true
    }
    return (state, cpu)
}

/// The active format of `family` for a state, as the walk contract picks it.
func activeFormat(_ family: PagingFamily, _ state: ControlState, _ cpu: CPUConfiguration) -> PagingFormatDescriptor {
    let found = SpecFormats.all.first { f in
        f.family == family
            && (f.enabledWhen.specialized { input in
                input.source == .control
                    ? (state[index: Int(input.index)] >> UInt64(input.shift)) & ((1 << UInt64(input.width)) - 1)
                    : (cpu.features[Int(input.index)] ? 1 : 0)
            }.constantValue ?? false)
    }
    guard let found else { fatalError("no active \(family) format") }
    return found
}

/// Random 2 MiB-aligned region bases in the lower half of a `bits`-bit address space, distinct.
func regionBases(_ rng: inout SplitMix64, bits: Int) -> [UInt64] {
    var bases: [UInt64] = []
    var seen = Set<UInt64>()
    while bases.count < FixtureShape.regions {
        let base = rng.next() & ((1 << UInt64(bits - 1)) - 1) & ~((1 << 21) - 1)
        if base == 0 || !seen.insert(base >> 21).inserted { continue }
        bases.append(base)
    }
    return bases
}

/// IA-32e paging (4 or 5 levels) in 64 MiB of physical memory: the fixture of `Walk4Level`,
/// `Walk5Level`, their C twins, `Interp4Level` and the TLB benchmarks.
public final class GuestFixture: @unchecked Sendable {
    /// Physical memory holding the page tables.
    public let memory: HostMemory
    /// The format, specialised to the state.
    public let prepared: PreparedFormat
    /// The C walker's state.
    public let cmmu: UnsafeMutablePointer<cw_guest_mmu>
    /// The accesses.
    public let accesses: AccessList
    /// Mapped pages: (linear page, physical page).
    public let pages: [(linear: UInt64, physical: UInt64)]
    /// Register values by spec name.
    public let registers: [String: UInt64]
    /// Page tables built.
    public let tableCount: Int

    /// Builds the fixture.
    public init(levels: Int) {
        var rng = SplitMix64(seed: FixtureShape.seed &+ UInt64(levels))
        memory = HostMemory(size: Int(FixtureShape.ramFrames) << 12)
        let root: UInt64 = 0x1000
        var builder = TableBuilder(
            memory: memory, levels: levels, root: root, tableFlags: 0x27,
            tableFrames: 2..<FixtureShape.tableFrames, host: { $0 })
        var pages: [(UInt64, UInt64)] = []
        for base in regionBases(&rng, bits: levels == 5 ? 57 : 48) {
            for i in 0..<UInt64(512) {
                let linear = base + i << 12
                let frame = FixtureShape.tableFrames + rng.below(FixtureShape.ramFrames - FixtureShape.tableFrames)
                // Present, writable, user, accessed, dirty; key 0; executable.
                builder.map(linear, leaf: frame << 12 | 0x67)
                pages.append((linear, frame << 12))
            }
        }
        self.pages = pages
        tableCount = builder.tables
        registers = guestRegisters(levels: levels, root: root)
        let (state, cpu) = machine(registers)
        prepared = PreparedFormat(activeFormat(.guest, state, cpu), state: state, cpu: cpu)
        cmmu = .allocate(capacity: 1)
        initialiseCGuest(cmmu, registers)
        var list: [Access] = []
        var classes: [UInt32] = []
        for _ in 0..<FixtureShape.accessCount {
            let page = pages[Int(rng.below(UInt64(pages.count)))]
            let kind = randomKind(&rng)
            list.append(Access(address: page.0 | (rng.below(4096) & ~7), kind: kind, cpl: 3))
            classes.append(guestClass(kind))
        }
        accesses = AccessList(list, classes: classes)
    }
}

/// EPT (4 or 5 levels) mapping 64 MiB of guest-physical memory page by page onto shuffled host
/// frames, and a guest IA-32e paging hierarchy of the same depth inside guest-physical memory: the
/// fixture of `WalkEPT4`, `WalkEPT5`, `WalkNested4x4`, `WalkNested5x5` and their C twins.
public final class NestedFixture: @unchecked Sendable {
    /// Host-physical memory: guest RAM, then the EPT tables.
    public let memory: HostMemory
    /// The EPT format, specialised.
    public let ept: PreparedFormat
    /// The guest format, specialised.
    public let guest: PreparedFormat
    /// C walker states.
    public let cept: UnsafeMutablePointer<cw_ept_mmu>
    /// The C guest walker's state.
    public let cguest: UnsafeMutablePointer<cw_guest_mmu>
    /// Guest-physical accesses (EPT walks).
    public let eptAccesses: AccessList
    /// Guest-linear accesses (nested walks).
    public let guestAccesses: AccessList
    /// Guest-physical frame → host-physical frame.
    public let hostFrame: [UInt64]
    /// Mapped guest pages: (linear page, guest-physical page).
    public let pages: [(linear: UInt64, guestPhysical: UInt64)]
    /// Register values by spec name.
    public let registers: [String: UInt64]

    /// Builds the fixture.
    public init(levels: Int) {
        var rng = SplitMix64(seed: FixtureShape.seed &+ 0x100 &+ UInt64(levels))
        let ram = FixtureShape.ramFrames
        memory = HostMemory(size: Int(ram + 256) << 12)
        // Guest RAM on shuffled host frames; EPT tables above it.
        var frames = Array(0..<ram)
        for i in stride(from: frames.count - 1, to: 0, by: -1) {
            frames.swapAt(i, Int(rng.below(UInt64(i + 1))))
        }
        hostFrame = frames
        let eptRoot = ram << 12
        // Non-leaf EPT entries: RWX and accessed; leaves: RWX, WB, accessed, dirty.
        var eptBuilder = TableBuilder(
            memory: memory, levels: levels, root: eptRoot, tableFlags: 0x107,
            tableFrames: (ram + 1)..<(ram + 256), host: { $0 })
        for g in 0..<ram { eptBuilder.map(g << 12, leaf: frames[Int(g)] << 12 | 0x337) }
        let hostOf: (UInt64) -> UInt64 = { gpa in frames[Int(gpa >> 12)] << 12 | gpa & 0xFFF }
        let guestRoot: UInt64 = 0x1000
        var guestBuilder = TableBuilder(
            memory: memory, levels: levels, root: guestRoot, tableFlags: 0x27,
            tableFrames: 2..<FixtureShape.tableFrames, host: hostOf)
        var pages: [(UInt64, UInt64)] = []
        for base in regionBases(&rng, bits: levels == 5 ? 57 : 48) {
            for i in 0..<UInt64(512) {
                let linear = base + i << 12
                let frame = FixtureShape.tableFrames + rng.below(ram - FixtureShape.tableFrames)
                guestBuilder.map(linear, leaf: frame << 12 | 0x67)
                pages.append((linear, frame << 12))
            }
        }
        self.pages = pages
        let cap = [
            "execute-only", "page-walk-4", "page-walk-5", "UC", "WB", "pde-2m", "pdpte-1g", "accessed-dirty",
            "advanced-exit-info", "INVEPT", "invept-single-context", "invept-all-context",
        ]
        .reduce(UInt64(0)) { $0 | Specs.mask("IA32_VMX_EPT_VPID_CAP", $1) }
        // EPTP: WB paging-structure accesses, the walk length, A/D enabled.
        let eptp = eptRoot | UInt64(levels - 1) << 3 | 6 | 1 << 6
        var registers = guestRegisters(levels: levels, root: guestRoot)
        registers["EPTP"] = eptp
        registers["SECONDARY_CONTROLS"] = Specs.mask("SECONDARY_CONTROLS", "enable-ept")
        registers["IA32_VMX_EPT_VPID_CAP"] = cap
        self.registers = registers
        let (state, cpu) = machine(registers)
        ept = PreparedFormat(activeFormat(.ept, state, cpu), state: state, cpu: cpu)
        guest = PreparedFormat(activeFormat(.guest, state, cpu), state: state, cpu: cpu)
        precondition(ept.rootInvalid == nil, "EPTP refused: \(ept.rootInvalid ?? "")")
        cept = .allocate(capacity: 1)
        cw_ept_init(cept, eptp, UInt32(FixtureShape.maxPhysicalAddressBits), true, true, true, false)
        cguest = .allocate(capacity: 1)
        initialiseCGuest(cguest, registers)
        var eptList: [Access] = []
        var eptClasses: [UInt32] = []
        var guestList: [Access] = []
        var guestClasses: [UInt32] = []
        for _ in 0..<FixtureShape.accessCount {
            let kind = randomKind(&rng)
            eptList.append(Access(address: rng.below(ram) << 12 | (rng.below(4096) & ~7), kind: kind))
            eptClasses.append(kind == .write ? 2 : kind == .fetch ? 4 : 1)
            let page = pages[Int(rng.below(UInt64(pages.count)))]
            let guestKind = randomKind(&rng)
            guestList.append(Access(address: page.0 | (rng.below(4096) & ~7), kind: guestKind, cpl: 3))
            guestClasses.append(guestClass(guestKind))
        }
        eptAccesses = AccessList(eptList, classes: eptClasses)
        guestAccesses = AccessList(guestList, classes: guestClasses)
    }

    /// The nested space the generated walker walks guest tables in.
    public var space: NestedSpace<FlatMemory> {
        NestedSpace(ept: ept, memory: memory.flat, guest: guest.descriptor)
    }
}

/// The reference interpreter on the 4-level fixture: specs evaluated rule by rule.
public final class InterpreterFixture: @unchecked Sendable {
    /// The walker.
    public let walker: ReferenceWalker
    /// The format.
    public let format: PagingFormat
    /// The machine.
    public let machine: ReferenceMachine
    /// Memory: the page-table words of the fixture.
    public let memory: ReferenceMemory
    /// The same accesses as the fixture's.
    public let accesses: [ReferenceAccess]

    /// Builds the interpreter's view of `fixture`.
    public init(_ fixture: GuestFixture) {
        walker = ReferenceWalker(specs: Specs.set)
        machine = ReferenceMachine(
            registers: fixture.registers, features: Set(FixtureShape.features),
            maxPhysicalAddressBits: FixtureShape.maxPhysicalAddressBits)
        guard let format = walker.activeFormat(machine) else { fatalError("no active format") }
        self.format = format
        var words: [UInt64: UInt64] = [:]
        for address in stride(from: UInt64(0), to: FixtureShape.tableFrames << 12, by: 8) {
            let v = fixture.memory.load(address)
            if v != 0 { words[address] = v }
        }
        memory = ReferenceMemory(words)
        accesses = fixture.accesses.swift.map { a in
            ReferenceAccess(
                address: a.address, kind: a.kind == .write ? "write" : a.kind == .fetch ? "fetch" : "read",
                cpl: Int(a.cpl), implicit: a.implicit)
        }
    }
}

extension InterpreterFixture {
    /// Walks access `i` (modulo the count); the physical address, or all ones when it does not translate.
    public func walk(_ i: Int) -> UInt64 {
        var trace: [ReferenceStep] = []
        var reason = ""
        let outcome = walker.walk(
            format, machine: machine, access: accesses[i & (accesses.count - 1)], memory: memory,
            trace: &trace, reason: &reason)
        if case .translation(let physical, _, _) = outcome { return physical }
        return ~0
    }
}

/// TLB hits on the 4-level fixture: a working set of pages that occupy distinct slots of both the
/// generated ``TLB`` and the C TLB, both filled before measuring, and accesses to those pages only.
public final class TLBFixture: @unchecked Sendable {
    /// The walk fixture.
    public let guest: GuestFixture
    /// The generated MMU's TLB.
    public let tlb: TLB
    /// The C TLB.
    public let ctlb: UnsafeMutablePointer<cw_tlb>
    /// Accesses that hit.
    public let accesses: AccessList
    /// Pages in the working set.
    public let pageCount: Int

    /// Entries per page size of both TLBs.
    public static let sets = 4096

    /// Builds and fills both TLBs.
    public init(_ guest: GuestFixture, workingSet: Int = 1024) {
        self.guest = guest
        let tlb = TLB(formats: SpecFormats.all, sets: Self.sets)
        self.tlb = tlb
        let entries = UnsafeMutablePointer<cw_tlb_entry>.allocate(capacity: Self.sets)
        entries.initialize(repeating: cw_tlb_entry(), count: Self.sets)
        let ctlb = UnsafeMutablePointer<cw_tlb>.allocate(capacity: 1)
        // The same context as the generated TLB's: the guest's PCID, VPID 0, no EPT.
        ctlb.initialize(
            to: cw_tlb(
                entries: entries, mask: UInt64(Self.sets - 1), mmu: UnsafePointer(guest.cmmu), eptp: 0,
                pcid: UInt16(truncatingIfNeeded: guest.prepared.tag), vpid: 0))
        self.ctlb = ctlb
        var rng = SplitMix64(seed: FixtureShape.seed &+ 0x200)
        // Pages whose slots are free in both TLBs: probe by filling and checking that the page hits.
        var chosen: [UInt64] = []
        var cslots = Set<UInt64>()
        var memory = guest.memory.c
        var r = cw_result()
        let space = DirectSpace(guest.memory.flat)
        var order = guest.pages.map(\.linear)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
        func tlbHits(_ page: UInt64) -> Bool {
            let before = tlb.hits
            _ = tlb.translate(guest.prepared, Access(address: page, kind: .read, cpl: 3), space: space)
            return tlb.hits == before + 1
        }
        for page in order where chosen.count < workingSet {
            let slot = (page >> 12) & UInt64(Self.sets - 1)
            guard !cslots.contains(slot) else { continue }
            // The generated TLB: the page must hit, and filling it must have evicted nothing.
            _ = tlb.translate(guest.prepared, Access(address: page, kind: .write, cpl: 3), space: space)
            guard tlbHits(page) && tlb.count == chosen.count + 1 else {
                tlb.flushAll()
                for p in chosen {
                    _ = tlb.translate(guest.prepared, Access(address: p, kind: .write, cpl: 3), space: space)
                }
                continue
            }
            cslots.insert(slot)
            chosen.append(page)
            cw_walk_guest(guest.cmmu, &memory, page, UInt32(CW_ACC_USER), &r)
            cw_tlb_fill(ctlb, page, &r)
        }
        pageCount = chosen.count
        var list: [Access] = []
        var classes: [UInt32] = []
        for _ in 0..<FixtureShape.accessCount {
            let page = chosen[Int(rng.below(UInt64(chosen.count)))]
            let kind = randomKind(&rng)
            list.append(Access(address: page | (rng.below(4096) & ~7), kind: kind, cpl: 3))
            classes.append(guestClass(kind))
        }
        accesses = AccessList(list, classes: classes)
    }
}

/// Sets up the C guest walker for the fixture's register values.
func initialiseCGuest(_ mmu: UnsafeMutablePointer<cw_guest_mmu>, _ registers: [String: UInt64]) {
    func r(_ name: String) -> UInt64 {
        guard let value = registers[name] else { preconditionFailure("register \(name) missing from the fixture") }
        return value
    }
    cw_guest_init(
        mmu, r("CR0"), r("CR3"), r("CR4"), r("EFER"), r("RFLAGS"), UInt32(r("PKRU")), 0,
        UInt32(FixtureShape.maxPhysicalAddressBits), true)
}
