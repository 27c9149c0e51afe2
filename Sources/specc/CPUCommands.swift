import ArgumentParser

/// `specc cpu …`: CPU models (filled in by the CPU-model work).
struct CPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cpu", abstract: "CPU models: list, show, compare, baseline, probe, export, import.")
    func run() throws { throw ExitCode(2) }
}

/// `specc migrate check`.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Live-migration safety checks.")
    func run() throws { throw ExitCode(2) }
}
