extension SpecDecoder {
    mutating func decodeCPUModel(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard var m = MappingReader(node, what: "a CPU model", diagnostics: &diagnostics) else { return }
        guard let name = m.string("cpu-model", required: true, diagnostics: &diagnostics) else { return }
        let title = m.string("title", diagnostics: &diagnostics)?.value ?? name.value
        let source = m.string("source", required: true, diagnostics: &diagnostics)?.value ?? ""
        let vendor = m.string("vendor", required: true, diagnostics: &diagnostics)?.value ?? ""
        let family = m.integer("family", required: true, in: 0...0x10F, diagnostics: &diagnostics)
        let model = m.integer("model", required: true, in: 0...0xFF, diagnostics: &diagnostics)
        let stepping = m.integer("stepping", required: true, in: 0...0xF, diagnostics: &diagnostics)
        let phys = m.integer("maxphyaddr", required: true, in: 32...52, diagnostics: &diagnostics)
        let linear = m.integer("linear-address-bits", required: true, in: 32...64, diagnostics: &diagnostics)
        let features = m.strings("features", diagnostics: &diagnostics) ?? []
        if !m.has("features") { diagnostics.error("CPU model '\(name.value)' is missing required key 'features'", at: name.location) }
        var caps = VMXCapabilities()
        if let v = m.value("vmx"), var x = MappingReader(v, what: "'vmx'", diagnostics: &diagnostics) {
            if let lv = x.value("ept-page-walk-lengths") {
                for item in lv.items ?? [lv] {
                    if let n = MappingReader.integer(item, key: "ept-page-walk-lengths", in: 4...5, diagnostics: &diagnostics) {
                        caps.eptPageWalkLengths.append(Int(n.value))
                    }
                }
            }
            caps.executeOnly = x.boolean("ept-execute-only", diagnostics: &diagnostics)?.value ?? false
            caps.pages2M = x.boolean("ept-2m-pages", diagnostics: &diagnostics)?.value ?? false
            caps.pages1G = x.boolean("ept-1g-pages", diagnostics: &diagnostics)?.value ?? false
            caps.accessedDirty = x.boolean("ept-accessed-dirty", diagnostics: &diagnostics)?.value ?? false
            caps.advancedExitInfo = x.boolean("ept-advanced-exit-info", diagnostics: &diagnostics)?.value ?? false
            caps.modeBasedExecute = x.boolean("mode-based-execute", diagnostics: &diagnostics)?.value ?? false
            if let mt = x.strings("ept-memory-types", diagnostics: &diagnostics) {
                for t in mt where !["UC", "WB"].contains(t.value) {
                    diagnostics.error("EPTP memory type '\(t.value)' is not UC or WB", at: t.location)
                }
                caps.memoryTypes = mt.map(\.value)
            }
            x.finish(diagnostics: &diagnostics)
        }
        m.finish(diagnostics: &diagnostics)
        guard let family, let model, let stepping, let phys, let linear else { return }
        cpuModels.append(CPUModel(
            name: name.value, title: title, vendor: vendor, family: Int(family.value), model: Int(model.value),
            stepping: Int(stepping.value), maxPhysicalAddressBits: Located(Int(phys.value), at: phys.location),
            linearAddressBits: Located(Int(linear.value), at: linear.location),
            features: features.sorted { $0.value < $1.value }, vmx: caps, source: source, location: name.location))
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
                    reasons.append(.init(number: Int(number.value), name: name.value, linuxName: linux,
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
                diagnostics.error("duplicate exit reason number \(r.number)", at: r.location,
                                  notes: [.init("first used here", at: first)])
            }
            if let first = byName[r.name] {
                diagnostics.error("duplicate exit reason '\(r.name)'", at: r.location,
                                  notes: [.init("first defined here", at: first)])
            }
            byNumber[r.number] = byNumber[r.number] ?? r.location
            byName[r.name] = byName[r.name] ?? r.location
        }
        guard let layout else { return }
        vmx.append(VMXSpec(exitReasonLayout: layout, exitReasons: reasons.sorted { $0.number < $1.number },
                           location: node.location))
    }

    mutating func decodeMigration(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard var m = MappingReader(node, what: "'migration'", diagnostics: &diagnostics) else { return }
        var regs: [MigrationSpec.CanonicalRegister] = []
        if let cv = m.value("canonical-registers"), let pairs = mapping(cv, what: "'canonical-registers'", &diagnostics) {
            for pair in pairs {
                guard var r = MappingReader(pair.value, what: "'\(pair.key)'", diagnostics: &diagnostics) else { continue }
                let name = r.string("register", required: true, diagnostics: &diagnostics)
                let width = r.string("width", required: true, diagnostics: &diagnostics)
                let outcome = r.string("non-canonical", required: true, diagnostics: &diagnostics)
                r.finish(diagnostics: &diagnostics)
                let w = width.flatMap { MigrationSpec.Width(rawValue: $0.value) }
                if let width, w == nil {
                    diagnostics.error("unknown canonical width '\(width.value)'; expected static or paging", at: width.location)
                }
                let o = outcome.flatMap { MigrationSpec.Outcome(rawValue: $0.value) }
                if let outcome, o == nil {
                    diagnostics.error("unknown outcome '\(outcome.value)'; expected refused or truncated", at: outcome.location)
                }
                if let name, let w, let o {
                    regs.append(.init(stateKey: pair.key, name: name.value, width: w, outcome: o, location: pair.keyLocation))
                }
            }
        }
        var state: [(String, String)] = []
        if let sv = m.value("state-registers"), let pairs = mapping(sv, what: "'state-registers'", &diagnostics) {
            for pair in pairs {
                if let s = pair.value.scalar { state.append((pair.key, s)) } else {
                    diagnostics.error("'\(pair.key)' must name a register", at: pair.value.location)
                }
            }
        }
        var widths: [MigrationSpec.WidthRule] = []
        if let wv = m.value("widths-must-not-shrink"), let pairs = mapping(wv, what: "'widths-must-not-shrink'", &diagnostics) {
            for pair in pairs {
                if let s = pair.value.scalar {
                    if !["maxphyaddr", "linear-address-bits"].contains(s) {
                        diagnostics.error("unknown CPU-model width '\(s)'; expected maxphyaddr or linear-address-bits",
                                          at: pair.value.location)
                    }
                    widths.append(.init(id: pair.key, property: s, location: pair.keyLocation))
                }
            }
        }
        let gated = m.strings("gated-registers", diagnostics: &diagnostics)?.map(\.value) ?? []
        let wide = m.string("wide-linear-feature", required: true, diagnostics: &diagnostics)?.value ?? "la57"
        let narrow = m.integer("narrow-linear-bits", required: true, in: 32...64, diagnostics: &diagnostics)
        let wideBits = m.integer("wide-linear-bits", required: true, in: 32...64, diagnostics: &diagnostics)
        m.finish(diagnostics: &diagnostics)
        migration.append(MigrationSpec(
            canonicalRegisters: regs, stateRegisters: state, widths: widths, gatedRegisters: gated,
            wideLinearFeature: wide, linearWidths: (Int(narrow?.value ?? 48), Int(wideBits?.value ?? 57)),
            location: node.location))
    }
}
