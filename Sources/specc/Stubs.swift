import ArgumentParser

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schema", abstract: "Print a JSON Schema of the spec language.")
    func run() throws { throw ExitCode(2) }
}
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate Swift from specs.")
    func run() throws { throw ExitCode(2) }
}
