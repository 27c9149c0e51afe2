import ArgumentParser
import Foundation
import KVMConformance
import SpecParser
import WalkContract

/// `specc conformance`: checks the generated walker against an independent oracle.
struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Check the generated walker against hardware oracles (KVM on /dev/kvm).",
        subcommands: [KVMCommand.self, GenerateCasesCommand.self])
}

/// `specc conformance kvm FILE.jsonl`: runs each case on KVM and through the generated walker.
struct KVMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvm",
        abstract: "Run walk cases on /dev/kvm and through the generated walker; print each disagreement.",
        discussion: """
            Prints a line per disagreement, failed case, skipped case (with the reason) and known KVM \
            deviation (docs/conformance.md), then 'agree: N/M' over the cases compared. Exit status: 0 \
            when every compared case agrees, 1 otherwise, 2 when the command could not run (no usable \
            /dev/kvm, unreadable file).
            """)

    @Option(help: "Spec directory (default: specs/).")
    var specs: String?

    @Option(help: "The bound on one case's run on KVM, in milliseconds.")
    var timeoutMs = 2000

    @Flag(help: "Create a fresh VM for every case instead of reusing one.")
    var freshVM = false

    @Flag(help: "Print only disagreements, failures and the summary.")
    var quiet = false

    @Argument(help: "The case file (.jsonl, or .json for one case), or '-' for standard input.")
    var file: String

    func run() throws {
        let loaded = SpecLoader().load(paths: [specs ?? DefaultSpecs.path])
        guard let specSet = loaded.specs else {
            for d in loaded.diagnostics { printError(d.description) }
            throw ExitCode(2)
        }
        let data =
            file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
        guard let data else {
            printError("error: cannot read \(file)")
            throw ExitCode(2)
        }
        let runner: KVMRunner
        do {
            if let reason = KVMHost.unusableReason() { throw KVMError("/dev/kvm", errno: 0, detail: reason) }
            runner = try KVMRunner(
                specs: specSet, options: .init(timeoutMilliseconds: timeoutMs, reuseMachines: !freshVM))
        } catch {
            printError("error: KVM is not usable here: \(error)")
            throw ExitCode(2)
        }
        let checker = KVMConformance(specs: specSet, runner: runner)
        var tally = ConformanceTally()
        let start = Date()
        let lines = WalkRunner.cases(String(decoding: data, as: UTF8.self), singleJSON: file.hasSuffix(".json"))
        for (i, text) in lines.enumerated() {
            let report = checker.check(text, label: "line \(i + 1)")
            tally.add(report)
            guard let line = report.line else { continue }
            if quiet, case .skipped = report.verdict { continue }
            if quiet, case .deviation = report.verdict { continue }
            print(line)
        }
        for line in tally.summaryLines { print(line) }
        print(String(format: "time: %.2f s", Date().timeIntervalSince(start)))
        if !tally.allAgree { throw ExitCode(1) }
    }
}

/// `specc conformance generate`: writes generated walk cases, one JSON object a line.
struct GenerateCasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate walk cases: kvm-unit-tests access.c's flag sweep (sampled) and random page tables.")

    enum Style: String, ExpressibleByArgument, CaseIterable { case access, random, mixed }

    @Option(help: "Spec directory (default: specs/).")
    var specs: String?

    @Option(help: "How many cases.")
    var count = 1000

    @Option(help: "The seed: the same seed gives the same cases.")
    var seed: UInt64 = 1

    @Option(help: "access (access.c dimensions), random (random tables) or mixed.")
    var style: Style = .mixed

    @Option(
        help:
            "MAXPHYADDR values to pick from, comma-separated (default: 46,40,36, capped at the host's when KVM is usable)."
    )
    var maxphyaddr: String?

    @Flag(
        help: "Also generate 5-level (LA57) cases; by default they are generated only when KVM here accepts CR4.LA57.")
    var la57 = false

    func run() throws {
        let loaded = SpecLoader().load(paths: [specs ?? DefaultSpecs.path])
        guard let specSet = loaded.specs else {
            for d in loaded.diagnostics { printError(d.description) }
            throw ExitCode(2)
        }
        var levels = [4]
        var widths = [46, 40, 36]
        if let list = maxphyaddr {
            let parsed = list.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ (32...52).contains($0) }) else {
                printError("error: --maxphyaddr takes widths 32...52, comma-separated")
                throw ExitCode(2)
            }
            widths = parsed
        }
        if KVMHost.unusableReason() == nil, let runner = try? KVMRunner(specs: specSet) {
            if maxphyaddr == nil { widths = widths.map { min($0, runner.hostMaxPhysicalAddressBits) } }
            if la57 || runner.acceptsLA57 { levels.append(5) }
        } else if la57 {
            levels.append(5)
        }
        let styles: [CaseGenerator.Style] =
            style == .mixed ? CaseGenerator.Style.allCases : style == .access ? [.access] : [.random]
        let generator = try CaseGenerator(
            specs: specSet,
            options: .init(count: count, seed: seed, styles: styles, levels: levels, maxPhysicalAddressBits: widths))
        for line in generator.cases() { print(line) }
    }
}
