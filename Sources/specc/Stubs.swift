import ArgumentParser

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate Swift from specs.")
    func run() throws { throw ExitCode(2) }
}
