extension SpecDecoder {
    mutating func decodeCPUModel(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard var m = MappingReader(node, what: "a CPU model", diagnostics: &diagnostics) else { return }
        guard let name = m.string("cpu-model", required: true, diagnostics: &diagnostics) else { return }
        var locations: [String: SourceLocation] = ["cpu-model": name.location]
        func note<T: Sendable>(_ key: String, _ v: Located<T>?) -> Located<T>? {
            if let v { locations[key] = v.location }
            return v
        }
        let title = note("title", m.string("title", diagnostics: &diagnostics))?.value ?? name.value
        let source = note("source", m.string("source", required: true, diagnostics: &diagnostics))?.value ?? ""
        let vendor = note("vendor", m.string("vendor", required: true, diagnostics: &diagnostics))
        if let vendor, vendor.value.isEmpty {
            diagnostics.error("CPU model '\(name.value)' has an empty vendor", at: vendor.location)
        }
        let family = note("family", m.integer("family", required: true, in: 0...0x10F, diagnostics: &diagnostics))
        let model = note("model", m.integer("model", required: true, in: 0...0xFF, diagnostics: &diagnostics))
        let stepping = note("stepping", m.integer("stepping", required: true, in: 0...0xF, diagnostics: &diagnostics))
        let phys = note("maxphyaddr", m.integer("maxphyaddr", required: true, in: 32...52, diagnostics: &diagnostics))
        let linear = note(
            "linear-address-bits",
            m.integer("linear-address-bits", required: true, in: 32...64, diagnostics: &diagnostics))
        if let v = m.value("features") { locations["features"] = v.location }
        let features = m.strings("features", diagnostics: &diagnostics) ?? []
        if !m.has("features") {
            diagnostics.error("CPU model '\(name.value)' is missing required key 'features'", at: name.location)
        }
        var caps = VMXCapabilities()
        if let v = m.value("vmx"), var x = MappingReader(v, what: "'vmx'", diagnostics: &diagnostics) {
            locations["vmx"] = v.location
            if let lv = x.value("ept-page-walk-lengths") {
                locations["vmx.ept-page-walk-lengths"] = lv.location
                for item in lv.items ?? [lv] {
                    guard
                        let n = MappingReader.integer(
                            item, key: "ept-page-walk-lengths", in: 4...5, diagnostics: &diagnostics)
                    else { continue }
                    if caps.eptPageWalkLengths.contains(Int(n.value)) {
                        diagnostics.error("EPT page-walk length \(n.value) is listed twice", at: n.location)
                    } else {
                        caps.eptPageWalkLengths.append(Int(n.value))
                    }
                }
            }
            func flag(_ key: String, _ x: inout MappingReader, _ d: inout DiagnosticCollector) -> Bool {
                let b = x.boolean(key, diagnostics: &d)
                if let b { locations["vmx." + key] = b.location }
                return b?.value ?? false
            }
            caps.executeOnly = flag("ept-execute-only", &x, &diagnostics)
            caps.pages2M = flag("ept-2m-pages", &x, &diagnostics)
            caps.pages1G = flag("ept-1g-pages", &x, &diagnostics)
            caps.accessedDirty = flag("ept-accessed-dirty", &x, &diagnostics)
            caps.advancedExitInfo = flag("ept-advanced-exit-info", &x, &diagnostics)
            caps.modeBasedExecute = flag("mode-based-execute", &x, &diagnostics)
            if let mv = x.value("ept-memory-types") { locations["vmx.ept-memory-types"] = mv.location }
            if let mt = x.strings("ept-memory-types", diagnostics: &diagnostics) {
                for t in mt {
                    if !["UC", "WB"].contains(t.value) {
                        diagnostics.error("EPTP memory type '\(t.value)' is not UC or WB", at: t.location)
                    } else if caps.memoryTypes.contains(t.value) {
                        diagnostics.error("EPTP memory type '\(t.value)' is listed twice", at: t.location)
                    } else {
                        caps.memoryTypes.append(t.value)
                    }
                }
            }
            x.finish(diagnostics: &diagnostics)
        }
        m.finish(diagnostics: &diagnostics)
        guard let vendor, let family, let model, let stepping, let phys, let linear else { return }
        cpuModels.append(
            CPUModel(
                name: name.value, title: title, vendor: vendor.value, family: Int(family.value),
                model: Int(model.value),
                stepping: Int(stepping.value), maxPhysicalAddressBits: Located(Int(phys.value), at: phys.location),
                linearAddressBits: Located(Int(linear.value), at: linear.location),
                features: features.sorted { $0.value < $1.value }, vmx: caps, source: source, location: name.location,
                locations: locations))
    }

    mutating func decodeVMX(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard var m = MappingReader(node, what: "'vmx'", diagnostics: &diagnostics) else { return }
        let layout = m.string("exit-reason-layout", required: true, diagnostics: &diagnostics)
        var reasons: [VMXSpec.ExitReason] = []
        if let rv = m.value("exit-reasons") {
            for item in rv.items ?? [] {
                guard var r = MappingReader(item, what: "an exit reason", diagnostics: &diagnostics) else { continue }
                let number = r.integer("number", required: true, in: 0...0xFFFF, diagnostics: &diagnostics)
                let name = r.string("name", required: true, diagnostics: &diagnostics)
                let linux = r.string("linux", diagnostics: &diagnostics)?.value
                let qual = r.string("qualification", diagnostics: &diagnostics)?.value
                r.finish(diagnostics: &diagnostics)
                if let number, let name {
                    reasons.append(
                        .init(
                            number: Int(number.value), name: name.value, linuxName: linux,
                            qualification: qual, location: item.location))
                }
            }
            if rv.items == nil { diagnostics.error("'exit-reasons' must be a sequence", at: rv.location) }
        }
        m.finish(diagnostics: &diagnostics)
        var byNumber: [Int: SourceLocation] = [:]
        var byName: [String: SourceLocation] = [:]
        for r in reasons {
            if let first = byNumber[r.number] {
                diagnostics.error(
                    "duplicate exit reason number \(r.number)", at: r.location,
                    notes: [.init("first used here", at: first)])
            }
            if let first = byName[r.name] {
                diagnostics.error(
                    "duplicate exit reason '\(r.name)'", at: r.location,
                    notes: [.init("first defined here", at: first)])
            }
            byNumber[r.number] = byNumber[r.number] ?? r.location
            byName[r.name] = byName[r.name] ?? r.location
        }
        guard let layout else { return }
        vmx.append(
            VMXSpec(
                exitReasonLayout: layout, exitReasons: reasons.sorted { $0.number < $1.number },
                location: node.location))
    }

    mutating func decodeMigration(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard var m = MappingReader(node, what: "'migration'", diagnostics: &diagnostics) else { return }
        var keys: [String: SourceLocation] = [:]
        func newKey(_ key: String, at location: SourceLocation, _ d: inout DiagnosticCollector) {
            if let first = keys[key] {
                d.error(
                    "state key '\(key)' is defined twice", at: location, notes: [.init("first defined here", at: first)]
                )
            }
            keys[key] = keys[key] ?? location
        }
        var regs: [MigrationSpec.CanonicalRegister] = []
        if let cv = m.value("canonical-registers"), let pairs = mapping(cv, what: "'canonical-registers'", &diagnostics)
        {
            for pair in pairs {
                guard var r = MappingReader(pair.value, what: "'\(pair.key)'", diagnostics: &diagnostics) else {
                    continue
                }
                let name = r.string("register", required: true, diagnostics: &diagnostics)
                let width = r.string("width", required: true, diagnostics: &diagnostics)
                let outcome = r.string("non-canonical", required: true, diagnostics: &diagnostics)
                r.finish(diagnostics: &diagnostics)
                let w = width.flatMap { MigrationSpec.Width(rawValue: $0.value) }
                if let width, w == nil {
                    diagnostics.error(
                        "unknown canonical width '\(width.value)'; expected static or paging", at: width.location)
                }
                let o = outcome.flatMap { MigrationSpec.Outcome(rawValue: $0.value) }
                if let outcome, o == nil {
                    diagnostics.error(
                        "unknown outcome '\(outcome.value)'; expected refused or truncated", at: outcome.location)
                }
                newKey(pair.key, at: pair.keyLocation, &diagnostics)
                if let name, let w, let o {
                    regs.append(
                        .init(stateKey: pair.key, name: name.value, width: w, outcome: o, location: pair.keyLocation))
                }
            }
        }
        var state: [MigrationSpec.StateRegister] = []
        if let sv = m.value("state-registers"), let pairs = mapping(sv, what: "'state-registers'", &diagnostics) {
            for pair in pairs {
                newKey(pair.key, at: pair.keyLocation, &diagnostics)
                if let s = pair.value.scalar {
                    state.append(.init(key: pair.key, register: s, location: pair.value.location))
                } else {
                    diagnostics.error("'\(pair.key)' must name a register", at: pair.value.location)
                }
            }
        }
        var widths: [MigrationSpec.WidthRule] = []
        if let wv = m.value("widths-must-not-shrink"),
            let pairs = mapping(wv, what: "'widths-must-not-shrink'", &diagnostics)
        {
            for pair in pairs {
                guard let s = pair.value.scalar else {
                    diagnostics.error("'\(pair.key)' must name a CPU-model width", at: pair.value.location)
                    continue
                }
                if !CPUModel.widthKeys.contains(s) {
                    diagnostics.error(
                        "unknown CPU-model width '\(s)'; expected \(CPUModel.widthKeys.joined(separator: " or "))",
                        at: pair.value.location)
                    continue
                }
                widths.append(.init(id: pair.key, property: s, location: pair.keyLocation))
            }
        }
        let gated = m.strings("gated-registers", diagnostics: &diagnostics) ?? []
        let wide = m.string("wide-linear-feature", required: true, diagnostics: &diagnostics)
        let narrow = m.integer("narrow-linear-bits", required: true, in: 32...64, diagnostics: &diagnostics)
        let wideBits = m.integer("wide-linear-bits", required: true, in: 32...64, diagnostics: &diagnostics)
        m.finish(diagnostics: &diagnostics)
        if let narrow, let wideBits, narrow.value >= wideBits.value {
            diagnostics.error(
                "'narrow-linear-bits' (\(narrow.value)) must be smaller than 'wide-linear-bits' (\(wideBits.value))",
                at: narrow.location)
        }
        guard let wide, let narrow, let wideBits else { return }
        migration.append(
            MigrationSpec(
                canonicalRegisters: regs, stateRegisters: state, widths: widths, gatedRegisters: gated,
                wideLinearFeature: wide, linearWidths: (Int(narrow.value), Int(wideBits.value)),
                location: node.location))
    }
}
