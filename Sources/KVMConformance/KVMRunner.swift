import CKVM
import GeneratedMMU
import SpecParser
import WalkContract

/// What KVM did with one walk case.
public enum KVMOutcome {
    /// KVM's result in the walk-case result format. A translation has `physical` and `writes`
    /// (KVM does not report the page size); a page fault has `error_code`, `writes` and `cr2`.
    case observed(WalkResult)
    /// This host or this runner cannot run the case; the text says why.
    case skipped(String)
    /// The case ran but gave no usable outcome (a time-out, a triple fault, an emulation failure).
    case failed(String)
}

/// Runs walk cases on `/dev/kvm`: builds the case's page tables in guest memory, sets the case's
/// control registers, performs its access at its CPL, and reports what KVM did.
///
/// ```swift
/// let runner = try KVMRunner(specs: specs)
/// if case .observed(let result) = runner.run(walkCase) { print(result.json) }
/// ```
///
/// One VM is kept per guest CPUID (MAXPHYADDR and entry features) and reused from case to case:
/// every case deletes and re-creates all memory slots, which makes KVM discard its shadow page
/// tables and MMIO cache, and completes any pending I/O before the next case's registers are set.
/// A VM whose case timed out or crashed is thrown away.
public final class KVMRunner {
    /// Options.
    public struct Options: Sendable {
        /// The bound on one case's `KVM_RUN`.
        public var timeoutMilliseconds: Int
        /// Reuse a VM across cases (else each case gets a fresh VM).
        public var reuseMachines: Bool

        /// Creates options.
        public init(timeoutMilliseconds: Int = 2000, reuseMachines: Bool = true) {
            self.timeoutMilliseconds = timeoutMilliseconds
            self.reuseMachines = reuseMachines
        }
    }

    /// The host.
    public let host: KVMHost
    /// The options.
    public let options: Options
    let facts: SpecFacts
    /// The host's MAXPHYADDR as KVM offers it.
    public let hostMaxPhysicalAddressBits: Int
    var machines: [String: KVMMachine] = [:]
    var refusals: [String: String] = [:]
    var holes: [String: String?] = [:]
    /// Replaces the test code (tests use it to hang the guest).
    var testCodeOverride: [UInt8]?

    /// Opens KVM for `specs`; throws when KVM or a spec fact the runner needs is missing.
    public init(specs: SpecSet, host: KVMHost? = nil, options: Options = Options()) throws {
        self.host = try host ?? KVMHost()
        self.options = options
        facts = try SpecFacts(specs)
        guard let bits = self.host.value(of: facts.maxPhysicalAddress) else {
            throw KVMError("KVM_GET_SUPPORTED_CPUID", errno: 0, detail: "no MAXPHYADDR leaf")
        }
        hostMaxPhysicalAddressBits = Int(bits)
    }

    /// The features of the case's that KVM does not offer and that change entry semantics.
    public func missingEntryFeatures(_ c: WalkCase) -> [String] {
        facts.entryFeatures.filter { c.features.contains($0.name) && !host.supports($0) }.map(\.name)
    }

    /// Whether KVM here accepts CR4.LA57, tried with `KVM_SET_SREGS` on a scratch VM (kvm.md §7).
    public var acceptsLA57: Bool {
        guard let cr4 = facts.specs.register("CR4"), let la57 = cr4.field("LA57")?.bits.mask,
            let pae = cr4.field("PAE")?.bits.mask,
            let machine = try? KVMMachine(host: host, cpuid: host.supportedCPUID, arenaBytes: 1 << 16),
            var s = try? machine.specialRegisters()
        else { return false }
        s.cr4 = pae | la57
        return machine.setSpecialRegisters(s) == 0
    }

    /// Runs one case on KVM.
    public func run(_ c: WalkCase) -> KVMOutcome {
        if c.ept != nil || c.guestPhysical {
            guard let vmx = facts.specs.feature("vmx"), host.supports(vmx) else {
                return .skipped("EPT: KVM here offers guests no VMX (KVM_GET_SUPPORTED_CPUID; kvm.md §9, §11.2)")
            }
            return .skipped("EPT: the runner has no VMX harness (VMXON, a VMCS and an L2 guest) to run EPT walks")
        }
        if c.implicit {
            return .skipped("implicit supervisor accesses are not run (the runner makes explicit accesses)")
        }
        guard c.cpl == 0 || c.cpl == 3 else { return .skipped("CPL \(c.cpl): the runner runs CPL 0 and CPL 3") }
        guard c.maxPhysicalAddressBits <= hostMaxPhysicalAddressBits else {
            return .skipped("MAXPHYADDR \(c.maxPhysicalAddressBits) is above this host's \(hostMaxPhysicalAddressBits)")
        }
        let mode: CaseMode
        switch CaseMode.of(c) {
        case .success(let m): mode = m
        case .failure(let why): return .skipped(why.description)
        }
        let format = mode.format
        let plan: CasePlan
        do {
            plan = try CasePlan(c, format: format, root: mode.root, present: mode.present, leaf: mode.leaf)
        } catch {
            return .skipped("\(error)")
        }
        let kind =
            AccessKind(rawValue: ["read", "write", "fetch"].firstIndex(of: c.kind).map(UInt8.init) ?? 0) ?? .read
        if kind == .fetch, let page = plan.targetPages.first(where: { plan.casePages.contains($0) }) {
            return .skipped(
                "the fetch could land on page 0x\(String(page, radix: 16)), which holds paging-structure words")
        }
        guard let userKey = runnerKey(c, format: format) else {
            return .skipped(
                "PKRU denies every protection key, so the runner's CPL-3 code could not be emulated (kvm.md §11.5)")
        }
        let cpuid = guestCPUID(c)
        let key = cpuid.key
        do {
            let machine: KVMMachine
            if options.reuseMachines, let m = machines[key] {
                machine = m
            } else {
                machine = try KVMMachine(host: host, cpuid: cpuid.entries)
                if options.reuseMachines { machines[key] = machine }
            }
            let outcome = try run(c, on: machine, format: format, plan: plan, kind: kind, userKey: userKey)
            if case .failed = outcome { machines[key] = nil }
            return outcome
        } catch {
            machines[key] = nil
            return .failed("\(error)")
        }
    }

    /// The root-table slot in which KVM faults CPL-3 accesses whatever the guest's tables say, if
    /// `c`'s address lies in one: KVM-PVM keeps such a slot for itself (docs/conformance.md). Found
    /// by trying: a fully permissive user mapping of `c`'s address, read at CPL 3, must translate.
    /// The answer is kept per page.
    public func userModeHole(containing c: WalkCase) -> String? {
        guard c.cpl == 3, case .success(let mode) = CaseMode.of(c) else { return nil }
        let format = mode.format
        guard format.canonical(c.address) == c.address else { return nil }
        let index = format.index(c.address, depth: 0)
        let key = "\(format.name) \(c.address >> 12)"
        if let known = holes[key] { return known }
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        var memory: [String: String] = [:]
        let tables: UInt64 = 0x10_0000, target: UInt64 = 0x30_0000
        for depth in 0..<format.levels.count {
            guard let bits = try? EntryBits(format.levels[depth]) else { return nil }
            let table = tables + UInt64(depth) * 0x1000
            let next = depth == format.levels.count - 1 ? target : table + 0x1000
            let address = table + format.index(c.address, depth: depth) * UInt64(format.levels[depth].entryBytes)
            memory[hex(address)] = hex((next & bits.address) | bits.present | bits.writable | bits.user)
        }
        let probe: [String: Any] = [
            "id": "probe", "maxphyaddr": c.maxPhysicalAddressBits, "features": c.features.sorted(),
            "regs": [
                "cr0": hex(c.registers["CR0"] ?? 0), "cr3": hex(tables),
                "cr4": hex((c.registers["CR4"] ?? 0) & ~facts.translateRelaxed), "efer": hex(c.registers["EFER"] ?? 0),
            ],
            "memory": memory, "access": ["linear": hex(c.address), "kind": "read", "cpl": 3],
        ]
        var hole: String?
        if let probeCase = try? WalkCase.parse(probe, specs: facts.specs), case .observed(let r) = run(probeCase),
            r.result == "page-fault"
        {
            let start = format.canonical(index << UInt64(format.levels[0].indexShift))
            hole = "root slot \(index) (\(hex(start))-\(hex(start + format.pageBytes(depth: 0) - 1)))"
        }
        holes[key] = .some(hole)
        return hole
    }

    /// A protection key whose access-disable bit the case's PKRU leaves clear, for the runner's own
    /// user pages: PVM's emulator applies PKRU to the instruction fetches it makes at CPL 3.
    func runnerKey(_ c: WalkCase, format: PagingFormatDescriptor) -> UInt64? {
        guard let keys = format.protectionKeys else { return 0 }
        let pkru = c.registers["PKRU"] ?? 0
        let free = keys.accessDisableShift.indices.first { (pkru >> UInt64(keys.accessDisableShift[$0])) & 1 == 0 }
        return free.map(UInt64.init)
    }

    /// The guest CPUID for `c`: KVM's supported CPUID with the case's MAXPHYADDR, the vendor the
    /// specs' CPU models name, and each entry feature present only if both the case and KVM have it.
    func guestCPUID(_ c: WalkCase) -> (entries: [kvm_cpuid_entry2], key: String) {
        var entries = host.supportedCPUID
        func edit(leaf: UInt32, subleaf: UInt32?, register: String, _ change: (UInt32) -> UInt32) {
            for i in entries.indices
            where entries[i].function == leaf && (subleaf == nil || entries[i].index == subleaf) {
                switch register {
                case "eax": entries[i].eax = change(entries[i].eax)
                case "ebx": entries[i].ebx = change(entries[i].ebx)
                case "ecx": entries[i].ecx = change(entries[i].ecx)
                case "edx": entries[i].edx = change(entries[i].edx)
                default: break
                }
            }
        }
        let m = facts.maxPhysicalAddress
        edit(leaf: m.leaf, subleaf: m.subleaf, register: m.register) {
            ($0 & ~UInt32(truncatingIfNeeded: m.bits.mask))
                | UInt32(truncatingIfNeeded: UInt64(c.maxPhysicalAddressBits) << UInt64(m.bits.low))
        }
        for (field, value) in facts.vendorFields {
            let mask = UInt32(truncatingIfNeeded: field.bits.mask)
            edit(leaf: field.leaf, subleaf: field.subleaf, register: field.register) {
                ($0 & ~mask) | (UInt32(truncatingIfNeeded: UInt64(value) << UInt64(field.bits.low)) & mask)
            }
        }
        var key = "maxphyaddr=\(c.maxPhysicalAddressBits)"
        for f in facts.entryFeatures {
            let on = c.features.contains(f.name) && host.supports(f)
            edit(leaf: f.leaf, subleaf: f.subleaf, register: f.register) {
                on ? $0 | (1 << UInt32(f.bit)) : $0 & ~(1 << UInt32(f.bit))
            }
            key += on ? " +\(f.name)" : " -\(f.name)"
        }
        return (entries, key)
    }

    /// The XSAVE offset of a state component: CPUID leaf 0DH, sub-leaf = component, EBX
    /// (SDM Vol. 1 §13.2).
    func xsaveOffset(component: Int) -> UInt32? {
        host.cpuid(leaf: 0xD, subleaf: UInt32(component), register: "ebx").flatMap { $0 == 0 ? nil : $0 }
    }

    // MARK: - One case on one VM

    func run(
        _ c: WalkCase, on machine: KVMMachine, format: PagingFormatDescriptor, plan: CasePlan, kind: AccessKind,
        userKey: UInt64
    ) throws -> KVMOutcome {
        // Guest memory: the runner's region in slot 0 at arena offset 0, kept mapped while it stays
        // the same; then the case's pages and the pages a fetch could land on, in runs that may
        // span gaps of up to 16 pages (zero-filled: they read as not-present entries).
        let pageBytes = UInt64(RunnerGuest.pageBytes)
        var pages = Set(plan.casePages)
        var fill = Set<UInt64>()
        if kind == .fetch { fill = Set(plan.targetPages).subtracting(pages) }
        pages.formUnion(fill)
        let sorted = pages.sorted()
        let runner = plan.runnerPhysical..<(plan.runnerPhysical + UInt64(RunnerGuest.regionBytes))
        var runs: [(start: UInt64, pages: Int)] = []
        for page in sorted {
            if let last = runs.last {
                let end = last.start + UInt64(last.pages) * pageBytes
                if page - end <= 16 * pageBytes && !(end..<page).overlaps(runner) {
                    runs[runs.count - 1].pages = Int((page - last.start) / pageBytes) + 1
                    continue
                }
            }
            runs.append((page, 1))
        }
        let regionOffset = RunnerGuest.regionBytes
        let needed = regionOffset + runs.reduce(0) { $0 + $1.pages } * RunnerGuest.pageBytes
        guard needed <= machine.arenaBytes else {
            return .skipped(
                "the case needs \(needed / RunnerGuest.pageBytes) guest pages; the runner's arena holds \(machine.arenaBytes / RunnerGuest.pageBytes)"
            )
        }
        guard runs.count + 2 < host.memorySlots else {
            return .skipped("the case needs \(runs.count + 1) memory slots; KVM allows \(host.memorySlots)")
        }
        let identity = "\(plan.runnerPhysical) \(format.name) \(userKey)"
        let keepRunner = machine.runnerIdentity == identity
        try machine.removeSlots(keeping: keepRunner ? 0 : nil)
        let arena = machine.arena
        try RunnerGuest.build(
            into: arena, format: format, physicalBase: plan.runnerPhysical,
            linearBase: plan.runnerLinear, userKey: userKey, linear: c.address, kind: kind)
        if let override = testCodeOverride {
            for page in [RunnerGuest.Page.kernelCode, .userCode] {
                for (j, b) in override.enumerated() {
                    arena.storeBytes(of: b, toByteOffset: RunnerGuest.offset(page) + j, as: UInt8.self)
                }
            }
        }
        var arenaOffset: [UInt64: Int] = [:]  // page -> offset
        var next = regionOffset
        for r in runs {
            (arena + next).initializeMemory(as: UInt8.self, repeating: 0, count: r.pages * RunnerGuest.pageBytes)
            for i in 0..<r.pages { arenaOffset[r.start + UInt64(i) * pageBytes] = next + i * RunnerGuest.pageBytes }
            next += r.pages * RunnerGuest.pageBytes
        }
        for page in fill {
            if let o = arenaOffset[page] {
                (arena + o).initializeMemory(
                    as: UInt8.self, repeating: RunnerGuest.fetchFill, count: RunnerGuest.pageBytes)
            }
        }
        func wordOffset(_ address: UInt64) -> Int? {
            arenaOffset[address & ~(pageBytes - 1)].map { $0 + Int(address & (pageBytes - 1)) }
        }
        for (address, value) in c.memory where pages.contains(address & ~(pageBytes - 1)) {
            if let o = wordOffset(address) {
                arena.storeBytes(of: value.littleEndian, toByteOffset: o, as: UInt64.self)
            }
        }
        guard let rootOffset = wordOffset(plan.rootEntryAddress) else {
            return .skipped("the root table at 0x\(String(plan.rootEntryAddress, radix: 16)) is above MAXPHYADDR")
        }
        let rootEntry = try RunnerGuest.rootEntry(format: format, physicalBase: plan.runnerPhysical)
        arena.storeBytes(of: rootEntry.littleEndian, toByteOffset: rootOffset, as: UInt64.self)
        if !keepRunner {
            try machine.mapSlot(0, guestPhysical: plan.runnerPhysical, arenaOffset: 0, bytes: RunnerGuest.regionBytes)
            machine.runnerIdentity = identity
        }
        for (i, r) in runs.enumerated() {
            try machine.mapSlot(
                UInt32(i + 1), guestPhysical: r.start, arenaOffset: arenaOffset[r.start] ?? 0,
                bytes: r.pages * RunnerGuest.pageBytes)
        }

        // Registers.
        var sregs = try machine.specialRegisters()
        RunnerGuest.setSegments(&sregs, cpl: c.cpl, linearBase: plan.runnerLinear)
        let cr0 = c.registers["CR0"] ?? 0
        var efer = c.registers["EFER"] ?? 0
        if efer & facts.longModeEnable != 0 && cr0 & facts.paging != 0 { efer |= facts.longModeActive }
        sregs.cr0 = cr0
        sregs.cr3 = c.registers["CR3"] ?? 0
        sregs.cr4 = c.registers["CR4"] ?? 0
        sregs.efer = efer
        sregs.cr2 = 0
        let refused = machine.setSpecialRegisters(sregs)
        if refused != 0 { return .skipped(refusal(machine, sregs, errno: refused)) }
        if sregs.cr4 & facts.supervisorKeys != 0 {
            return .skipped("CR4.PKS: the runner does not load IA32_PKRS")
        }
        if let component = facts.pkruComponent, let offset = xsaveOffset(component: component) {
            try machine.setXSave32(
                component: component, offset: offset, value: UInt32(truncatingIfNeeded: c.registers["PKRU"] ?? 0))
        } else if (c.registers["PKRU"] ?? 0) != 0 {
            return .skipped("KVM offers no XSAVE layout for PKRU")
        }
        var regs = kvm_regs()
        regs.rip = RunnerGuest.entry(cpl: c.cpl, linearBase: plan.runnerLinear)
        regs.rsp = RunnerGuest.stackTop(cpl: c.cpl, linearBase: plan.runnerLinear)
        regs.rflags = facts.rflagsFixed | facts.ioPrivilegeLevel | ((c.registers["RFLAGS"] ?? 0) & facts.alignmentCheck)
        try machine.setRegisters(regs)

        // Run.
        let exit = try machine.run(timeoutMilliseconds: options.timeoutMilliseconds)
        var physical: UInt64?
        var fault: (vector: UInt64, error: UInt64, cr2: UInt64, rip: UInt64)?
        var needsTranslation = false
        switch exit {
        case .mmio(let address, _, let isWrite, _):
            guard isWrite == (kind == .write), kind != .fetch else {
                return .failed(
                    "unexpected MMIO \(isWrite ? "write" : "read") at 0x\(String(address, radix: 16)) for a \(c.kind)")
            }
            physical = address
        case .io(let port, _, _) where port == RunnerGuest.accessDonePort && kind != .fetch:
            needsTranslation = true
        case .io(let port, _, _) where port == RunnerGuest.fetchPort && kind == .fetch:
            needsTranslation = true
        case .io(let port, _, let value) where port == RunnerGuest.exceptionPort:
            let r = try machine.registers()
            let s = try machine.specialRegisters()
            fault = (value & 0xFF, r.rsi, s.cr2, r.r8)
        case .timeout:
            return .failed("KVM_RUN did not finish within \(options.timeoutMilliseconds) ms")
        case .shutdown:
            return .failed("triple fault (KVM_EXIT_SHUTDOWN)")
        case .internalError(let sub):
            return .failed("KVM_EXIT_INTERNAL_ERROR, suberror \(sub)")
        default:
            return .failed("unexpected exit \(exit)")
        }
        try machine.completePending()

        // Accessed and dirty flags: every word of a case page that changed, except the runner's
        // root entry and a word that a store to a backed page wrote.
        func changes(excluding excluded: UInt64?) -> [UInt64: UInt64] {
            var writes: [UInt64: UInt64] = [:]
            for page in plan.casePages {
                guard let base = arenaOffset[page] else { continue }
                for i in 0..<(RunnerGuest.pageBytes / 8) {
                    let address = page + UInt64(i * 8)
                    if address == plan.rootEntryAddress || address == excluded { continue }
                    let now = UInt64(littleEndian: arena.load(fromByteOffset: base + i * 8, as: UInt64.self))
                    if now != c.memory[address] ?? 0 { writes[address] = now }
                }
            }
            return writes
        }

        if let f = fault {
            let runnerRange = plan.runnerLinear..<(plan.runnerLinear + UInt64(RunnerGuest.regionBytes))
            switch f.vector {
            case RunnerGuest.pageFaultVector where runnerRange.contains(f.cr2):
                return .failed(
                    "the runner's own page faulted: #PF(0x\(String(f.error, radix: 16))) at 0x\(String(f.cr2, radix: 16))"
                )
            case RunnerGuest.pageFaultVector:
                return .observed(
                    WalkResult(
                        id: c.id, result: "page-fault",
                        fields: [
                            ("error_code", WalkResult.hex(f.error)),
                            ("writes", WalkResult.writes(changes(excluding: nil))),
                            ("cr2", WalkResult.hex(f.cr2)),
                        ]))
            case RunnerGuest.generalProtectionVector where f.error == 0:
                return .observed(WalkResult(id: c.id, result: "general-protection"))
            default:
                return .failed(
                    "exception \(f.vector) (error code 0x\(String(f.error, radix: 16))) at rip 0x\(String(f.rip, radix: 16))"
                )
            }
        }

        let before = changes(excluding: nil)
        if needsTranslation {
            // KVM did the access on backed memory; ask its walker where the address goes.
            var relaxed = try machine.specialRegisters()
            relaxed.cr4 &= ~facts.translateRelaxed
            guard machine.setSpecialRegisters(relaxed) == 0 else {
                return .failed("KVM_SET_SREGS refused the relaxed CR4 for KVM_TRANSLATE")
            }
            guard let gpa = try machine.translate(c.address) else {
                return .failed("the access completed but KVM_TRANSLATE found no translation")
            }
            physical = gpa
        }
        guard let physical else { return .failed("no physical address observed") }
        var writes = before
        if kind == .write && needsTranslation {
            let word = physical & ~7
            if c.memory[word] != nil || word == plan.rootEntryAddress {
                return .skipped(
                    "the store landed on paging-structure word 0x\(String(word, radix: 16)), hiding its accessed/dirty flags"
                )
            }
            writes = changes(excluding: word)
        }
        return .observed(
            WalkResult(
                id: c.id, result: "ok",
                fields: [
                    ("physical", WalkResult.hex(physical)), ("writes", WalkResult.writes(writes)),
                ]))
    }

    /// Names the control bits KVM refuses: each feature-gated bit the case sets is cleared in turn,
    /// and a bit whose clearing makes `KVM_SET_SREGS` succeed is reported.
    func refusal(_ machine: KVMMachine, _ sregs: kvm_sregs, errno: Int32) -> String {
        let key = "\(sregs.cr0) \(sregs.cr4) \(sregs.efer) \(sregs.cr3)"
        if let known = refusals[key] { return known }
        var names: [String] = []
        for gate in facts.gatedBits {
            var s = sregs
            switch gate.register {
            case "CR0": if s.cr0 & gate.mask == 0 { continue } else { s.cr0 &= ~gate.mask }
            case "CR4": if s.cr4 & gate.mask == 0 { continue } else { s.cr4 &= ~gate.mask }
            case "EFER": if s.efer & gate.mask == 0 { continue } else { s.efer &= ~gate.mask }
            default: continue
            }
            if machine.setSpecialRegisters(s) == 0 { names.append(gate.name) }
        }
        let error = KVMError("", errno: errno).errnoName
        let text =
            names.isEmpty
            ? "KVM_SET_SREGS refused cr0=0x\(String(sregs.cr0, radix: 16)) cr3=0x\(String(sregs.cr3, radix: 16)) cr4=0x\(String(sregs.cr4, radix: 16)) efer=0x\(String(sregs.efer, radix: 16)): \(error)"
            : "KVM_SET_SREGS refused \(names.joined(separator: ", ")) on this host: \(error)"
        refusals[key] = text
        return text
    }
}
