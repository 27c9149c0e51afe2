/// Decodes node trees into the typed model, one file at a time, then resolves cross-file
/// references (`extends`) and runs validation in ``finish(diagnostics:)``.
struct SpecDecoder {
    var features: [CPUIDFeature] = []
    var cpuidFields: [CPUIDField] = []
    var registers: [RegisterSpec] = []
    var layouts: [EntryLayout] = []
    var rawFormats: [RawPagingFormat] = []
    var cpuModels: [CPUModel] = []
    var vmx: [VMXSpec] = []
    var migration: [MigrationSpec] = []
    var files: [String] = []
    /// Entry layouts that lost a field to an earlier error: checks that need every field (a field
    /// with role `address`) are skipped for them, so one mistake is reported once.
    var incompleteLayouts: Set<String> = []
    /// Spec files that could not be read or parsed, sorted: a definition they hold is unknown,
    /// not missing, and messages about unknown names say so.
    var unreadableFiles: [String] = []

    /// The top-level keys of a collection file (besides `source` and `title`).
    static let kindKeys = ["cpuid", "registers", "entry-layouts", "vmx", "migration"]

    mutating func decode(file: String, root: YAMLNode, diagnostics: inout DiagnosticCollector) {
        files.append(file)
        guard let pairs = root.pairs else {
            diagnostics.error(
                "a spec file must be a mapping (for example 'paging-format: NAME' or 'registers:'), not \(root.shapeName)",
                at: root.location)
            return
        }
        if pairs.contains(where: { $0.key == "paging-format" }) {
            decodePagingFormat(root, file: file, diagnostics: &diagnostics)
            return
        }
        if pairs.contains(where: { $0.key == "cpu-model" }) {
            decodeCPUModel(root, diagnostics: &diagnostics)
            return
        }
        guard var m = MappingReader(root, what: "a spec file", diagnostics: &diagnostics) else { return }
        m.accept(["source", "title"])
        if let v = m.value("cpuid") { decodeCPUID(v, diagnostics: &diagnostics) }
        if let v = m.value("registers") { decodeRegisters(v, diagnostics: &diagnostics) }
        if let v = m.value("entry-layouts") { decodeLayouts(v, diagnostics: &diagnostics) }
        if let v = m.value("vmx") { decodeVMX(v, diagnostics: &diagnostics) }
        if let v = m.value("migration") { decodeMigration(v, diagnostics: &diagnostics) }
        if !pairs.contains(where: { Self.kindKeys.contains($0.key) }) {
            let kinds = (["paging-format", "cpu-model"] + Self.kindKeys).joined(separator: ", ")
            guard let first = pairs.first(where: { $0.key != "source" && $0.key != "title" }) else {
                diagnostics.error("a spec file needs one of \(kinds)", at: root.location)
                return
            }
            var message = "unknown spec kind '\(first.key)': a spec file starts with one of \(kinds)"
            if let guess = Spelling.nearest(to: first.key, among: Self.kindKeys + ["paging-format", "cpu-model"]) {
                message += " (did you mean '\(guess)'?)"
            }
            diagnostics.error(message, at: first.keyLocation)
            return
        }
        m.finish(diagnostics: &diagnostics)
    }

    mutating func finish(diagnostics: inout DiagnosticCollector) -> SpecSet {
        var specs = SpecSet()
        specs.files = files.sorted()
        specs.features = uniqueByName(features, kind: "CPUID feature", name: \.name, location: \.location, &diagnostics)
        specs.cpuidFields = uniqueByName(
            cpuidFields, kind: "CPUID field", name: \.name, location: \.location, &diagnostics)
        specs.registers = uniqueByName(registers, kind: "register", name: \.name, location: \.location, &diagnostics)
        specs.layouts = uniqueByName(layouts, kind: "entry layout", name: \.name, location: \.location, &diagnostics)
        specs.cpuModels = uniqueByName(
            cpuModels, kind: "CPU model", name: { $0.name.lowercased() },
            location: \.location, &diagnostics)
        if vmx.count > 1 {
            diagnostics.error(
                "VMX exit reasons are defined twice", at: vmx[1].location,
                notes: [.init("first defined here", at: vmx[0].location)])
        }
        specs.vmx = vmx.first
        if migration.count > 1 {
            diagnostics.error(
                "migration rules are defined twice", at: migration[1].location,
                notes: [.init("first defined here", at: migration[0].location)])
        }
        specs.migration = migration.first
        let raws = uniqueByName(rawFormats, kind: "paging format", name: \.name, location: \.location, &diagnostics)
        specs.formats = resolveFormats(raws, diagnostics: &diagnostics)
        var validator = SpecValidator(specs: specs, incompleteLayouts: incompleteLayouts)
        validator.validate(diagnostics: &diagnostics)
        return specs
    }

    private func uniqueByName<T>(
        _ items: [T], kind: String, name: (T) -> String, location: (T) -> SourceLocation,
        _ diagnostics: inout DiagnosticCollector
    ) -> [T] {
        var first: [String: SourceLocation] = [:]
        var out: [T] = []
        for item in items.sorted(by: { location($0) < location($1) }) {
            let n = name(item)
            if let previous = first[n] {
                diagnostics.error(
                    "duplicate \(kind) '\(n)'", at: location(item),
                    notes: [.init("'\(n)' was first defined here", at: previous)])
                continue
            }
            first[n] = location(item)
            out.append(item)
        }
        return out.sorted { name($0) < name($1) }
    }
}

extension SpecDecoder {
    static let cpuidRegisters = ["eax", "ebx", "ecx", "edx"]

    mutating func decodeCPUID(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard var m = MappingReader(node, what: "'cpuid'", diagnostics: &diagnostics) else { return }
        if let f = m.value("features"), let pairs = mapping(f, what: "'features'", &diagnostics) {
            for pair in pairs {
                guard
                    var e = MappingReader(
                        pair.value, what: "feature '\(pair.key)'", anchor: pair.keyLocation, diagnostics: &diagnostics)
                else { continue }
                let leaf = e.integer("leaf", required: true, in: 0...0xFFFF_FFFF, diagnostics: &diagnostics)
                let subleaf = e.integer("subleaf", in: 0...0xFFFF_FFFF, diagnostics: &diagnostics)
                let register = cpuidRegister(&e, diagnostics: &diagnostics)
                let bit = e.bitRange(
                    "bit", width: 32, container: "a 32-bit CPUID register", required: true, diagnostics: &diagnostics)
                if let b = bit, b.value.width != 1 {
                    diagnostics.error("'bit' must be a single bit; use 'fields' for multi-bit values", at: b.location)
                }
                let title = e.string("title", diagnostics: &diagnostics)?.value ?? ""
                e.finish(diagnostics: &diagnostics)
                if let leaf, let register, let bit {
                    features.append(
                        CPUIDFeature(
                            name: pair.key, leaf: UInt32(leaf.value), subleaf: subleaf.map { UInt32($0.value) },
                            register: register, bit: bit.value.low, title: title, location: pair.keyLocation))
                }
            }
        }
        if let f = m.value("fields"), let pairs = mapping(f, what: "'fields'", &diagnostics) {
            for pair in pairs {
                guard
                    var e = MappingReader(
                        pair.value, what: "CPUID field '\(pair.key)'", anchor: pair.keyLocation,
                        diagnostics: &diagnostics)
                else { continue }
                let leaf = e.integer("leaf", required: true, in: 0...0xFFFF_FFFF, diagnostics: &diagnostics)
                let subleaf = e.integer("subleaf", in: 0...0xFFFF_FFFF, diagnostics: &diagnostics)
                let register = cpuidRegister(&e, diagnostics: &diagnostics)
                let bits = e.bitRange(
                    "bits", width: 32, container: "a 32-bit CPUID register", required: true, diagnostics: &diagnostics)
                let title = e.string("title", diagnostics: &diagnostics)?.value ?? ""
                e.finish(diagnostics: &diagnostics)
                if let leaf, let register, let bits {
                    cpuidFields.append(
                        CPUIDField(
                            name: pair.key, leaf: UInt32(leaf.value), subleaf: subleaf.map { UInt32($0.value) },
                            register: register, bits: bits.value, title: title, location: pair.keyLocation))
                }
            }
        }
        m.finish(diagnostics: &diagnostics)
    }

    private func cpuidRegister(_ e: inout MappingReader, diagnostics: inout DiagnosticCollector) -> String? {
        guard let r = e.string("register", required: true, diagnostics: &diagnostics) else { return nil }
        guard Self.cpuidRegisters.contains(r.value) else {
            var message = "unknown CPUID output register '\(r.value)'; expected eax, ebx, ecx or edx"
            if let g = Spelling.nearest(to: r.value, among: Self.cpuidRegisters) {
                message += " (did you mean '\(g)'?)"
            }
            diagnostics.error(message, at: r.location)
            return nil
        }
        return r.value
    }

    func mapping(_ node: YAMLNode, what: String, _ diagnostics: inout DiagnosticCollector) -> [YAMLNode.Pair]? {
        guard let pairs = node.pairs else {
            diagnostics.error("\(what) must be a mapping, not \(node.shapeName)", at: node.location)
            return nil
        }
        return pairs
    }

    mutating func decodeRegisters(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard let pairs = mapping(node, what: "'registers'", &diagnostics) else { return }
        for pair in pairs {
            guard
                var r = MappingReader(
                    pair.value, what: "register '\(pair.key)'", anchor: pair.keyLocation, diagnostics: &diagnostics)
            else { continue }
            let width = Int(r.integer("width", required: true, in: 1...64, diagnostics: &diagnostics)?.value ?? 64)
            let msr = r.integer("msr", in: 0...0xFFFF_FFFF, diagnostics: &diagnostics)
            let title = r.string("title", diagnostics: &diagnostics)?.value ?? ""
            let container = "the \(width)-bit register '\(pair.key)'"
            var reserved: [BitRange] = []
            if let rv = r.value("reserved") {
                for item in rv.items ?? [rv] {
                    if let b = MappingReader.bitRange(
                        item, key: "reserved", width: width, container: container, diagnostics: &diagnostics)
                    {
                        reserved.append(b.value)
                    }
                }
            }
            var fields: [RegisterField] = []
            if let fv = r.value("fields"), let fpairs = mapping(fv, what: "'fields'", &diagnostics) {
                for fp in fpairs {
                    guard
                        var f = MappingReader(
                            fp.value, what: "field '\(pair.key).\(fp.key)'", anchor: fp.keyLocation,
                            diagnostics: &diagnostics)
                    else { continue }
                    let bits = fieldBits(&f, width: width, container: container, diagnostics: &diagnostics)
                    let requires = f.string("requires", diagnostics: &diagnostics)
                    let ftitle = f.string("title", diagnostics: &diagnostics)?.value ?? ""
                    let overlaps = f.strings("overlaps", diagnostics: &diagnostics)?.map(\.value) ?? []
                    var values: [(String, UInt64)] = []
                    if let vv = f.value("values"), let vpairs = mapping(vv, what: "'values'", &diagnostics) {
                        for vp in vpairs {
                            guard let n = MappingReader.integer(vp.value, key: vp.key, diagnostics: &diagnostics)
                            else { continue }
                            if let bits, bits.width < 64, n.value >> UInt64(bits.width) != 0 {
                                diagnostics.error(
                                    "value '\(vp.key)' is \(n.value), too large for the \(bits.width)-bit field '\(fp.key)'",
                                    at: n.location)
                                continue
                            }
                            values.append((vp.key, n.value))
                        }
                    }
                    f.finish(diagnostics: &diagnostics)
                    if let bits {
                        fields.append(
                            RegisterField(
                                name: fp.key, bits: bits, requires: requires, title: ftitle, values: values,
                                overlaps: overlaps, location: fp.keyLocation))
                    }
                }
            }
            r.finish(diagnostics: &diagnostics)
            registers.append(
                RegisterSpec(
                    name: pair.key, title: title, width: width, msr: msr.map { UInt32($0.value) },
                    fields: fields.sorted { $0.bits < $1.bits }, reserved: reserved, location: pair.keyLocation))
        }
    }

    /// Reads `bit: N` or `bits: H:L` (exactly one of them) within `width` bits of `container`.
    func fieldBits(_ f: inout MappingReader, width: Int, container: String, diagnostics: inout DiagnosticCollector)
        -> BitRange?
    {
        let hasBit = f.has("bit")
        let hasBits = f.has("bits")
        if hasBit && hasBits {
            diagnostics.error(
                "\(f.what) has both 'bit' and 'bits'; give one", at: f.keyLocation("bits") ?? f.node.location)
            f.accept(["bit", "bits"])
            return nil
        }
        if !hasBit && !hasBits {
            f.accept(["bit", "bits"])
            diagnostics.error("\(f.what) needs 'bit' or 'bits'", at: f.anchor)
            return nil
        }
        let key = hasBit ? "bit" : "bits"
        guard let r = f.bitRange(key, width: width, container: container, diagnostics: &diagnostics) else { return nil }
        if hasBit && r.value.width != 1 {
            diagnostics.error("'bit' must be a single bit; write 'bits: \(r.value)' for a range", at: r.location)
        }
        return r.value
    }

    mutating func decodeLayouts(_ node: YAMLNode, diagnostics: inout DiagnosticCollector) {
        guard let pairs = mapping(node, what: "'entry-layouts'", &diagnostics) else { return }
        for pair in pairs {
            guard
                var l = MappingReader(
                    pair.value, what: "entry layout '\(pair.key)'", anchor: pair.keyLocation, diagnostics: &diagnostics)
            else { continue }
            let sizeNode = l.integer("size", required: true, diagnostics: &diagnostics)
            var size = 8
            if let s = sizeNode {
                if s.value == 4 || s.value == 8 {
                    size = Int(s.value)
                } else {
                    diagnostics.error("entry size must be 4 or 8 bytes, not \(s.value)", at: s.location)
                }
            }
            var fields: [EntryField] = []
            if let fv = l.value("fields"), let fpairs = mapping(fv, what: "'fields'", &diagnostics) {
                for fp in fpairs {
                    guard
                        var f = MappingReader(
                            fp.value, what: "field '\(pair.key).\(fp.key)'", anchor: fp.keyLocation,
                            diagnostics: &diagnostics)
                    else {
                        incompleteLayouts.insert(pair.key)
                        continue
                    }
                    let bits = fieldBits(
                        &f, width: size * 8, container: "the \(size * 8)-bit entry layout '\(pair.key)'",
                        diagnostics: &diagnostics)
                    var role: EntryFieldRole?
                    if let r = f.string("role", diagnostics: &diagnostics) {
                        role = EntryFieldRole(rawValue: r.value)
                        if role == nil {
                            let all = EntryFieldRole.allCases.map(\.rawValue)
                            var message =
                                "unknown field role '\(r.value)'; expected one of \(all.joined(separator: ", "))"
                            if let g = Spelling.nearest(to: r.value, among: all) {
                                message += " (did you mean '\(g)'?)"
                            }
                            diagnostics.error(message, at: r.location)
                            incompleteLayouts.insert(pair.key)
                        }
                    }
                    let title = f.string("title", diagnostics: &diagnostics)?.value ?? ""
                    f.finish(diagnostics: &diagnostics)
                    if let bits {
                        fields.append(
                            EntryField(name: fp.key, bits: bits, role: role, title: title, location: fp.keyLocation))
                    } else {
                        incompleteLayouts.insert(pair.key)
                    }
                }
            } else if !l.has("fields") {
                l.reportMissing("fields", diagnostics: &diagnostics)
            } else {
                incompleteLayouts.insert(pair.key)
            }
            l.finish(diagnostics: &diagnostics)
            layouts.append(
                EntryLayout(
                    name: pair.key, size: size, fields: fields.sorted { $0.bits < $1.bits },
                    location: pair.keyLocation))
        }
    }
}
