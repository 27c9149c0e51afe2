/// A paging format as written, before `extends` is applied: every key optional.
struct RawPagingFormat {
    var name: String
    var location: SourceLocation
    var file: String
    var title: String?
    var source: String?
    var family: PagingFormat.Family?
    var extends: Located<String>?
    var enabledWhen: Rule?
    var addressBits: Int?
    var canonical: Bool?
    var physicalAddressLimit: Int?
    var entry: Located<String>?
    var root: Located<String>?
    var levels: [PagingLevel]?
    var levelsAbove: [PagingLevel]?
    var present: Rule?
    var reserved: [ReservedBits]?
    var misconfigured: [Rule]?
    var leafMisconfigured: [Rule]?
    var rights: [RightRule]?
    var faults: [FaultRule]?
    var report: FaultReport?
    var accessedDirtyWhen: Rule?
    var protectionKeys: ProtectionKeys?
    var rootChecks: [RootCheck]?
    var rootReserved: [ReservedBits]?
    var tlb: TLBRules?
    /// Every key written in the file, valid or not: a required key that was written but failed to
    /// decode has been reported already and is not reported again as missing.
    var writtenKeys: Set<String> = []
    /// Where `levels-above` was written.
    var levelsAboveLocation: SourceLocation?
}

extension SpecDecoder {
    static let formatKeys = [
        "paging-format", "title", "source", "family", "extends", "enabled-when", "address-bits", "canonical",
        "physical-address-limit", "entry", "root", "levels", "levels-above", "present", "reserved", "misconfigured",
        "leaf-misconfigured", "rights", "faults", "report", "accessed-dirty-when", "protection-keys", "root-checks",
        "root-reserved", "tlb",
    ]

    mutating func decodePagingFormat(_ node: YAMLNode, file: String, diagnostics: inout DiagnosticCollector) {
        guard var m = MappingReader(node, what: "a paging format", diagnostics: &diagnostics) else { return }
        guard let name = m.string("paging-format", required: true, diagnostics: &diagnostics) else { return }
        var raw = RawPagingFormat(name: name.value, location: name.location, file: file)
        raw.writtenKeys = Set(m.allPairs.map(\.key))
        raw.title = m.string("title", diagnostics: &diagnostics)?.value
        raw.source = m.string("source", diagnostics: &diagnostics)?.value
        if let f = m.string("family", diagnostics: &diagnostics) {
            raw.family = PagingFormat.Family(rawValue: f.value)
            if raw.family == nil {
                var message = "unknown family '\(f.value)'; expected guest or ept"
                if let g = Spelling.nearest(to: f.value, among: ["guest", "ept"]) {
                    message += " (did you mean '\(g)'?)"
                }
                diagnostics.error(message, at: f.location)
            }
        }
        raw.extends = m.string("extends", diagnostics: &diagnostics)
        raw.enabledWhen = m.rule("enabled-when", diagnostics: &diagnostics)
        raw.addressBits = m.integer("address-bits", in: 1...64, diagnostics: &diagnostics).map { Int($0.value) }
        raw.canonical = m.boolean("canonical", diagnostics: &diagnostics)?.value
        raw.physicalAddressLimit = m.integer("physical-address-limit", in: 12...64, diagnostics: &diagnostics)
            .map { Int($0.value) }
        raw.entry = m.string("entry", diagnostics: &diagnostics)
        raw.root = m.string("root", diagnostics: &diagnostics)
        if let v = m.value("levels") { raw.levels = decodeLevels(v, key: "levels", diagnostics: &diagnostics) }
        if let v = m.value("levels-above") {
            raw.levelsAbove = decodeLevels(v, key: "levels-above", diagnostics: &diagnostics)
            raw.levelsAboveLocation = m.keyLocation("levels-above")
        }
        raw.present = m.rule("present", diagnostics: &diagnostics)
        if let v = m.value("reserved") { raw.reserved = decodeReserved(v, diagnostics: &diagnostics) }
        if let v = m.value("misconfigured") { raw.misconfigured = decodeRules(v, key: "misconfigured", &diagnostics) }
        if let v = m.value("leaf-misconfigured") {
            raw.leafMisconfigured = decodeRules(v, key: "leaf-misconfigured", &diagnostics)
        }
        if let v = m.value("rights") { raw.rights = decodeRights(v, diagnostics: &diagnostics) }
        if let v = m.value("faults") { raw.faults = decodeFaults(v, diagnostics: &diagnostics) }
        if let v = m.value("report") { raw.report = decodeReport(v, diagnostics: &diagnostics) }
        raw.accessedDirtyWhen = m.rule("accessed-dirty-when", diagnostics: &diagnostics)
        if let v = m.value("protection-keys"),
            var p = MappingReader(v, what: "'protection-keys'", diagnostics: &diagnostics)
        {
            let field = p.string("field", required: true, diagnostics: &diagnostics)
            let user = p.string("user-pages", required: true, diagnostics: &diagnostics)
            let sup = p.string("supervisor-pages", required: true, diagnostics: &diagnostics)
            let right = p.string("page-is-user", required: true, diagnostics: &diagnostics)
            p.finish(diagnostics: &diagnostics)
            if let field, let user, let sup, let right {
                raw.protectionKeys = ProtectionKeys(
                    field: field.value, userRegister: user.value, supervisorRegister: sup.value,
                    pageIsUser: right.value, location: v.location,
                    keyLocations: [
                        "field": field.location, "user-pages": user.location, "supervisor-pages": sup.location,
                        "page-is-user": right.location,
                    ])
            }
        }
        if let v = m.value("root-checks") {
            var checks: [RootCheck] = []
            for item in v.items ?? [v] {
                guard var c = MappingReader(item, what: "a root check", diagnostics: &diagnostics) else { continue }
                let rule = c.rule("invalid-when", required: true, diagnostics: &diagnostics)
                let why = c.string("why", required: true, diagnostics: &diagnostics)?.value ?? ""
                c.finish(diagnostics: &diagnostics)
                if let rule { checks.append(RootCheck(invalidWhen: rule, why: why, location: item.location)) }
            }
            raw.rootChecks = checks
        }
        if let v = m.value("root-reserved") { raw.rootReserved = decodeReserved(v, diagnostics: &diagnostics) }
        if let v = m.value("tlb"), var t = MappingReader(v, what: "'tlb'", diagnostics: &diagnostics) {
            let global = t.rule("global-when", diagnostics: &diagnostics)
            let tag = t.string("tag", diagnostics: &diagnostics)
            let tagWhen = t.rule("tag-when", diagnostics: &diagnostics)
            let keep = t.rule("keep-when", diagnostics: &diagnostics)
            let flush = t.strings("flush-all-on-change", diagnostics: &diagnostics) ?? []
            t.finish(diagnostics: &diagnostics)
            raw.tlb = TLBRules(
                globalWhen: global, tag: tag, tagWhen: tagWhen, keepWhen: keep, flushAllOnChange: flush,
                location: v.location)
        }
        m.finish(diagnostics: &diagnostics)
        rawFormats.append(raw)
    }

    func decodeRules(_ v: YAMLNode, key: String, _ diagnostics: inout DiagnosticCollector) -> [Rule] {
        (v.items ?? [v]).compactMap { MappingReader.rule($0, key: key, diagnostics: &diagnostics) }
    }

    /// Decodes a sequence of levels; `nil` (reported) when `v` is not a sequence.
    func decodeLevels(_ v: YAMLNode, key: String, diagnostics: inout DiagnosticCollector) -> [PagingLevel]? {
        guard let items = v.items else {
            diagnostics.error(
                "'\(key)' must be a sequence of levels, top level first, not \(v.shapeName)", at: v.location)
            return nil
        }
        var out: [PagingLevel] = []
        for item in items {
            guard var l = MappingReader(item, what: "a level", diagnostics: &diagnostics) else { continue }
            let name = l.string("name", required: true, diagnostics: &diagnostics)
            let index = l.bitRange(
                "index", width: 64, container: "a 64-bit address", required: true, diagnostics: &diagnostics)
            let entry = l.string("entry", diagnostics: &diagnostics)?.value
            let leafWhen = l.rule("leaf-when", diagnostics: &diagnostics)
            let reserved = l.value("reserved").map { decodeReserved($0, diagnostics: &diagnostics) } ?? []
            let leafReserved = l.value("leaf-reserved").map { decodeReserved($0, diagnostics: &diagnostics) } ?? []
            let tableReserved = l.value("table-reserved").map { decodeReserved($0, diagnostics: &diagnostics) } ?? []
            var pieces: [AddressPiece] = []
            if let av = l.value("leaf-address") {
                for pv in av.items ?? [av] {
                    guard var p = MappingReader(pv, what: "an address piece", diagnostics: &diagnostics) else {
                        continue
                    }
                    let from = p.bitRange(
                        "from", width: 64, container: "a 64-bit entry", required: true, diagnostics: &diagnostics)
                    let to = p.bitRange(
                        "to", width: 64, container: "a 64-bit address", required: true, diagnostics: &diagnostics)
                    let requires = p.string("requires", diagnostics: &diagnostics)?.value
                    p.finish(diagnostics: &diagnostics)
                    if let from, let to {
                        if from.value.width != to.value.width {
                            diagnostics.error(
                                "address piece maps \(from.value.width) entry bits (\(from.value)) onto \(to.value.width) address bits (\(to.value))",
                                at: to.location)
                        } else {
                            pieces.append(
                                AddressPiece(from: from.value, to: to.value, requires: requires, location: pv.location))
                        }
                    }
                }
            }
            let loaded = l.boolean("loaded-with-root", diagnostics: &diagnostics)?.value ?? false
            l.finish(diagnostics: &diagnostics)
            if let name, let index {
                out.append(
                    PagingLevel(
                        name: name.value, index: index.value, entryLayout: entry, leafWhen: leafWhen,
                        reserved: reserved,
                        leafReserved: leafReserved, tableReserved: tableReserved, leafAddress: pieces,
                        loadedWithRoot: loaded, location: item.location))
            }
        }
        return out
    }

    func decodeReserved(_ v: YAMLNode, diagnostics: inout DiagnosticCollector) -> [ReservedBits] {
        var out: [ReservedBits] = []
        for item in v.items ?? [v] {
            if let s = item.scalar {
                if s == "above-maxphyaddr" {
                    out.append(ReservedBits(bits: .aboveMaxPhysicalAddress, when: nil, location: item.location))
                } else if SpecScalar.parseBitRange(s) != nil {
                    if let r = MappingReader.bitRange(
                        item, key: "reserved", width: 64, container: "a 64-bit entry", diagnostics: &diagnostics)
                    {
                        out.append(ReservedBits(bits: .range(r.value), when: nil, location: item.location))
                    }
                } else {
                    out.append(ReservedBits(bits: .field(s), when: nil, location: item.location))
                }
                continue
            }
            guard var m = MappingReader(item, what: "a reserved-bits item", diagnostics: &diagnostics) else { continue }
            var bits: ReservedBits.Bits?
            if let f = m.string("field", diagnostics: &diagnostics) { bits = .field(f.value) }
            if let b = m.bitRange("bits", width: 64, container: "a 64-bit entry", diagnostics: &diagnostics) {
                bits = .range(b.value)
            }
            if let a = m.boolean("above-maxphyaddr", diagnostics: &diagnostics), a.value {
                bits = .aboveMaxPhysicalAddress
            }
            let when = m.rule("when", diagnostics: &diagnostics)
            m.finish(diagnostics: &diagnostics)
            guard let bits else {
                diagnostics.error("a reserved-bits item needs 'field', 'bits' or 'above-maxphyaddr'", at: item.location)
                continue
            }
            out.append(ReservedBits(bits: bits, when: when, location: item.location))
        }
        return out
    }

    func decodeRights(_ v: YAMLNode, diagnostics: inout DiagnosticCollector) -> [RightRule] {
        guard let pairs = mapping(v, what: "'rights'", &diagnostics) else { return [] }
        var out: [RightRule] = []
        for pair in pairs {
            guard var m = MappingReader(pair.value, what: "right '\(pair.key)'", diagnostics: &diagnostics) else {
                continue
            }
            let all = m.string("all", diagnostics: &diagnostics)
            let none = m.string("none", diagnostics: &diagnostics)
            m.finish(diagnostics: &diagnostics)
            switch (all, none) {
            case let (a?, nil):
                out.append(RightRule(name: pair.key, fold: .all, field: a.value, location: pair.keyLocation))
            case let (nil, n?):
                out.append(RightRule(name: pair.key, fold: .none, field: n.value, location: pair.keyLocation))
            default:
                diagnostics.error(
                    "right '\(pair.key)' needs exactly one of 'all: FIELD' or 'none: FIELD'", at: pair.keyLocation)
            }
        }
        return out
    }

    func decodeFaults(_ v: YAMLNode, diagnostics: inout DiagnosticCollector) -> [FaultRule] {
        guard let items = v.items else {
            diagnostics.error("'faults' must be a sequence of fault rules, not \(v.shapeName)", at: v.location)
            return []
        }
        var out: [FaultRule] = []
        for item in items {
            guard var m = MappingReader(item, what: "a fault rule", diagnostics: &diagnostics) else { continue }
            let when = m.rule("when", required: true, diagnostics: &diagnostics)
            let sets = m.strings("sets", diagnostics: &diagnostics)?.map(\.value) ?? []
            let why = m.string("why", diagnostics: &diagnostics)?.value ?? ""
            m.finish(diagnostics: &diagnostics)
            if let when { out.append(FaultRule(when: when, sets: sets, why: why, location: item.location)) }
        }
        return out
    }

    func decodeReport(_ v: YAMLNode, diagnostics: inout DiagnosticCollector) -> FaultReport? {
        guard var m = MappingReader(v, what: "'report'", diagnostics: &diagnostics) else { return nil }
        let register = m.string("register", required: true, diagnostics: &diagnostics)
        var flags: [(String, Rule)] = []
        var flagLocations: [String: SourceLocation] = [:]
        if let fv = m.value("flags") {
            if let pairs = mapping(fv, what: "'flags'", &diagnostics) {
                for pair in pairs {
                    flagLocations[pair.key] = pair.keyLocation
                    if let r = MappingReader.rule(pair.value, key: pair.key, diagnostics: &diagnostics) {
                        flags.append((pair.key, r))
                    }
                }
            }
        } else {
            m.reportMissing("flags", diagnostics: &diagnostics)
        }
        m.finish(diagnostics: &diagnostics)
        guard let register else { return nil }
        return FaultReport(register: register, flags: flags, location: v.location, flagLocations: flagLocations)
    }

    /// Applies `extends` (child keys replace the parent's; `levels-above` prepends levels) and
    /// reports cycles, unknown parents and missing required keys.
    func resolveFormats(_ raws: [RawPagingFormat], diagnostics: inout DiagnosticCollector) -> [PagingFormat] {
        let byName = Dictionary(raws.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [PagingFormat] = []
        for raw in raws {
            var chain: [RawPagingFormat] = [raw]
            var seen: Set<String> = [raw.name]
            var current = raw
            var broken = false
            while let parent = current.extends {
                guard let p = byName[parent.value] else {
                    var message = "paging format '\(current.name)' extends unknown format '\(parent.value)'"
                    let others = byName.keys.filter { $0 != current.name }
                    if let g = Spelling.nearest(to: parent.value, among: others) {
                        message += " (did you mean '\(g)'?)"
                    }
                    // A parent in a file that did not parse is not known to be missing.
                    let notes = unreadableFiles.map {
                        Diagnostic.Note("\($0) could not be read and may define it", at: nil)
                    }
                    if current.name == raw.name { diagnostics.error(message, at: parent.location, notes: notes) }
                    broken = true
                    break
                }
                if seen.contains(p.name) {
                    if current.name == raw.name || p.name == raw.name {
                        diagnostics.error(
                            "'extends' cycle: \((chain.map(\.name) + [p.name]).joined(separator: " → "))",
                            at: raw.extends?.location ?? raw.location)
                    }
                    broken = true
                    break
                }
                seen.insert(p.name)
                chain.append(p)
                current = p
            }
            if broken { continue }
            // Merge from the root ancestor down.
            var merged = chain[chain.count - 1]
            var levelsAbove: [PagingLevel] = merged.levelsAbove ?? []
            for child in chain.dropLast().reversed() {
                merged.name = child.name
                merged.location = child.location
                merged.file = child.file
                merged.title = child.title ?? merged.title
                merged.source = child.source ?? merged.source
                merged.family = child.family ?? merged.family
                merged.enabledWhen = child.enabledWhen ?? merged.enabledWhen
                merged.addressBits = child.addressBits ?? merged.addressBits
                merged.canonical = child.canonical ?? merged.canonical
                merged.physicalAddressLimit = child.physicalAddressLimit ?? merged.physicalAddressLimit
                merged.entry = child.entry ?? merged.entry
                merged.root = child.root ?? merged.root
                if let l = child.levels {
                    merged.levels = l
                    levelsAbove = []
                }
                if let above = child.levelsAbove { levelsAbove = above + levelsAbove }
                merged.present = child.present ?? merged.present
                merged.reserved = child.reserved ?? merged.reserved
                merged.misconfigured = child.misconfigured ?? merged.misconfigured
                merged.leafMisconfigured = child.leafMisconfigured ?? merged.leafMisconfigured
                merged.rights = child.rights ?? merged.rights
                merged.faults = child.faults ?? merged.faults
                merged.report = child.report ?? merged.report
                merged.accessedDirtyWhen = child.accessedDirtyWhen ?? merged.accessedDirtyWhen
                merged.protectionKeys = child.protectionKeys ?? merged.protectionKeys
                merged.rootChecks = child.rootChecks ?? merged.rootChecks
                merged.rootReserved = child.rootReserved ?? merged.rootReserved
                merged.tlb = child.tlb ?? merged.tlb
            }
            if chain.count == 1 { levelsAbove = raw.levelsAbove ?? [] }
            if chain.count == 1, raw.levelsAbove != nil {
                diagnostics.error(
                    "'levels-above' needs 'extends': it adds levels above the parent format's",
                    at: raw.levelsAboveLocation ?? raw.location)
                levelsAbove = []
            }
            let written = chain.reduce(into: Set<String>()) { $0.formUnion($1.writtenKeys) }
            var missing: [String] = []
            if merged.addressBits == nil { missing.append("address-bits") }
            if merged.entry == nil { missing.append("entry") }
            if merged.root == nil { missing.append("root") }
            if merged.levels == nil { missing.append("levels") }
            if merged.present == nil { missing.append("present") }
            if merged.report == nil { missing.append("report") }
            // A key that was written but did not decode has been reported where it was written.
            if missing.contains(where: { written.contains($0) }) { continue }
            if !missing.isEmpty {
                diagnostics.error(
                    "paging format '\(raw.name)' is missing required key\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", "))",
                    at: raw.location)
                continue
            }
            guard let addressBits = merged.addressBits, let entry = merged.entry, let root = merged.root,
                let levels = merged.levels, let present = merged.present, let report = merged.report
            else { continue }
            out.append(
                PagingFormat(
                    name: raw.name, title: merged.title ?? raw.name, family: merged.family ?? .guest,
                    extends: raw.extends,
                    enabledWhen: merged.enabledWhen, addressBits: addressBits, canonical: merged.canonical ?? false,
                    physicalAddressLimit: merged.physicalAddressLimit, entryLayout: entry.value,
                    entryLocation: entry.location,
                    root: root,
                    levels: levelsAbove + levels, present: present, reserved: merged.reserved ?? [],
                    misconfigured: merged.misconfigured ?? [], leafMisconfigured: merged.leafMisconfigured ?? [],
                    rights: merged.rights ?? [], faults: merged.faults ?? [], report: report,
                    accessedDirtyWhen: merged.accessedDirtyWhen, protectionKeys: merged.protectionKeys,
                    rootChecks: merged.rootChecks ?? [], rootReserved: merged.rootReserved ?? [], tlb: merged.tlb,
                    source: merged.source ?? "", location: raw.location, files: chain.map(\.file)))
        }
        return out
    }
}
