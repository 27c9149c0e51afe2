import ArgumentParser
import Foundation
import MigrationCheck
import SpecParser

/// `specc cpu …`: CPU models from `specs/cpus/`, their comparison and baseline, this machine's
/// CPUID, exports to Firecracker and QEMU, and imports of libvirt CPUID dumps.
struct CPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu", abstract: "CPU models: list, show, compare, baseline, probe, export, import.",
        subcommands: [
            CPUList.self, CPUShow.self, CPUCompare.self, CPUBaseline.self, CPUProbe.self, CPUExport.self,
            CPUImport.self,
        ])
}

/// Options every `cpu` subcommand shares.
struct SpecPathOptions: ParsableArguments {
    @Option(name: .customLong("specs"), help: "Spec files or directories (default: specs/).")
    var specPaths: [String] = []

    /// Loads the specs; prints the diagnostics and exits 1 when they have errors.
    func load() throws -> SpecSet { try DefaultSpecs.load(specPaths) }
}

/// Runs `body`, turning an ``InputError`` into a message on standard error and exit status 2.
func reportingInputErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as InputError {
        printError("error: \(e.message)")
        throw ExitCode(2)
    }
}

/// `specc cpu list`: one line a model.
struct CPUList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "One line a model: name, MAXPHYADDR, linear-address width, feature count.")
    @OptionGroup var specs: SpecPathOptions

    func run() throws {
        let s = try specs.load()
        let width = (s.cpuModels.map(\.name.count).max() ?? 0) + 2
        for m in s.cpuModels {
            let name = m.name.padding(toLength: width, withPad: " ", startingAt: 0)
            print(
                "\(name)maxphyaddr \(m.maxPhysicalAddressBits.value)  linear-address-bits \(m.linearAddressBits.value)  "
                    + "features \(m.features.count)  \(m.location.file)")
        }
    }
}

/// `specc cpu show MODEL`: everything the model says, each with the place it came from.
struct CPUShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Everything a model says, with the spec file:line:column of each value.")
    @OptionGroup var specs: SpecPathOptions
    @Argument(help: "The model (case-insensitive).") var model: String

    func run() throws {
        let s = try specs.load()
        let m = try reportingInputErrors { try s.requireCPUModel(model) }
        var rows: [(String, String)] = []
        func row(_ key: String, _ value: String, _ locationKey: String? = nil) {
            let at = m.locations[locationKey ?? key].map { "\($0)" } ?? ""
            rows.append(("\(key): \(value)", at))
        }
        row("cpu-model", m.name)
        row("title", m.title)
        row("source", m.source)
        row("vendor", m.vendor)
        row("family", "\(m.family)")
        row("model", "\(m.model)")
        row("stepping", "\(m.stepping)")
        row("maxphyaddr", "\(m.maxPhysicalAddressBits.value)")
        row("linear-address-bits", "\(m.linearAddressBits.value)")
        row("features", "\(m.features.count)")
        for f in m.features {
            let title = s.feature(f.value)?.title ?? ""
            rows.append(("  \(f.value)\(title.isEmpty ? "" : "  (\(title))")", "\(f.location)"))
        }
        row("vmx", m.vmx.isEmpty ? "none" : "")
        let v = m.vmx
        let vmxRows: [(String, String)] = [
            ("ept-page-walk-lengths", "[\(v.eptPageWalkLengths.map(String.init).joined(separator: ", "))]"),
            ("ept-execute-only", "\(v.executeOnly)"), ("ept-2m-pages", "\(v.pages2M)"),
            ("ept-1g-pages", "\(v.pages1G)"),
            ("ept-accessed-dirty", "\(v.accessedDirty)"), ("ept-advanced-exit-info", "\(v.advancedExitInfo)"),
            ("mode-based-execute", "\(v.modeBasedExecute)"),
            ("ept-memory-types", "[\(v.memoryTypes.joined(separator: ", "))]"),
        ]
        for (key, value) in vmxRows where m.locations["vmx." + key] != nil {
            row("  \(key)", value, "vmx." + key)
        }
        let width = min((rows.map(\.0.count).max() ?? 0) + 2, 72)
        for (text, at) in rows {
            print(
                at.isEmpty ? text : text.padding(toLength: max(width, text.count + 2), withPad: " ", startingAt: 0) + at
            )
        }
    }
}

/// `specc cpu compare GUEST HOST`: exit 0 when a guest of model GUEST fits on HOST, 1 when not.
struct CPUCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract:
            "Can a guest of model GUEST run on HOST? Prints what GUEST has that HOST lacks; exit 0 fits, 1 does not.")
    @OptionGroup var specs: SpecPathOptions
    @Argument(help: "The guest's model.") var guest: String
    @Argument(help: "The host's model.") var host: String
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text

    func run() throws {
        let s = try specs.load()
        let (g, h) = try reportingInputErrors { (try s.requireCPUModel(guest), try s.requireCPUModel(host)) }
        let c = ModelComparison(guest: CPUModelDescription(g), host: CPUModelDescription(h))
        print(format == .json ? c.json.compact : c.text)
        if !c.fits { throw ExitCode(1) }
    }
}

/// `specc cpu baseline MODEL MODEL… [--name NAME]`: the largest model all of them can run, as YAML.
struct CPUBaseline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract:
            "Print, as a cpu-model spec, the largest model that every named model can run, and the nearest named model."
    )
    @OptionGroup var specs: SpecPathOptions
    @Argument(help: "The models.") var models: [String]
    @Option(help: "Name of the baseline model.") var name: String = "Baseline"

    func run() throws {
        let s = try specs.load()
        let b = try reportingInputErrors { () throws -> Baseline in
            guard !models.isEmpty else { throw InputError("name at least one CPU model") }
            let inputs = try models.map { CPUModelDescription(try s.requireCPUModel($0)) }
            return try Baseline(of: inputs, name: name, candidates: s.cpuModels.map(CPUModelDescription.init))
        }
        if s.cpuModel(name) != nil {
            printError(
                "note: specs/ already define a model called \(name); saving this next to it would duplicate the name")
        }
        print(b.yaml, terminator: "")
    }
}

/// `specc cpu probe [--name NAME]`: this machine's CPUID as a model spec.
struct CPUProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Read CPUID on this machine and print it as a cpu-model spec.")
    @OptionGroup var specs: SpecPathOptions
    @Option(help: "Name of the model.") var name: String = "Host"

    func run() throws {
        let s = try specs.load()
        let m = try reportingInputErrors { try CPUIDProbe.model(specs: s, name: name) }
        print(
            CPUModelYAML.render(
                m,
                comments: [
                    "This machine's CPU, read by `specc cpu probe` with the CPUID instruction: the features of",
                    "specs/cpuid/features.yaml whose bit is set, and the widths of CPUID leaf 0x80000008.",
                ],
                vmxComments: [
                    "VMX capabilities are MSRs (IA32_VMX_EPT_VPID_CAP, secondary controls) that user space cannot",
                    "read, so the probe reports none.",
                ]), terminator: "")
    }
}

/// `specc cpu export MODEL --format firecracker|qemu`.
struct CPUExport: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case firecracker, qemu }
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print a model as a Firecracker custom CPU template (JSON) or a QEMU -cpu option string.")
    @OptionGroup var specs: SpecPathOptions
    @Argument(help: "The model.") var model: String
    @Option(help: "firecracker or qemu.") var format: Format

    func run() throws {
        let s = try specs.load()
        let m = CPUModelDescription(try reportingInputErrors { try s.requireCPUModel(model) })
        switch format {
        case .firecracker:
            print(FirecrackerTemplate.export(m, specs: s), terminator: "")
        case .qemu:
            let (option, omitted) = QEMUCPUOption.export(m)
            print(option)
            if !omitted.isEmpty {
                printError("note: QEMU has no property for: \(omitted.joined(separator: ", ")); left out")
            }
        }
    }
}

/// `specc cpu import FILE.xml [--name NAME]`: a libvirt CPUID dump as a model spec.
struct CPUImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Decode a libvirt CPUID dump (tests/cputestdata/x86_64-cpuid-*.xml) into a cpu-model spec.")
    @OptionGroup var specs: SpecPathOptions
    @Argument(help: "The libvirt cpudata XML file.") var file: String
    @Option(help: "Name of the model (default: from the file name).") var name: String?
    @Option(help: "The source: line (default: the file's path); name the repository, path and commit.")
    var source: String?

    static let vmxNote = [
        "VMX capabilities are MSRs (IA32_VMX_EPT_VPID_CAP, secondary controls), not CPUID: fill them in",
        "from a published source and cite it here.",
    ]

    func run() throws {
        let s = try specs.load()
        let yaml = try reportingInputErrors { () throws -> String in
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw InputError("cannot read \(file): \(error.localizedDescription)")
            }
            let data = try LibvirtCPUData.parse(text, file: file)
            let base = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            let modelName =
                name ?? (base.hasPrefix("x86_64-cpuid-") ? String(base.dropFirst("x86_64-cpuid-".count)) : base)
            let m = try CPUIDDecoder(specs: s).model(
                data, name: modelName, title: data.label ?? modelName, source: source ?? file)
            var command = "specc cpu import \(URL(fileURLWithPath: file).lastPathComponent)"
            if let name { command += " --name \(name)" }
            return CPUModelYAML.render(
                m,
                comments: [
                    "Generated by `\(command)`:",
                    "the features of specs/cpuid/features.yaml whose CPUID bit is set in the dump, and the",
                    "widths of its leaf 0x80000008.",
                ],
                vmxComments: Self.vmxNote)
        }
        print(yaml, terminator: "")
    }
}

/// Output format of commands with a machine-readable form.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }
