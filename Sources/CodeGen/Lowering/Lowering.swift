import SpecParser

/// Lowers a validated ``SpecSet`` to tables: per level the index shift and mask, the address
/// mask, reserved-bit descriptors, entry rules as truth tables, rights folding masks; per format
/// the fault rules and report (error code / exit qualification) rules as truth tables.
///
/// Rules are evaluated over every combination of their inputs here, at generation time; the
/// runtime only specialises the tables to a control state and looks bits up.
public struct Lowering {
    /// Problems found while lowering (rules with too many inputs).
    public enum Failure: Error, CustomStringConvertible {
        /// A rule has more input bits than a table can hold.
        case tooManyInputs(String, SourceLocation, Int)
        /// A name did not resolve (validation should have caught it).
        case unresolved(String, SourceLocation)

        /// The failure as a compiler-style `file:line: error:` message.
        public var description: String {
            switch self {
            case .tooManyInputs(let text, let at, let n):
                return "\(at): error: rule '\(text)' has \(n) input bits; tables are limited to 20"
            case .unresolved(let why, let at): return "\(at): error: \(why)"
            }
        }
    }

    let specs: SpecSet
    let registerIndex: [String: Int]
    let featureIndex: [String: Int]
    let registerMap: [String: RegisterSpec]

    /// Prepares to lower `specs`.
    public init(_ specs: SpecSet) {
        self.specs = specs
        registerIndex = Dictionary(uniqueKeysWithValues: specs.registers.enumerated().map { ($1.name, $0) })
        featureIndex = Dictionary(uniqueKeysWithValues: specs.features.enumerated().map { ($1.name, $0) })
        registerMap = Dictionary(uniqueKeysWithValues: specs.registers.map { ($0.name, $0) })
    }

    /// Lowers everything.
    public func lower() throws -> LoweredSpecs {
        var gates: [(Int, UInt64, Int, String)] = []
        for (ri, r) in specs.registers.enumerated() {
            for f in r.fields {
                if let req = f.requires, let fi = featureIndex[req.value] {
                    gates.append((ri, f.bits.mask, fi, "\(r.name).\(f.name)"))
                }
            }
        }
        return LoweredSpecs(
            registers: specs.registers.map(\.name), features: specs.features.map(\.name), featureGates: gates,
            formats: try specs.formats.map(lower), files: specs.files)
    }

    func scope(_ kinds: RuleScope.Kinds, layout: EntryLayout? = nil, rights: [String] = [], facts: [String] = [])
        -> RuleScope
    {
        RuleScope(
            kinds: kinds, registers: registerMap, features: Set(specs.features.map(\.name)), layout: layout,
            rights: rights, faultFacts: facts)
    }

    /// Compiles `rule` to a truth table over its inputs.
    func table(
        _ rule: Rule, _ scope: RuleScope, layout: EntryLayout? = nil, rights: [String] = [], facts: [String] = []
    )
        throws -> LoweredRuleTable
    {
        var inputs: [LoweredRuleTable.Input] = []
        for (name, at) in rule.expression.nameLocations {
            guard case .success(let resolved) = scope.resolve(name) else {
                throw Failure.unresolved("unresolved name '\(name)'", at)
            }
            switch resolved {
            case .control(let register, let field, let width):
                let f = registerMap[register]?.field(field)
                inputs.append(
                    .init(
                        source: "control", index: registerIndex[register] ?? 0, shift: f?.bits.low ?? 0,
                        width: width, name: name))
            case .feature(let feature):
                inputs.append(
                    .init(source: "feature", index: featureIndex[feature] ?? 0, shift: 0, width: 1, name: name))
            case .access(let attribute):
                inputs.append(
                    .init(
                        source: "access", index: AccessAttribute.allCases.firstIndex(of: attribute) ?? 0,
                        shift: 0, width: 1, name: name))
            case .entry(let field, let width):
                inputs.append(
                    .init(
                        source: "entry", index: 0, shift: layout?.field(field)?.bits.low ?? 0, width: width,
                        name: name))
            case .right(let r):
                inputs.append(
                    .init(source: "right", index: rights.firstIndex(of: r) ?? 0, shift: 0, width: 1, name: name))
            case .key(let k):
                inputs.append(.init(source: "key", index: k == "AD" ? 0 : 1, shift: 0, width: 1, name: name))
            case .fault(let fact):
                inputs.append(
                    .init(source: "fault", index: facts.firstIndex(of: fact) ?? 0, shift: 0, width: 1, name: name))
            }
        }
        let bits = inputs.reduce(0) { $0 + $1.width }
        guard bits <= 20 else { throw Failure.tooManyInputs(rule.text, rule.location, bits) }
        var truth = [UInt64](repeating: 0, count: max(1, ((1 << bits) + 63) >> 6))
        for combo in 0..<(1 << bits) {
            var values: [String: UInt64] = [:]
            var offset = 0
            for input in inputs {
                values[input.name] = UInt64((combo >> offset) & ((1 << input.width) - 1))
                offset += input.width
            }
            if rule.expression.holds({ values[$0] ?? 0 }) { truth[combo >> 6] |= 1 << UInt64(combo & 63) }
        }
        return LoweredRuleTable(inputs: inputs, truth: truth, text: rule.text, location: rule.location)
    }

    /// OR of several rules, as one rule (misconfiguration lists).
    func anyOf(_ rules: [Rule]) -> Rule? {
        guard var combined = rules.first else { return nil }
        for r in rules.dropFirst() {
            combined = Rule(
                expression: .or(combined.expression, r.expression), text: "\(combined.text) || \(r.text)",
                location: combined.location)
        }
        if rules.count > 1 { combined.text = rules.map { "(\($0.text))" }.joined(separator: " || ") }
        return combined
    }

    func reserved(_ items: [ReservedBits], layout: EntryLayout, format: PagingFormat) throws -> [LoweredReserved] {
        let s = scope([.control, .feature])
        return try items.map { item in
            var mask: UInt64 = 0
            var above = false
            var text: String
            switch item.bits {
            case .range(let r):
                mask = r.mask
                text = "bits \(r)"
            case .field(let name):
                mask = layout.field(name)?.bits.mask ?? 0
                text = name
            case .aboveMaxPhysicalAddress:
                mask = layout.field(role: .address)?.bits.mask ?? 0
                above = true
                text = "address bits at or above MAXPHYADDR"
            }
            if let w = item.when { text += " when \(w.text)" }
            return LoweredReserved(
                mask: mask, aboveMaxPhysicalAddress: above,
                when: try item.when.map { try table($0, s) }, text: text)
        }
    }

    func lower(_ f: PagingFormat) throws -> LoweredFormat {
        guard let defaultLayout = specs.layout(f.entryLayout) else {
            throw Failure.unresolved("unknown layout \(f.entryLayout)", f.location)
        }
        let rightNames = f.rights.map(\.name)
        let controlScope = scope([.control, .feature])
        var levels: [LoweredLevel] = []
        for (i, level) in f.levels.enumerated() {
            let layout = level.entryLayout.flatMap { specs.layout($0) } ?? defaultLayout
            let entryScope = scope([.entry, .control, .feature], layout: layout)
            let present = try table(f.present, entryScope, layout: layout)
            let leafWhen = try level.leafWhen.map { try table($0, entryScope, layout: layout) }
            let misc = try anyOf(f.misconfigured).map { try table($0, entryScope, layout: layout) }
            let leafMisc = try anyOf(f.leafMisconfigured).map { try table($0, entryScope, layout: layout) }
            let rights: [(UInt64, Bool)] = f.rights.map { r in
                (layout.field(r.field)?.bits.mask ?? 0, r.fold == .none)
            }
            let pieces = level.leafAddress.map { p in
                (p.from.low, p.from.width, p.to.low, p.requires.flatMap { featureIndex[$0] } ?? -1)
            }
            levels.append(
                LoweredLevel(
                    name: level.name, indexShift: level.index.low, indexBits: level.index.width,
                    entryBytes: layout.size,
                    addressMask: layout.field(role: .address)?.bits.mask ?? 0,
                    accessedMask: layout.field(role: .accessed)?.bits.mask ?? 0,
                    dirtyMask: layout.field(role: .dirty)?.bits.mask ?? 0,
                    keyMask: layout.field(role: .protectionKey)?.bits.mask ?? 0,
                    present: present, leafWhen: leafWhen, isLast: i == f.levels.count - 1,
                    loadedWithRoot: level.loadedWithRoot,
                    reserved: try reserved(f.reserved + level.reserved, layout: layout, format: f),
                    leafReserved: try reserved(level.leafReserved, layout: layout, format: f),
                    tableReserved: try reserved(level.tableReserved, layout: layout, format: f),
                    pieces: pieces, misconfigured: misc, leafMisconfigured: leafMisc, rights: rights,
                    fields: layout.fields.map { ($0.name, $0.bits.low, $0.bits.width) }, layoutName: layout.name,
                    location: level.location))
        }
        var facts = ["not-present", "reserved"]
        for rule in f.faults {
            for s in rule.sets where !facts.contains(s) { facts.append(s) }
        }
        let faultScope = scope([.access, .rights, .control, .feature, .key], rights: rightNames)
        let faults = try f.faults.map { rule in
            (
                try table(rule.when, faultScope, rights: rightNames), rule.sets.compactMap { facts.firstIndex(of: $0) },
                rule.why
            )
        }
        let reportScope = scope([.access, .fault, .control, .feature, .rights], rights: rightNames, facts: facts)
        let reportRegister = registerMap[f.report.register.value]
        let flags = try f.report.flags.map { flag in
            (
                reportRegister?.field(flag.field)?.bits.mask ?? 0, flag.field,
                try table(flag.rule, reportScope, rights: rightNames, facts: facts)
            )
        }
        var keys: (Int, Int, Int, [Int], [Int])?
        if let pk = f.protectionKeys, let user = registerMap[pk.userRegister],
            let sup = registerMap[pk.supervisorRegister]
        {
            var ad: [Int] = []
            var wd: [Int] = []
            var k = 0
            while let a = user.field("AD\(k)"), let w = user.field("WD\(k)") {
                ad.append(a.bits.low)
                wd.append(w.bits.low)
                k += 1
            }
            _ = sup
            keys = (
                registerIndex[pk.userRegister] ?? 0, registerIndex[pk.supervisorRegister] ?? 0,
                rightNames.firstIndex(of: pk.pageIsUser) ?? 0, ad, wd
            )
        }
        let rootParts = f.root.value.split(separator: ".").map(String.init)
        let rootRegister = registerIndex[rootParts.first ?? ""] ?? 0
        let rootMask = registerMap[rootParts.first ?? ""]?.field(rootParts.last ?? "")?.bits.mask ?? 0
        let always = Rule(expression: .boolean(true), text: "true", location: f.location)
        var tlb: (LoweredRuleTable?, Int, UInt64, LoweredRuleTable?, LoweredRuleTable?, [(Int, UInt64, String)])?
        if let t = f.tlb {
            func field(_ name: String) -> (Int, UInt64) {
                let parts = name.split(separator: ".").map(String.init)
                return (
                    registerIndex[parts.first ?? ""] ?? 0,
                    registerMap[parts.first ?? ""]?.field(parts.last ?? "")?.bits.mask ?? 0
                )
            }
            let leafScope = scope([.entry, .control, .feature], layout: defaultLayout)
            let tag = t.tag.map { field($0.value) } ?? (0, 0)
            tlb = (
                try t.globalWhen.map { try table($0, leafScope, layout: defaultLayout) }, tag.0, tag.1,
                try t.tagWhen.map { try table($0, controlScope) }, try t.keepWhen.map { try table($0, controlScope) },
                t.flushAllOnChange.map {
                    let r = field($0.value); return (r.0, r.1, $0.value)
                }
            )
        }
        let rootChecks = try f.rootChecks.map { (try table($0.invalidWhen, controlScope), $0.why) }
        var rootReserved: [LoweredReserved] = []
        for item in f.rootReserved {
            var r = LoweredReserved(
                mask: 0, aboveMaxPhysicalAddress: false,
                when: try item.when.map { try table($0, controlScope) }, text: "")
            switch item.bits {
            case .range(let b):
                r.mask = b.mask
                r.text = "bits \(b)"
            case .aboveMaxPhysicalAddress:
                r.mask = rootMask
                r.aboveMaxPhysicalAddress = true
                r.text = "\(f.root.value) bits at or above MAXPHYADDR"
            case .field:
                continue
            }
            rootReserved.append(r)
        }
        return LoweredFormat(
            name: f.name, title: f.title, family: f.family, addressBits: f.addressBits, canonical: f.canonical,
            physicalAddressLimit: f.physicalAddressLimit ?? 64, rootRegister: rootRegister, rootMask: rootMask,
            rootText: f.root.value, enabledWhen: try table(f.enabledWhen ?? always, controlScope), levels: levels,
            rightNames: rightNames, faults: faults, factNames: facts,
            reportRegister: registerIndex[f.report.register.value] ?? 0, reportFlags: flags,
            accessedDirtyWhen: try table(f.accessedDirtyWhen ?? always, controlScope), protectionKeys: keys,
            tlb: tlb.map {
                (
                    global: $0.0, tagRegister: $0.1, tagMask: $0.2, tagWhen: $0.3, keepWhen: $0.4,
                    flushAll: $0.5.map { (register: $0.0, mask: $0.1, name: $0.2) }
                )
            },
            rootChecks: rootChecks, rootReserved: rootReserved, sourceFiles: f.files.sorted(), location: f.location)
    }
}
