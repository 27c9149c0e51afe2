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
    /// The attributes that hold (`write`, `data`, `user`, …).
    public var attributes: Set<AccessAttribute>

    /// Creates an access from its kind, CPL and implicit flag (and extra EPT attributes).
    public init(address: UInt64, kind: String, cpl: Int, implicit: Bool, extra: Set<AccessAttribute> = []) {
        self.address = address
        var a = extra
        switch kind {
        case "write": a.formUnion([.write, .data])
        case "fetch": a.insert(.fetch)
        default: a.formUnion([.read, .data])
        }
        if cpl == 3 && !implicit { a.insert(.user) } else { a.insert(.supervisor) }
        if implicit { a.insert(.implicit) }
        attributes = a
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
    public var ept: PagingFormat
    /// The walker (for the EPT walks).
    public var walker: ReferenceWalker
    /// The machine (EPTP and VMX controls).
    public var machine: ReferenceMachine

    /// Creates the stage.
    public init(ept: PagingFormat, walker: ReferenceWalker, machine: ReferenceMachine) {
        self.ept = ept
        self.walker = walker
        self.machine = machine
    }

    /// Whether guest paging-structure accesses count as EPT writes (EPT A/D enabled).
    var structureAccessesAreWrites: Bool {
        ept.accessedDirtyWhen?.expression.holds { walker.value(of: $0, machine: machine) ?? 0 } ?? true
    }

    /// Translates `address` with `attributes`; returns the host-physical address and EPT page size,
    /// or the outcome that ends the walk.
    public mutating func translate(_ address: UInt64, _ attributes: Set<AccessAttribute>, memory: ReferenceMemory)
        -> (physical: UInt64, pageSize: UInt64)?
    {
        var trace: [ReferenceStep] = []
        var reason = ""
        var access = ReferenceAccess(address: address, kind: "read", cpl: 0, implicit: false)
        access.attributes = attributes.union([.supervisor])
        lastOutcome = walker.walk(ept, machine: machine, access: access, memory: memory, trace: &trace, reason: &reason)
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
public final class ReferenceWalker: @unchecked Sendable {
    /// The specs.
    public let specs: SpecSet

    /// Creates a walker over `specs`.
    /// `REGISTER.FIELD` names resolved once: the register, the field's mask and low bit.
    let controlFields: [String: (register: String, mask: UInt64, shift: UInt64)]
    let registersByName: [String: RegisterSpec]
    let layoutsByName: [String: EntryLayout]

    /// Creates a walker over `specs`.
    public init(specs: SpecSet) {
        self.specs = specs
        var fields: [String: (String, UInt64, UInt64)] = [:]
        for r in specs.registers {
            for f in r.fields { fields["\(r.name).\(f.name)"] = (r.name, f.bits.mask, UInt64(f.bits.low)) }
        }
        controlFields = fields
        registersByName = Dictionary(specs.registers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        layoutsByName = Dictionary(specs.layouts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The guest-paging format enabled by the machine's control registers, if paging is on.
    public func activeFormat(_ machine: ReferenceMachine, family: PagingFormat.Family = .guest) -> PagingFormat? {
        for f in specs.formats where f.family == family {
            guard let e = f.enabledWhen else { continue }
            if e.expression.holds({ name in self.value(of: name, machine: machine) ?? 0 }) { return f }
        }
        return nil
    }

    /// Control bits set although the CPU lacks their feature, as (`CR4.LA57`, `la57`).
    public func unsupportedControlBits(_ machine: ReferenceMachine) -> [(String, String)] {
        var out: [(String, String)] = []
        for r in specs.registers {
            let v = machine.registers[r.name] ?? 0
            for f in r.fields {
                if let req = f.requires, v & f.bits.mask != 0, !machine.features.contains(req.value) {
                    out.append(("\(r.name).\(f.name)", req.value))
                }
            }
        }
        return out
    }

    /// Why the root register holds a value the processor refuses (an EPTP VM entry rejects), if it does.
    public func rootInvalid(_ format: PagingFormat, machine: ReferenceMachine) -> String? {
        let parts = format.root.value.split(separator: ".").map(String.init)
        let registerName = parts.first ?? ""
        let value = machine.registers[registerName] ?? 0
        let rootField = registersByName[registerName]?.field(parts.count > 1 ? parts[1] : "")
        var reserved: UInt64 = 0
        for item in format.rootReserved {
            if let w = item.when, !w.expression.holds({ self.value(of: $0, machine: machine) ?? 0 }) { continue }
            switch item.bits {
            case .range(let r): reserved |= r.mask
            case .aboveMaxPhysicalAddress:
                let field = rootField?.bits.mask ?? 0
                reserved |= machine.maxPhysicalAddressBits >= 64 ? 0 : field & ~((UInt64(1) << UInt64(machine.maxPhysicalAddressBits)) - 1)
            case .field: break
            }
        }
        if value & reserved != 0 {
            return "reserved bits 0x\(String(value & reserved, radix: 16)) of \(registerName) are set"
        }
        for check in format.rootChecks where check.invalidWhen.expression.holds({ self.value(of: $0, machine: machine) ?? 0 }) {
            return check.why
        }
        return nil
    }

    /// Builds the fault report (error code or exit qualification) from the format's report rules.
    func faultReport(_ format: PagingFormat, access: ReferenceAccess, rights: [String: Bool], machine: ReferenceMachine,
                     facts: Set<String>, level: Int, kind: String = "not-present") -> ReferenceOutcome {
        var value: UInt64 = 0
        let register = registersByName[format.report.register.value]
        for (field, rule) in format.report.flags {
            let hit = rule.expression.holds { name in
                if name.hasPrefix("access."), let a = AccessAttribute(rawValue: String(name.dropFirst(7))) {
                    return access.attributes.contains(a) ? 1 : 0
                }
                if name.hasPrefix("fault.") { return facts.contains(String(name.dropFirst(6))) ? 1 : 0 }
                if let r = rights[name] { return r ? 1 : 0 }
                return self.value(of: name, machine: machine) ?? 0
            }
            if hit { value |= register?.field(field)?.bits.mask ?? 0 }
        }
        return .fault(kind: kind, report: value, level: level)
    }

    func value(of name: String, machine: ReferenceMachine) -> UInt64? {
        if let f = controlFields[name] { return ((machine.registers[f.register] ?? 0) & f.mask) >> f.shift }
        if name.hasPrefix("cpuid.") { return machine.features.contains(String(name.dropFirst(6))) ? 1 : 0 }
        return nil
    }

    /// Walks `access` through `format`.
    public func walk(_ format: PagingFormat, machine: ReferenceMachine, access: ReferenceAccess,
                     memory: ReferenceMemory, trace: inout [ReferenceStep], reason: inout String,
                     stage2: ReferenceStage2? = nil) -> ReferenceOutcome {
        var stage2 = stage2
        /// The EPT outcome for a guest-physical address whose translation failed.
        func nested(_ address: UInt64) -> ReferenceOutcome {
            switch stage2?.lastOutcome {
            case .fault(let kind, let report, _)?:
                return .nestedFault(kind: kind == "reserved" ? "misconfiguration" : kind, report: report, guestPhysical: address)
            case .some(let other): return other
            case nil: return .invalidState("no second stage")
            }
        }
        /// Reads a paging-structure entry at guest-physical `address` (through EPT when nested).
        struct Stop: Error { var outcome: ReferenceOutcome }
        func readEntry(_ address: UInt64, bytes: Int) -> Result<UInt64, Stop> {
            guard var s2 = stage2 else { return .success(memory.read(address, bytes: bytes)) }
            var attributes: Set<AccessAttribute> = [.read, .data, .linearValid]
            if s2.structureAccessesAreWrites { attributes.insert(.write) }
            guard let t = s2.translate(address, attributes, memory: memory) else {
                stage2 = s2
                return .failure(Stop(outcome: nested(address)))
            }
            stage2 = s2
            return .success(memory.read(t.physical, bytes: bytes))
        }
        // Step 1: the address width.
        let bits = format.addressBits
        if bits < 64 {
            let upper = access.address >> UInt64(bits - 1)
            if format.canonical {
                if upper != 0 && upper != (~UInt64(0) >> UInt64(bits - 1)) {
                    reason = "the address is not canonical: bits 63:\(bits - 1) are not all equal"
                    return .generalProtection
                }
            } else if access.address >> UInt64(bits) != 0 {
                reason = "the address is wider than \(bits) bits"
                if format.family == .ept {
                    // Guest-physical bits above the walk's width must be zero: a violation with no rights.
                    var none: [String: Bool] = [:]
                    for r in format.rights { none[r.name] = false }
                    return faultReport(format, access: access, rights: none, machine: machine, facts: ["not-present"], level: 0)
                }
                return .invalidState("address 0x\(String(access.address, radix: 16)) is wider than the format's \(bits) bits")
            }
        }
        guard let defaultLayout = layoutsByName[format.entryLayout] else { return .invalidState("no layout") }
        let physicalBits = min(machine.maxPhysicalAddressBits, format.physicalAddressLimit ?? 64)
        func control(_ name: String) -> UInt64 { value(of: name, machine: machine) ?? 0 }
        func holds(_ rule: Rule?, entry: UInt64 = 0, layout: EntryLayout? = nil) -> Bool {
            guard let rule else { return true }
            return rule.expression.holds { name in
                if let l = layout, let f = l.field(name) { return (entry & f.bits.mask) >> UInt64(f.bits.low) }
                return control(name)
            }
        }
        func reservedMask(_ items: [ReservedBits], layout: EntryLayout) -> UInt64 {
            var mask: UInt64 = 0
            for item in items where holds(item.when) {
                switch item.bits {
                case .range(let r): mask |= r.mask
                case .field(let n): mask |= layout.field(n)?.bits.mask ?? 0
                case .aboveMaxPhysicalAddress:
                    let address = layout.field(role: .address)?.bits.mask ?? 0
                    mask |= physicalBits >= 64 ? 0 : address & ~((UInt64(1) << UInt64(physicalBits)) - 1)
                }
            }
            return mask
        }
        let rootParts = format.root.value.split(separator: ".").map(String.init)
        let rootField = registersByName[rootParts[0]]?.field(rootParts.count > 1 ? rootParts[1] : "")
        let root = (machine.registers[rootParts[0]] ?? 0) & (rootField?.bits.mask ?? 0)

        // PAE: the PDPTEs are loaded with the root; a present one with a reserved bit cannot be loaded.
        // Entries loaded with the root (PAE PDPTEs at MOV CR3). Through EPT the table is translated
        // as a plain read with no guest linear address; a fault reports the table's base.
        var rootEntries: [UInt64] = []
        if let first = format.levels.first, first.loadedWithRoot {
            let layout = first.entryLayout.flatMap { layoutsByName[$0] } ?? defaultLayout
            let mask = reservedMask(format.reserved + first.reserved + first.tableReserved, layout: layout)
            var tableHost = root
            if var s2 = stage2 {
                guard let t = s2.translate(root, [.read, .data], memory: memory) else {
                    stage2 = s2
                    reason = "the EPT translation of the \(first.name) table at 0x\(String(root, radix: 16)) failed"
                    return nested(root)
                }
                stage2 = s2
                tableHost = t.physical
            }
            for i in 0..<(UInt64(1) << UInt64(first.index.width)) {
                let address = root + i * UInt64(layout.size)
                let entry = memory.read(tableHost + i * UInt64(layout.size), bytes: layout.size)
                rootEntries.append(entry)
                if holds(format.present, entry: entry, layout: layout) && entry & mask != 0 {
                    reason = "\(first.name) \(i) has reserved bits set: loading \(rootParts[0]) would raise #GP"
                    return .invalidState("\(first.name) \(i) at 0x\(String(address, radix: 16)) has reserved bits 0x\(String(entry & mask, radix: 16)) set; loading \(rootParts[0]) would raise #GP")
                }
            }
        }

        var table = root
        var rights: [String: Bool] = Dictionary(uniqueKeysWithValues: format.rights.map { ($0.name, true) })
        var used: [(address: UInt64, entry: UInt64, layout: EntryLayout, level: PagingLevel)] = []
        func report(_ kind: String, facts: Set<String>, level: Int) -> ReferenceOutcome {
            faultReport(format, access: access, rights: rights, machine: machine, facts: facts, level: level, kind: kind)
        }
        for (depth, level) in format.levels.enumerated() {
            let layout = level.entryLayout.flatMap { layoutsByName[$0] } ?? defaultLayout
            let index = (access.address >> UInt64(level.index.low)) & ((UInt64(1) << UInt64(level.index.width)) - 1)
            let address = table + index * UInt64(layout.size)
            let entry: UInt64
            switch level.loadedWithRoot && Int(index) < rootEntries.count ? .success(rootEntries[Int(index)]) : readEntry(address, bytes: layout.size) {
            case .success(let v): entry = v
            case .failure(let stop):
                let outcome = stop.outcome
                reason = "the EPT translation of \(level.name)'s guest-physical address 0x\(String(address, radix: 16)) failed"
                return outcome
            }
            trace.append(ReferenceStep(
                level: level.name, tableAddress: table, index: index, entryAddress: address, entry: entry,
                fields: layout.fields.map { ($0.name, (entry & $0.bits.mask) >> UInt64($0.bits.low)) }))
            // Rights fold over every entry read, the one that ends the walk included.
            for r in format.rights {
                guard let f = layout.field(r.field) else { continue }
                let set = entry & f.bits.mask != 0
                if (r.fold == .all && !set) || (r.fold == .none && set) { rights[r.name] = false }
            }
            if !holds(format.present, entry: entry, layout: layout) {
                reason = "\(level.name) is not present (\(format.present.text) is false)"
                return report("not-present", facts: ["not-present"], level: depth)
            }
            for rule in format.misconfigured where holds(rule, entry: entry, layout: layout) {
                reason = "\(level.name) is misconfigured: \(rule.text)"
                return .fault(kind: "misconfiguration", report: 0, level: depth)
            }
            let isLeaf = depth == format.levels.count - 1 || (level.leafWhen.map { holds($0, entry: entry, layout: layout) } ?? false)
            var reserved = reservedMask(format.reserved + level.reserved + (isLeaf ? level.leafReserved : level.tableReserved), layout: layout)
            if isLeaf {
                for p in level.leafAddress {
                    if let req = p.requires, !machine.features.contains(req) {
                        reserved |= p.from.mask
                        continue
                    }
                    for bit in 0..<p.to.width where p.to.low + bit >= physicalBits {
                        reserved |= UInt64(1) << UInt64(p.from.low + bit)
                    }
                }
            }
            if entry & reserved != 0 {
                reason = "\(level.name) has reserved bits 0x\(String(entry & reserved, radix: 16)) set"
                return report("reserved", facts: ["reserved"], level: depth)
            }
            used.append((address, entry, layout, level))
            if !isLeaf {
                table = entry & (layout.field(role: .address)?.bits.mask ?? 0)
                continue
            }
            for rule in format.leafMisconfigured where holds(rule, entry: entry, layout: layout) {
                reason = "\(level.name) is misconfigured: \(rule.text)"
                return .fault(kind: "misconfiguration", report: 0, level: depth)
            }
            // The access-rights check over the folded rights and the leaf's protection key.
            var keyRights: (ad: Bool, wd: Bool) = (false, false)
            if let pk = format.protectionKeys, let keyField = layout.field(pk.field) {
                let key = (entry & keyField.bits.mask) >> UInt64(keyField.bits.low)
                let registerName = (rights[pk.pageIsUser] ?? false) ? pk.userRegister : pk.supervisorRegister
                let registerValue = machine.registers[registerName] ?? 0
                if let reg = registersByName[registerName], let ad = reg.field("AD\(key)"), let wd = reg.field("WD\(key)") {
                    keyRights = (registerValue & ad.bits.mask != 0, registerValue & wd.bits.mask != 0)
                }
            }
            var facts: Set<String> = []
            var denied: [String] = []
            for rule in format.faults {
                let hit = rule.when.expression.holds { name in
                    if name.hasPrefix("access."), let a = AccessAttribute(rawValue: String(name.dropFirst(7))) {
                        return access.attributes.contains(a) ? 1 : 0
                    }
                    if name == "key.AD" { return keyRights.ad ? 1 : 0 }
                    if name == "key.WD" { return keyRights.wd ? 1 : 0 }
                    if let r = rights[name] { return r ? 1 : 0 }
                    return control(name)
                }
                if hit {
                    denied.append(rule.why.isEmpty ? rule.when.text : rule.why)
                    facts.formUnion(rule.sets)
                }
            }
            if !denied.isEmpty {
                reason = "access denied: " + denied.joined(separator: "; ")
                return report("protection", facts: facts, level: depth)
            }
            // The physical address.
            let pageSize = UInt64(1) << UInt64(level.index.low)
            var physical: UInt64 = 0
            if level.leafAddress.isEmpty {
                physical = entry & (layout.field(role: .address)?.bits.mask ?? 0) & ~(pageSize - 1)
            } else {
                for p in level.leafAddress where p.requires.map({ machine.features.contains($0) }) ?? true {
                    physical |= ((entry & p.from.mask) >> UInt64(p.from.low)) << UInt64(p.to.low)
                }
            }
            physical |= access.address & (pageSize - 1)
            var finalPageSize = pageSize
            // Nested paging: the output guest-physical address goes through EPT before any A/D update.
            if var s2 = stage2 {
                var attributes: Set<AccessAttribute> = [.linearValid, .final]
                for a in [AccessAttribute.read, .write, .fetch, .data] where access.attributes.contains(a) { attributes.insert(a) }
                if rights["user"] ?? true { attributes.insert(.guestUser) }
                if rights["writable"] ?? true { attributes.insert(.guestWritable) }
                if !(rights["executable"] ?? true) { attributes.insert(.guestExecuteDisabled) }
                guard let t = s2.translate(physical, attributes, memory: memory) else {
                    stage2 = s2
                    reason = "the EPT translation of the guest-physical address 0x\(String(physical, radix: 16)) failed"
                    return nested(physical)
                }
                stage2 = s2
                physical = t.physical
                finalPageSize = min(pageSize, t.pageSize)
            }
            // Accessed and dirty flags, on success only.
            if holds(format.accessedDirtyWhen) {
                for (i, u) in used.enumerated() where !u.level.loadedWithRoot {
                    var updated = u.entry
                    if let a = u.layout.field(role: .accessed) { updated |= a.bits.mask }
                    if i == used.count - 1, access.attributes.contains(.write), let d = u.layout.field(role: .dirty) {
                        updated |= d.bits.mask
                    }
                    if updated == u.entry { continue }
                    var target = u.address
                    if var s2 = stage2 {
                        // Setting a guest A/D flag is a read-modify-write of the guest paging structure.
                        guard let t = s2.translate(u.address, [.read, .write, .data, .linearValid], memory: memory) else {
                            stage2 = s2
                            reason = "setting the accessed/dirty flags of \(u.level.name) needs EPT write access, which faulted"
                            return nested(u.address)
                        }
                        stage2 = s2
                        target = t.physical
                    }
                    memory.write(target, bytes: u.layout.size, value: updated)
                }
            }
            reason = "\(level.name) maps a \(pageSize)-byte page"
            return .translation(physical: physical, pageSize: finalPageSize, level: depth)
        }
        return .invalidState("format \(format.name) has no leaf")
    }
}
