import SpecParser

/// The processor state and CPU a reference walk runs against, by register and feature name.
public struct ReferenceMachine: Sendable {
    /// Register values by spec name (`CR0`, `EPTP`, …); absent registers read as 0.
    public var registers: [String: UInt64]
    /// CPUID features present, by `/proc/cpuinfo` name.
    public var features: Set<String>
    /// MAXPHYADDR.
    public var maxPhysicalAddressBits: Int

    /// Creates a machine.
    public init(registers: [String: UInt64], features: Set<String>, maxPhysicalAddressBits: Int) {
        self.registers = registers
        self.features = features
        self.maxPhysicalAddressBits = maxPhysicalAddressBits
    }
}

/// An access for the reference walker: address, the access attributes that hold, CPL-derived mode.
public struct ReferenceAccess: Sendable {
    /// Linear or guest-physical address.
    public var address: UInt64
    /// The attributes that hold, as bits.
    package var mask: AccessMask
    /// The attributes that hold (`write`, `data`, `user`, …).
    public var attributes: Set<AccessAttribute> {
        get { mask.attributes }
        set { mask = AccessMask(newValue) }
    }

    /// Creates an access from its kind, CPL and implicit flag (and extra EPT attributes).
    public init(address: UInt64, kind: String, cpl: Int, implicit: Bool, extra: Set<AccessAttribute> = []) {
        self.address = address
        var a = AccessMask(extra)
        switch kind {
        case "write": a.formUnion([.write, .data])
        case "fetch": a.insert(.fetch)
        default: a.formUnion([.read, .data])
        }
        if cpl == 3 && !implicit { a.insert(.user) } else { a.insert(.supervisor) }
        if implicit { a.insert(.implicit) }
        mask = a
    }
}

/// Memory for the reference walker: 8-byte words at 8-aligned addresses, zero elsewhere.
public final class ReferenceMemory {
    /// The words.
    public private(set) var words: [UInt64: UInt64]
    /// Words the walker changed, with their new values.
    public private(set) var writes: [UInt64: UInt64] = [:]

    /// Creates memory holding `words`.
    public init(_ words: [UInt64: UInt64]) { self.words = words }

    /// Reads `bytes` (4 or 8) at `address`.
    public func read(_ address: UInt64, bytes: Int) -> UInt64 {
        let word = words[address & ~7] ?? 0
        return bytes == 8 ? word : (word >> ((address & 4) * 8)) & 0xFFFF_FFFF
    }

    /// Writes `bytes` (4 or 8) at `address`, recording the changed word.
    public func write(_ address: UInt64, bytes: Int, value: UInt64) {
        let a = address & ~7
        var word = words[a] ?? 0
        if bytes == 8 {
            word = value
        } else {
            let shift = (address & 4) * 8
            word = (word & ~(0xFFFF_FFFF << shift)) | ((value & 0xFFFF_FFFF) << shift)
        }
        words[a] = word
        writes[a] = word
    }
}

/// The result of a reference walk.
public enum ReferenceOutcome: Sendable, Equatable {
    /// Translated: physical address, page size, level that mapped it.
    case translation(physical: UInt64, pageSize: UInt64, level: Int)
    /// Faulted: why, the report (error code / exit qualification), and the level.
    case fault(kind: String, report: UInt64, level: Int)
    /// Non-canonical address.
    case generalProtection
    /// A state the CPU cannot hold.
    case invalidState(String)
    /// The EPT translation of a guest-physical address faulted (violation or misconfiguration).
    case nestedFault(kind: String, report: UInt64, guestPhysical: UInt64)
}

/// The second translation stage of nested paging: guest-physical addresses through an EPT format.
public struct ReferenceStage2 {
    /// The EPT format.
    public var ept: PagingFormat { didSet { resolve() } }
    /// The walker (for the EPT walks).
    public var walker: ReferenceWalker { didSet { resolve() } }
    /// The machine (EPTP and VMX controls).
    public var machine: ReferenceMachine { didSet { resolve() } }
    /// The walker that resolved `ept` (`walker`, unless `ept` is not a format of its specs), the
    /// resolved format, and `machine`'s controls as that walker indexes them.
    var resolvedWalker: ReferenceWalker
    package private(set) var plan: FormatPlan
    var controls: ReferenceControls

    /// Creates the stage.
    public init(ept: PagingFormat, walker: ReferenceWalker, machine: ReferenceMachine) {
        self.ept = ept
        self.walker = walker
        self.machine = machine
        (resolvedWalker, plan) = walker.resolved(ept)
        controls = resolvedWalker.controls(machine)
    }

    /// Creates the stage from a format `walker` resolved and `machine`'s controls from `walker`.
    package init(plan: FormatPlan, walker: ReferenceWalker, machine: ReferenceMachine, controls: ReferenceControls) {
        self.ept = plan.format
        self.walker = walker
        self.machine = machine
        resolvedWalker = walker
        self.plan = plan
        self.controls = controls
    }

    private mutating func resolve() {
        (resolvedWalker, plan) = walker.resolved(ept)
        controls = resolvedWalker.controls(machine)
    }

    /// Whether guest paging-structure accesses count as EPT writes (EPT A/D enabled).
    var structureAccessesAreWrites: Bool {
        plan.accessedDirtyWhen?.holds(RuleInputs(controls: controls)) ?? true
    }

    /// Translates `address` with `attributes`; returns the host-physical address and EPT page size,
    /// or the outcome that ends the walk.
    public mutating func translate(_ address: UInt64, _ attributes: Set<AccessAttribute>, memory: ReferenceMemory)
        -> (physical: UInt64, pageSize: UInt64)?
    {
        translate(address, AccessMask(attributes), memory: memory)
    }

    /// Translates `address` with `attributes` (as bits); see ``translate(_:_:memory:)``.
    package mutating func translate(_ address: UInt64, _ attributes: AccessMask, memory: ReferenceMemory)
        -> (physical: UInt64, pageSize: UInt64)?
    {
        var trace: [ReferenceStep] = []
        var reason = ""
        lastOutcome = resolvedWalker.walk(
            plan, controls, accessAddress: address, attributes: attributes.union(.supervisor),
            memory: memory, trace: &trace, reason: &reason, explaining: false)
        if case .translation(let p, let size, _) = lastOutcome { return (p, size) }
        return nil
    }

    /// The outcome of the last translation.
    public internal(set) var lastOutcome: ReferenceOutcome = .generalProtection
}

/// One step of a reference walk, for `--explain`.
public struct ReferenceStep: Sendable {
    /// Level name.
    public var level: String
    /// Table base.
    public var tableAddress: UInt64
    /// Index into the table.
    public var index: UInt64
    /// Entry address.
    public var entryAddress: UInt64
    /// Entry value.
    public var entry: UInt64
    /// Entry fields decoded: (name, value).
    public var fields: [(String, UInt64)]
}

/// The executable meaning of the specs: walks evaluated directly from the model, rule by rule,
/// with no generated tables. Slow and obvious; the reference the generated walker is tested against.
///
/// The names the specs' rules use are resolved once, when the walker is created (register fields
/// to register indexes and masks, entry fields to masks, rights and fault facts to indexes); every
/// walk then evaluates each rule it meets over the machine's values.
public final class ReferenceWalker: @unchecked Sendable {
    /// The specs.
    public let specs: SpecSet
    /// Name resolution: register and feature indexes.
    let resolver: SpecResolver
    /// The formats, resolved, in the order given (the specs' order for ``init(specs:)``).
    let plans: [FormatPlan]
    /// Plan index by format name (the first format of each name).
    let planIndex: [String: Int]
    /// Register fields that need a CPUID feature, in spec order: register index, field bits,
    /// feature index, `REGISTER.FIELD`, feature name.
    let featureGates: [(register: Int, mask: UInt64, feature: Int, bit: String, featureName: String)]

    /// Creates a walker over `specs`.
    public convenience init(specs: SpecSet) { self.init(specs: specs, formats: specs.formats) }

    /// Creates a walker over `specs` that resolves `formats`.
    init(specs: SpecSet, formats: [PagingFormat]) {
        self.specs = specs
        let resolver = SpecResolver(specs)
        var gates: [(Int, UInt64, Int, String, String)] = []
        for r in specs.registers {
            let register = resolver.register(r.name)
            for f in r.fields {
                if let req = f.requires {
                    gates.append((register, f.bits.mask, resolver.feature(req.value), "\(r.name).\(f.name)", req.value))
                }
            }
        }
        featureGates = gates
        plans = formats.map { FormatPlan($0, resolver) }
        var index: [String: Int] = [:]
        for (i, p) in plans.enumerated() where index[p.name] == nil { index[p.name] = i }
        planIndex = index
        self.resolver = resolver
    }

    /// The walker and plan for `format`: this walker's, when `format` is the specs' format of that
    /// name; else one resolved for it alone.
    func resolved(_ format: PagingFormat) -> (ReferenceWalker, FormatPlan) {
        if let i = planIndex[format.name], plans[i].format.location == format.location { return (self, plans[i]) }
        let own = ReferenceWalker(specs: specs, formats: [format])
        return (own, own.plans[0])
    }

    /// `machine`'s registers and features, indexed as this walker resolved the specs' names.
    package func controls(_ machine: ReferenceMachine) -> ReferenceControls {
        var registers = [UInt64](repeating: 0, count: resolver.registerNames.count)
        for (name, value) in machine.registers {
            if let i = resolver.registerIndex[name] { registers[i] = value }
        }
        var features = [Bool](repeating: false, count: resolver.featureNames.count)
        if machine.features.count <= features.count {
            for name in machine.features {
                if let i = resolver.featureIndex[name] { features[i] = true }
            }
        } else {
            for (i, name) in resolver.featureNames.enumerated() { features[i] = machine.features.contains(name) }
        }
        return ReferenceControls(
            registers: registers, features: features, maxPhysicalAddressBits: machine.maxPhysicalAddressBits)
    }

    /// The guest-paging format enabled by the machine's control registers, if paging is on.
    public func activeFormat(_ machine: ReferenceMachine, family: PagingFormat.Family = .guest) -> PagingFormat? {
        activePlan(controls(machine), family: family)?.format
    }

    /// The resolved format of `family` enabled by `controls`, if any.
    package func activePlan(_ controls: ReferenceControls, family: PagingFormat.Family = .guest) -> FormatPlan? {
        let inputs = RuleInputs(controls: controls)
        for p in plans where p.family == family {
            guard let e = p.enabledWhen else { continue }
            if e.holds(inputs) { return p }
        }
        return nil
    }

    /// Control bits set although the CPU lacks their feature, as (`CR4.LA57`, `la57`).
    public func unsupportedControlBits(_ machine: ReferenceMachine) -> [(String, String)] {
        let c = controls(machine)
        return featureGates.filter { c.registers[$0.register] & $0.mask != 0 && !c.features[$0.feature] }
            .map { ($0.bit, $0.featureName) }
    }

    /// The first of ``unsupportedControlBits(_:)``, for `controls`.
    package func firstUnsupportedControlBit(_ controls: ReferenceControls) -> (String, String)? {
        for g in featureGates where controls.registers[g.register] & g.mask != 0 && !controls.features[g.feature] {
            return (g.bit, g.featureName)
        }
        return nil
    }

    /// Why the root register holds a value the processor refuses (an EPTP VM entry rejects), if it does.
    public func rootInvalid(_ format: PagingFormat, machine: ReferenceMachine) -> String? {
        let (walker, plan) = resolved(format)
        return walker.rootInvalid(plan, walker.controls(machine))
    }

    /// ``rootInvalid(_:machine:)`` for a format this walker resolved.
    package func rootInvalid(_ plan: FormatPlan, _ controls: ReferenceControls) -> String? {
        let inputs = RuleInputs(controls: controls)
        let value = controls.registers[plan.rootRegister]
        let reserved = ResolvedReserved.mask(plan.rootReserved, inputs, physicalBits: controls.maxPhysicalAddressBits)
        if value & reserved != 0 {
            return "reserved bits 0x\(String(value & reserved, radix: 16)) of \(plan.rootRegisterName) are set"
        }
        for check in plan.rootChecks where check.rule.holds(inputs) {
            return check.why
        }
        return nil
    }

    /// Builds the fault report (error code or exit qualification) from the format's report rules.
    func faultReport(_ plan: FormatPlan, _ inputs: RuleInputs, facts: [Int], level: Int, kind: String)
        -> ReferenceOutcome
    {
        var inputs = inputs
        inputs.facts = facts
        var value: UInt64 = 0
        for flag in plan.reportFlags where flag.rule.holds(inputs) { value |= flag.mask }
        return .fault(kind: kind, report: value, level: level)
    }

    /// Walks `access` through `format`.
    public func walk(
        _ format: PagingFormat, machine: ReferenceMachine, access: ReferenceAccess,
        memory: ReferenceMemory, trace: inout [ReferenceStep], reason: inout String,
        stage2: ReferenceStage2? = nil
    ) -> ReferenceOutcome {
        let (walker, plan) = resolved(format)
        return walker.walk(
            plan, walker.controls(machine), accessAddress: access.address, attributes: access.mask,
            memory: memory, trace: &trace, reason: &reason, explaining: true, stage2: stage2)
    }

    /// Walks an access to `accessAddress` with `attributes` through a format this walker resolved,
    /// with `controls` from ``controls(_:)``. The trace and the reason are recorded only when `explaining`.
    package func walk(
        _ plan: FormatPlan, _ controls: ReferenceControls, accessAddress: UInt64, attributes: AccessMask,
        memory: ReferenceMemory, trace: inout [ReferenceStep], reason: inout String, explaining: Bool,
        stage2: ReferenceStage2? = nil
    ) -> ReferenceOutcome {
        var stage2 = stage2
        /// Records why the walk ended, for `--explain`.
        func because(_ text: @autoclosure () -> String) {
            if explaining { reason = text() }
        }
        /// The EPT outcome for a guest-physical address whose translation failed.
        func nested(_ address: UInt64) -> ReferenceOutcome {
            switch stage2?.lastOutcome {
            case .fault(let kind, let report, _)?:
                return .nestedFault(
                    kind: kind == "reserved" ? "misconfiguration" : kind, report: report, guestPhysical: address)
            case .some(let other): return other
            case nil: return .invalidState("no second stage")
            }
        }
        /// Reads a paging-structure entry at guest-physical `address` (through EPT when nested).
        struct Stop: Error { var outcome: ReferenceOutcome }
        func readEntry(_ address: UInt64, bytes: Int) -> Result<UInt64, Stop> {
            guard var s2 = stage2 else { return .success(memory.read(address, bytes: bytes)) }
            var attributes: AccessMask = [.read, .data, .linearValid]
            if s2.structureAccessesAreWrites { attributes.insert(.write) }
            guard let t = s2.translate(address, attributes, memory: memory) else {
                stage2 = s2
                return .failure(Stop(outcome: nested(address)))
            }
            stage2 = s2
            return .success(memory.read(t.physical, bytes: bytes))
        }
        // What the rules read: the control state, the access, and (below) the entry, rights and key.
        var inputs = RuleInputs(
            controls: controls, access: attributes,
            rights: [Bool](repeating: true, count: plan.rightCount))
        // Step 1: the address width.
        let bits = plan.addressBits
        if bits < 64 {
            let upper = accessAddress >> UInt64(bits - 1)
            if plan.canonical {
                if upper != 0 && upper != (~UInt64(0) >> UInt64(bits - 1)) {
                    because("the address is not canonical: bits 63:\(bits - 1) are not all equal")
                    return .generalProtection
                }
            } else if accessAddress >> UInt64(bits) != 0 {
                because("the address is wider than \(bits) bits")
                if plan.family == .ept {
                    // Guest-physical bits above the walk's width must be zero: a violation with no rights.
                    inputs.rights = [Bool](repeating: false, count: plan.rightCount)
                    return faultReport(plan, inputs, facts: plan.notPresentFacts, level: 0, kind: "not-present")
                }
                return .invalidState(
                    "address 0x\(String(accessAddress, radix: 16)) is wider than the format's \(bits) bits")
            }
        }
        guard plan.hasLayout else { return .invalidState("no layout") }
        let physicalBits = min(controls.maxPhysicalAddressBits, plan.physicalAddressLimit ?? 64)
        let root = controls.registers[plan.rootRegister] & plan.rootMask

        // PAE: the PDPTEs are loaded with the root; a present one with a reserved bit cannot be loaded.
        // Entries loaded with the root (PAE PDPTEs at MOV CR3). Through EPT the table is translated
        // as a plain read with no guest linear address; a fault reports the table's base.
        var rootEntries: [UInt64] = []
        if let first = plan.levels.first, first.level.loadedWithRoot {
            let size = UInt64(first.layout.size)
            let mask = ResolvedReserved.mask(first.tableReserved, inputs, physicalBits: physicalBits)
            var tableHost = root
            if var s2 = stage2 {
                guard let t = s2.translate(root, [.read, .data] as AccessMask, memory: memory) else {
                    stage2 = s2
                    because(
                        "the EPT translation of the \(first.level.name) table at 0x\(String(root, radix: 16)) failed")
                    return nested(root)
                }
                stage2 = s2
                tableHost = t.physical
            }
            for i in 0..<(UInt64(1) << first.indexWidth) {
                let address = root + i * size
                let entry = memory.read(tableHost + i * size, bytes: first.layout.size)
                rootEntries.append(entry)
                inputs.entry = entry
                if first.present.holds(inputs) && entry & mask != 0 {
                    because(
                        "\(first.level.name) \(i) has reserved bits set: loading \(plan.rootRegisterName) would raise #GP"
                    )
                    return .invalidState(
                        "\(first.level.name) \(i) at 0x\(String(address, radix: 16)) has reserved bits 0x\(String(entry & mask, radix: 16)) set; loading \(plan.rootRegisterName) would raise #GP"
                    )
                }
            }
        }

        var table = root
        var used: [(address: UInt64, entry: UInt64, level: LevelPlan)] = []
        for (depth, level) in plan.levels.enumerated() {
            let layout = level.layout
            let index = (accessAddress >> level.indexLow) & ((UInt64(1) << level.indexWidth) - 1)
            let address = table + index * UInt64(layout.size)
            let entry: UInt64
            switch level.level.loadedWithRoot && Int(index) < rootEntries.count
                ? .success(rootEntries[Int(index)]) : readEntry(address, bytes: layout.size)
            {
            case .success(let v): entry = v
            case .failure(let stop):
                because(
                    "the EPT translation of \(level.level.name)'s guest-physical address 0x\(String(address, radix: 16)) failed"
                )
                return stop.outcome
            }
            if explaining {
                trace.append(
                    ReferenceStep(
                        level: level.level.name, tableAddress: table, index: index, entryAddress: address, entry: entry,
                        fields: layout.layout.fields.map { ($0.name, (entry & $0.bits.mask) >> UInt64($0.bits.low)) }))
            }
            inputs.entry = entry
            // Rights fold over every entry read, the one that ends the walk included.
            for f in level.folds {
                let set = entry & f.mask != 0
                if (f.fold == .all && !set) || (f.fold == .none && set) { inputs.rights[f.right] = false }
            }
            if !level.present.holds(inputs) {
                because("\(level.level.name) is not present (\(level.present.text) is false)")
                return faultReport(plan, inputs, facts: plan.notPresentFacts, level: depth, kind: "not-present")
            }
            for rule in level.misconfigured where rule.holds(inputs) {
                because("\(level.level.name) is misconfigured: \(rule.text)")
                return .fault(kind: "misconfiguration", report: 0, level: depth)
            }
            let isLeaf = depth == plan.levels.count - 1 || (level.leafWhen?.holds(inputs) ?? false)
            var reserved = ResolvedReserved.mask(
                isLeaf ? level.leafReserved : level.tableReserved, inputs, physicalBits: physicalBits)
            if isLeaf {
                for p in level.leafAddress {
                    if let req = p.requires, !controls.features[req] {
                        reserved |= p.from.mask
                        continue
                    }
                    for bit in 0..<p.to.width where p.to.low + bit >= physicalBits {
                        reserved |= UInt64(1) << UInt64(p.from.low + bit)
                    }
                }
            }
            if entry & reserved != 0 {
                because("\(level.level.name) has reserved bits 0x\(String(entry & reserved, radix: 16)) set")
                return faultReport(plan, inputs, facts: plan.reservedFacts, level: depth, kind: "reserved")
            }
            used.append((address, entry, level))
            if !isLeaf {
                table = entry & layout.addressMask
                continue
            }
            for rule in level.leafMisconfigured where rule.holds(inputs) {
                because("\(level.level.name) is misconfigured: \(rule.text)")
                return .fault(kind: "misconfiguration", report: 0, level: depth)
            }
            // The access-rights check over the folded rights and the leaf's protection key.
            if let keyField = level.keyField {
                let key = (entry & keyField.mask) >> keyField.shift
                let pageIsUser = plan.pageIsUserRight.map { inputs.rights[$0] } ?? false
                if let keys = pageIsUser ? plan.userKeys : plan.supervisorKeys,
                    key < UInt64(keys.keys.count), let k = keys.keys[Int(key)]
                {
                    let registerValue = controls.registers[keys.register]
                    inputs.keyAccessDisable = registerValue & k.accessDisable != 0
                    inputs.keyWriteDisable = registerValue & k.writeDisable != 0
                }
            }
            var facts: [Int] = []
            var denied: [String] = []
            var anyDenied = false
            for fault in plan.faults where fault.rule.holds(inputs) {
                anyDenied = true
                if explaining { denied.append(fault.why) }
                facts += fault.sets
            }
            if anyDenied {
                because("access denied: " + denied.joined(separator: "; "))
                return faultReport(plan, inputs, facts: facts, level: depth, kind: "protection")
            }
            // The physical address.
            let pageSize = UInt64(1) << level.indexLow
            var physical: UInt64 = 0
            if level.leafAddress.isEmpty {
                physical = entry & layout.addressMask & ~(pageSize - 1)
            } else {
                for p in level.leafAddress where p.requires.map({ controls.features[$0] }) ?? true {
                    physical |= ((entry & p.from.mask) >> UInt64(p.from.low)) << UInt64(p.to.low)
                }
            }
            physical |= accessAddress & (pageSize - 1)
            var finalPageSize = pageSize
            // Nested paging: the output guest-physical address goes through EPT before any A/D update.
            if var s2 = stage2 {
                var finalAccess: AccessMask = [.linearValid, .final]
                finalAccess.formUnion(attributes.intersection([.read, .write, .fetch, .data]))
                if plan.userRight.map({ inputs.rights[$0] }) ?? true { finalAccess.insert(.guestUser) }
                if plan.writableRight.map({ inputs.rights[$0] }) ?? true { finalAccess.insert(.guestWritable) }
                if !(plan.executableRight.map({ inputs.rights[$0] }) ?? true) {
                    finalAccess.insert(.guestExecuteDisabled)
                }
                guard let t = s2.translate(physical, finalAccess, memory: memory) else {
                    stage2 = s2
                    because("the EPT translation of the guest-physical address 0x\(String(physical, radix: 16)) failed")
                    return nested(physical)
                }
                stage2 = s2
                physical = t.physical
                finalPageSize = min(pageSize, t.pageSize)
            }
            // Accessed and dirty flags, on success only.
            if plan.accessedDirtyWhen?.holds(inputs) ?? true {
                for (i, u) in used.enumerated() where !u.level.level.loadedWithRoot {
                    var updated = u.entry | u.level.layout.accessedMask
                    if i == used.count - 1, attributes.contains(.write) { updated |= u.level.layout.dirtyMask }
                    if updated == u.entry { continue }
                    var target = u.address
                    if var s2 = stage2 {
                        // Setting a guest A/D flag is a read-modify-write of the guest paging structure.
                        guard
                            let t = s2.translate(
                                u.address, [.read, .write, .data, .linearValid] as AccessMask, memory: memory)
                        else {
                            stage2 = s2
                            because(
                                "setting the accessed/dirty flags of \(u.level.level.name) needs EPT write access, which faulted"
                            )
                            return nested(u.address)
                        }
                        stage2 = s2
                        target = t.physical
                    }
                    memory.write(target, bytes: u.level.layout.size, value: updated)
                }
            }
            because("\(level.level.name) maps a \(pageSize)-byte page")
            return .translation(physical: physical, pageSize: finalPageSize, level: depth)
        }
        return .invalidState("format \(plan.name) has no leaf")
    }
}
