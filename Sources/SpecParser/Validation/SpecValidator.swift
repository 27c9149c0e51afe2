/// Cross-checks the decoded model: references resolve, bit fields fit and do not overlap,
/// index slices tile the address, rules type-check, CPU models name known features.
struct SpecValidator {
    let specs: SpecSet
    let registers: [String: RegisterSpec]
    let features: Set<String>
    /// Layouts that lost a field to a decoding error (see ``SpecDecoder/incompleteLayouts``).
    let incompleteLayouts: Set<String>

    init(specs: SpecSet, incompleteLayouts: Set<String> = []) {
        self.specs = specs
        self.incompleteLayouts = incompleteLayouts
        registers = Dictionary(specs.registers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        features = Set(specs.features.map(\.name))
    }

    mutating func validate(diagnostics: inout DiagnosticCollector) {
        for r in specs.registers { validateRegister(r, &diagnostics) }
        for l in specs.layouts { validateLayout(l, &diagnostics) }
        for f in specs.formats { validateFormat(f, &diagnostics) }
        for m in specs.cpuModels { validateCPUModel(m, &diagnostics) }
        if let vmx = specs.vmx { validateVMX(vmx, &diagnostics) }
        if let mig = specs.migration { validateMigration(mig, &diagnostics) }
    }

    func unknownFeature(_ name: String, at: SourceLocation, _ d: inout DiagnosticCollector, context: String) {
        var message = "\(context) names unknown CPUID feature '\(name)'"
        if let g = Spelling.nearest(to: name, among: Array(features)) { message += " (did you mean '\(g)'?)" }
        d.error(message, at: at)
    }

    func validateRegister(_ r: RegisterSpec, _ d: inout DiagnosticCollector) {
        for (i, a) in r.fields.enumerated() {
            if let req = a.requires, !features.contains(req.value) {
                unknownFeature(req.value, at: req.location, &d, context: "field '\(r.name).\(a.name)'")
            }
            for b in r.fields[(i + 1)...] where a.bits.overlaps(b.bits) {
                if a.overlaps.contains(b.name) || b.overlaps.contains(a.name) { continue }
                // A misspelt 'overlaps' name is reported below; the overlap it meant to allow is not.
                if [a, b].contains(where: { $0.overlaps.contains { r.field($0) == nil } }) { continue }
                let (first, second) = a.location < b.location ? (a, b) : (b, a)
                d.error(
                    "field '\(second.name)' (\(second.bits.phrase)) overlaps field '\(first.name)' (\(first.bits.phrase)) of \(r.name)",
                    at: second.location, notes: [.init("'\(first.name)' is defined here", at: first.location)])
            }
            for o in a.overlaps where r.field(o) == nil {
                d.error(
                    "field '\(r.name).\(a.name)' declares an overlap with unknown field '\(o)'"
                        + suggestion(o, r.fields.map(\.name).filter { $0 != a.name }), at: a.location)
            }
            for res in r.reserved where res.overlaps(a.bits) {
                d.error(
                    "field '\(a.name)' (\(a.bits.phrase)) lies in reserved \(res.phrase) of \(r.name)", at: a.location)
            }
        }
    }

    func validateLayout(_ l: EntryLayout, _ d: inout DiagnosticCollector) {
        var roles: [EntryFieldRole: EntryField] = [:]
        for (i, a) in l.fields.enumerated() {
            for b in l.fields[(i + 1)...] where a.bits.overlaps(b.bits) {
                let (first, second) = a.location < b.location ? (a, b) : (b, a)
                d.error(
                    "field '\(second.name)' (\(second.bits.phrase)) overlaps field '\(first.name)' (\(first.bits.phrase)) of entry layout '\(l.name)'",
                    at: second.location, notes: [.init("'\(first.name)' is defined here", at: first.location)])
            }
            if let role = a.role {
                if let other = roles[role] {
                    let (first, second) = other.location < a.location ? (other, a) : (a, other)
                    d.error(
                        "entry layout '\(l.name)' gives role '\(role.rawValue)' to both '\(first.name)' and '\(second.name)'",
                        at: second.location, notes: [.init("'\(first.name)' is defined here", at: first.location)])
                }
                roles[role] = a
                if (role == .accessed || role == .dirty) && a.bits.width != 1 {
                    d.error("the \(role.rawValue) flag must be a single bit", at: a.location)
                }
            }
        }
        if roles[.address] == nil, !incompleteLayouts.contains(l.name) {
            d.error("entry layout '\(l.name)' has no field with role 'address'", at: l.location)
        }
    }

    func layout(_ name: String, at: SourceLocation, _ d: inout DiagnosticCollector) -> EntryLayout? {
        if let l = specs.layout(name) { return l }
        var message = "unknown entry layout '\(name)'"
        if let g = Spelling.nearest(to: name, among: specs.layouts.map(\.name)) { message += " (did you mean '\(g)'?)" }
        d.error(message, at: at)
        return nil
    }

    func validateFormat(_ f: PagingFormat, _ d: inout DiagnosticCollector) {
        let defaultLayout = layout(f.entryLayout, at: f.entryLocation, &d)
        let controlScope = RuleScope(
            kinds: [.control, .feature], registers: registers, features: features,
            layout: specs.layout(f.entryLayout))
        if let e = f.enabledWhen { controlScope.check(e, what: "'enabled-when' of \(f.name)", diagnostics: &d) }
        if let e = f.accessedDirtyWhen {
            controlScope.check(e, what: "'accessed-dirty-when' of \(f.name)", diagnostics: &d)
        }
        for c in f.rootChecks { controlScope.check(c.invalidWhen, what: "a root check of \(f.name)", diagnostics: &d) }
        if let tlb = f.tlb {
            if let r = tlb.tagWhen { controlScope.check(r, what: "'tag-when' of \(f.name)", diagnostics: &d) }
            if let r = tlb.keepWhen { controlScope.check(r, what: "'keep-when' of \(f.name)", diagnostics: &d) }
            for name in (tlb.tag.map { [$0] } ?? []) + tlb.flushAllOnChange {
                let parts = name.value.split(separator: ".").map(String.init)
                if parts.count != 2 || registers[parts[0]]?.field(parts[1]) == nil {
                    d.error("'\(name.value)' is not a register field", at: name.location)
                }
            }
        }
        for r in f.rootReserved {
            if case .field = r.bits {
                d.error("'root-reserved' takes bit ranges or above-maxphyaddr, not fields", at: r.location)
            }
            if let w = r.when { controlScope.check(w, what: "a root-reserved condition of \(f.name)", diagnostics: &d) }
        }
        // Root: REGISTER.FIELD
        let rootParts = f.root.value.split(separator: ".").map(String.init)
        if rootParts.count != 2 {
            d.error("'root' must name a register field such as CR3.address, not '\(f.root.value)'", at: f.root.location)
        } else if let reg = registers[rootParts[0]] {
            if reg.field(rootParts[1]) == nil {
                var message = "register '\(reg.name)' has no field '\(rootParts[1])'"
                if let g = Spelling.nearest(to: rootParts[1], among: reg.fields.map(\.name)) {
                    message += " (did you mean '\(g)'?)"
                }
                d.error(message, at: f.root.location)
            }
        } else {
            var message = "'root' names unknown register '\(rootParts[0])'"
            if let g = Spelling.nearest(to: rootParts[0], among: Array(registers.keys)) {
                message += " (did you mean '\(g)'?)"
            }
            d.error(message, at: f.root.location)
        }
        guard let defaultLayout else { return }
        let entryScope = RuleScope(
            kinds: [.entry, .control, .feature], registers: registers, features: features,
            layout: defaultLayout)
        entryScope.check(f.present, what: "'present' of \(f.name)", diagnostics: &d)
        if let g = f.tlb?.globalWhen { entryScope.check(g, what: "'global-when' of \(f.name)", diagnostics: &d) }
        for r in f.misconfigured + f.leafMisconfigured {
            entryScope.check(r, what: "a misconfiguration rule of \(f.name)", diagnostics: &d)
        }
        validateReserved(f.reserved, layout: defaultLayout, format: f, &d)

        // Levels: names unique, index slices tile the address from addressBits-1 down.
        if f.levels.isEmpty { d.error("paging format '\(f.name)' has no levels", at: f.location) }
        var seenNames: [String: SourceLocation] = [:]
        var expectedHigh = f.addressBits - 1
        for (i, level) in f.levels.enumerated() {
            if let first = seenNames[level.name] {
                d.error(
                    "duplicate level '\(level.name)' in \(f.name)", at: level.location,
                    notes: [.init("first defined here", at: first)])
            }
            seenNames[level.name] = level.location
            if level.index.high != expectedHigh {
                if i == 0 {
                    d.error(
                        "the top level's index \(level.index) must start at bit \(expectedHigh) for a \(f.addressBits)-bit address",
                        at: level.location)
                } else if level.index.high > expectedHigh {
                    d.error(
                        "index \(level.index) of \(level.name) overlaps the index of the level above (which ends at bit \(expectedHigh + 1))",
                        at: level.location)
                } else {
                    d.error(
                        "index bits \(expectedHigh):\(level.index.high + 1) are not used by any level (gap above \(level.name)'s index \(level.index))",
                        at: level.location)
                }
            }
            expectedHigh = level.index.low - 1
            let l = level.entryLayout.flatMap { layout($0, at: level.location, &d) } ?? defaultLayout
            let tableBytes = (1 << level.index.width) * l.size
            if tableBytes > 4096 {
                d.error(
                    "\(level.name)'s \(level.index.width)-bit index selects among \(1 << level.index.width) entries of \(l.size) bytes: a \(tableBytes)-byte table, larger than a 4 KiB page",
                    at: level.location)
            }
            let ls = RuleScope(
                kinds: [.entry, .control, .feature], registers: registers, features: features, layout: l)
            if let lw = level.leafWhen {
                ls.check(lw, what: "'leaf-when' of \(f.name) level \(level.name)", diagnostics: &d)
            }
            validateReserved(level.reserved + level.leafReserved + level.tableReserved, layout: l, format: f, &d)
            for p in level.leafAddress {
                if let req = p.requires, !features.contains(req) {
                    unknownFeature(req, at: p.location, &d, context: "address piece of \(level.name)")
                }
                if p.from.high >= l.size * 8 {
                    d.error(
                        "address piece \(p.from.phrase) \(p.from.width == 1 ? "is" : "are") outside the \(l.size * 8)-bit entry layout '\(l.name)'",
                        at: p.location)
                }
            }
        }
        if let last = f.levels.last, expectedHigh != 11, expectedHigh >= 0 || last.index.low != 12 {
            if last.index.low != 12 {
                d.error(
                    "the last level's index must end at bit 12 (4 KiB pages), not at bit \(last.index.low)",
                    at: last.location)
            }
        }
        // Rights, faults, report.
        let rightNames = f.rights.map(\.name)
        for r in f.rights where defaultLayout.field(r.field) == nil {
            var message = "right '\(r.name)' folds unknown entry field '\(r.field)'"
            if let g = Spelling.nearest(to: r.field, among: defaultLayout.fields.map(\.name)) {
                message += " (did you mean '\(g)'?)"
            }
            d.error(message, at: r.location)
        }
        let faultKinds: RuleScope.Kinds =
            f.protectionKeys == nil
            ? [.access, .rights, .control, .feature] : [.access, .rights, .control, .feature, .key]
        let faultScope = RuleScope(
            kinds: faultKinds, registers: registers, features: features,
            layout: defaultLayout, rights: rightNames)
        for rule in f.faults { faultScope.check(rule.when, what: "a fault rule of \(f.name)", diagnostics: &d) }
        if let pk = f.protectionKeys {
            func at(_ key: String) -> SourceLocation { pk.keyLocations[key] ?? pk.location }
            if defaultLayout.field(pk.field) == nil {
                d.error(
                    "'protection-keys' names unknown entry field '\(pk.field)'"
                        + suggestion(pk.field, defaultLayout.fields.map(\.name)), at: at("field"))
            }
            for (key, reg) in [("user-pages", pk.userRegister), ("supervisor-pages", pk.supervisorRegister)]
            where registers[reg] == nil {
                d.error(
                    "'protection-keys' names unknown register '\(reg)'"
                        + suggestion(reg, specs.registers.map(\.name)), at: at(key))
            }
            if !rightNames.contains(pk.pageIsUser) {
                d.error(
                    "'protection-keys' names unknown right '\(pk.pageIsUser)'" + suggestion(pk.pageIsUser, rightNames),
                    at: at("page-is-user"))
            }
        }
        var facts = ["not-present", "reserved"]
        for rule in f.faults { facts += rule.sets }
        guard let reg = registers[f.report.register.value] else {
            var message = "'report' names unknown register '\(f.report.register.value)'"
            if let g = Spelling.nearest(to: f.report.register.value, among: Array(registers.keys)) {
                message += " (did you mean '\(g)'?)"
            }
            d.error(message, at: f.report.register.location)
            return
        }
        for rule in f.faults {
            for s in rule.sets where reg.field(s) == nil {
                d.error("fault rule sets '\(s)', which is not a field of \(reg.name)", at: rule.location)
            }
        }
        let reportScope = RuleScope(
            kinds: [.access, .fault, .control, .feature, .rights], registers: registers,
            features: features, rights: rightNames, faultFacts: facts)
        for (field, rule) in f.report.flags {
            if reg.field(field) == nil {
                var message = "'\(field)' is not a field of \(reg.name)"
                if let g = Spelling.nearest(to: field, among: reg.fields.map(\.name)) {
                    message += " (did you mean '\(g)'?)"
                }
                d.error(message, at: f.report.flagLocations[field] ?? rule.location)
            }
            reportScope.check(rule, what: "report flag '\(field)' of \(f.name)", diagnostics: &d)
        }
    }

    /// ` (did you mean 'X'?)` for the candidate nearest to `word`, or nothing.
    func suggestion(_ word: String, _ candidates: [String]) -> String {
        Spelling.nearest(to: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    func validateReserved(
        _ items: [ReservedBits], layout: EntryLayout, format: PagingFormat,
        _ d: inout DiagnosticCollector
    ) {
        let scope = RuleScope(kinds: [.control, .feature], registers: registers, features: features, layout: layout)
        for item in items {
            switch item.bits {
            case .field(let name):
                if layout.field(name) == nil {
                    var message = "reserved bits name unknown entry field '\(name)' of layout '\(layout.name)'"
                    if let g = Spelling.nearest(to: name, among: layout.fields.map(\.name)) {
                        message += " (did you mean '\(g)'?)"
                    }
                    d.error(message, at: item.location)
                }
            case .range(let r):
                if r.high >= layout.size * 8 {
                    d.error(
                        "reserved \(r.phrase) \(r.width == 1 ? "is" : "are") outside the \(layout.size * 8)-bit entry layout '\(layout.name)'",
                        at: item.location)
                }
            case .aboveMaxPhysicalAddress:
                break
            }
            if let w = item.when {
                scope.check(w, what: "a reserved-bits condition of \(format.name)", diagnostics: &d)
            }
        }
    }

    func validateCPUModel(_ m: CPUModel, _ d: inout DiagnosticCollector) {
        var seen: Set<String> = []
        for f in m.features {
            if !features.contains(f.value) {
                unknownFeature(f.value, at: f.location, &d, context: "CPU model '\(m.name)'")
            }
            if !seen.insert(f.value).inserted {
                d.error("CPU model '\(m.name)' lists feature '\(f.value)' twice", at: f.location)
            }
        }
        if let mig = specs.migration {
            let wide = m.has(mig.wideLinearFeature.value)
            let expected = mig.staticLinearWidth(hasWideFeature: wide)
            if m.linearAddressBits.value != expected {
                d.error(
                    "CPU model '\(m.name)' has linear-address-bits \(m.linearAddressBits.value) but \(wide ? "has" : "lacks") \(mig.wideLinearFeature.value), which means \(expected)",
                    at: m.linearAddressBits.location)
            }
        }
    }

    func validateVMX(_ v: VMXSpec, _ d: inout DiagnosticCollector) {
        if registers[v.exitReasonLayout.value] == nil {
            var message = "'exit-reason-layout' names unknown register '\(v.exitReasonLayout.value)'"
            if let g = Spelling.nearest(to: v.exitReasonLayout.value, among: Array(registers.keys)) {
                message += " (did you mean '\(g)'?)"
            }
            d.error(message, at: v.exitReasonLayout.location)
        }
        if let layout = registers[v.exitReasonLayout.value],
            let basic = layout.fields.first(where: { $0.bits.low == 0 })
        {
            // Every number must fit the basic-reason field of the exit-reason layout.
            for r in v.exitReasons where basic.bits.width < 64 && r.number >= (1 << basic.bits.width) {
                d.error(
                    "exit reason \(r.name) (\(r.number)) does not fit field '\(basic.name)' (bits \(basic.bits)) of \(layout.name)",
                    at: r.location)
            }
        }
        for r in v.exitReasons {
            if let q = r.qualification, registers[q] == nil {
                var message = "exit reason \(r.name) names unknown qualification layout '\(q)'"
                if let g = Spelling.nearest(to: q, among: Array(registers.keys)) {
                    message += " (did you mean '\(g)'?)"
                }
                d.error(message, at: r.location)
            }
        }
    }

    func validateMigration(_ m: MigrationSpec, _ d: inout DiagnosticCollector) {
        func unknownRegister(_ name: String, _ context: String, at location: SourceLocation) {
            var message = "\(context) names unknown register '\(name)'"
            if let g = Spelling.nearest(to: name, among: Array(registers.keys)) { message += " (did you mean '\(g)'?)" }
            d.error(message, at: location)
        }
        for r in m.canonicalRegisters {
            guard let reg = registers[r.name] else {
                unknownRegister(r.name, "canonical register '\(r.stateKey)'", at: r.location)
                continue
            }
            if reg.width != 64 {
                d.error(
                    "canonical register '\(r.stateKey)' names \(reg.name), which is \(reg.width) bits wide; a linear address needs 64",
                    at: r.location)
            }
        }
        for s in m.stateRegisters where registers[s.register] == nil {
            unknownRegister(s.register, "state key '\(s.key)'", at: s.location)
        }
        let stateRegisterNames = Set(m.stateRegisters.map(\.register))
        for g in m.gatedRegisters {
            guard let reg = registers[g.value] else {
                unknownRegister(g.value, "'gated-registers'", at: g.location)
                continue
            }
            if !stateRegisterNames.contains(g.value) {
                d.error(
                    "gated register '\(g.value)' is not named by any 'state-registers' key, so no snapshot can carry it",
                    at: g.location)
            }
            if !reg.fields.contains(where: { $0.requires != nil }) {
                d.error("gated register '\(g.value)' has no field with 'requires'", at: g.location)
            }
        }
        var ids: [String: SourceLocation] = [:]
        for w in m.widths {
            if let first = ids[w.id] {
                d.error(
                    "hazard id '\(w.id)' is used twice", at: w.location, notes: [.init("first used here", at: first)])
            }
            ids[w.id] = ids[w.id] ?? w.location
        }
        if !features.contains(m.wideLinearFeature.value) {
            unknownFeature(
                m.wideLinearFeature.value, at: m.wideLinearFeature.location, &d, context: "'wide-linear-feature'")
        }
    }
}
