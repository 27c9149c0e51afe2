import ArgumentParser
import Foundation
import MigrationCheck
import SpecParser

/// `specc migrate …`: live-migration safety checks.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Live-migration safety checks.", subcommands: [MigrateCheck.self])
}

/// `specc migrate check --guest-cpu MODEL --from HOST --to HOST [--state STATE.json] [--format text|json]`.
///
/// Exit status: 0 safe (warnings allowed), 1 at least one hazard, 2 input error. Every input
/// problem (a missing option, an unknown model, an unreadable or malformed state) exits 2 with a
/// message naming it, so the options are checked here rather than by the argument parser.
struct MigrateCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Is it safe to live-migrate a guest of model --guest-cpu from host --from to host --to?",
        discussion: "Exit status: 0 safe (warnings allowed), 1 at least one hazard, 2 input error.")
    @Option(name: .customLong("guest-cpu"), help: "The model the guest sees (required).") var guestCPU: String?
    @Option(help: "The source host's model (required).") var from: String?
    @Option(help: "The destination host's model (required).") var to: String?
    @Option(help: "A JSON object of guest register values as hex strings.") var state: String?
    @Option(help: "Output format: text or json.") var format: String = "text"
    @Option(name: .customLong("specs"), help: "Spec files or directories (default: specs/).") var specPaths: [String] =
        []

    func run() throws {
        let specs: SpecSet
        do {
            specs = try DefaultSpecs.load(specPaths)
        } catch {
            printError("error: the specs have errors (run `specc check`)")
            throw ExitCode(2)
        }
        let report = try reportingInputErrors { () throws -> MigrationReport in
            guard let output = OutputFormat(rawValue: format) else {
                throw InputError("unknown format '\(format)'; expected text or json")
            }
            _ = output
            let missing = [("--guest-cpu", guestCPU), ("--from", from), ("--to", to)].filter { $0.1 == nil }.map(\.0)
            guard missing.isEmpty, let guestCPU, let from, let to else {
                throw InputError(
                    "missing \(missing.joined(separator: ", ")): name the guest's model and both hosts' models")
            }
            let guest = CPUModelDescription(try specs.requireCPUModel(guestCPU))
            let source = CPUModelDescription(try specs.requireCPUModel(from))
            let destination = CPUModelDescription(try specs.requireCPUModel(to))
            var snapshot: GuestState?
            if let state {
                let data: Data
                do {
                    data = try Data(contentsOf: URL(fileURLWithPath: state))
                } catch {
                    throw InputError("cannot read state file \(state): \(error.localizedDescription)")
                }
                do {
                    snapshot = try GuestState.parse(data, specs: specs)
                } catch let e as InputError {
                    throw InputError("state file \(state): \(e.message)")
                }
            }
            return try MigrationChecker(specs: specs).check(
                guest: guest, from: source, to: destination, state: snapshot)
        }
        print(format == "json" ? report.json.compact : report.text)
        if !report.migratable { throw ExitCode(1) }
    }
}
