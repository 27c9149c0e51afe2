import ArgumentParser
import Foundation
import SpecParser

/// The `specc` command line: check specs, generate code, explain walks, compare CPU models and
/// check live-migration safety.
@main
struct Specc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "specc",
        abstract: "A declarative hardware-spec compiler: x86 paging, EPT, CPU models and migration checks from YAML.",
        subcommands: [
            CheckCommand.self, SchemaCommand.self, GenerateCommand.self, WalkCommand.self, SweepCommand.self,
            CPUCommand.self,
            MigrateCommand.self, ConformanceCommand.self,
        ]
    )
}

/// Where the specs are when no path is given: `specs/` in the current directory, else the
/// specs this binary was built from.
enum DefaultSpecs {
    static var path: String {
        if FileManager.default.fileExists(atPath: "specs") { return "specs" }
        let built = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("specs").path
        return FileManager.default.fileExists(atPath: built) ? built : "specs"
    }

    /// Loads the specs or exits with the diagnostics (status 1).
    static func load(_ paths: [String] = []) throws -> SpecSet {
        let result = SpecLoader().load(paths: paths.isEmpty ? [path] : paths)
        guard let specs = result.specs else {
            for d in result.diagnostics { FileHandle.standardError.write(Data((d.description + "\n").utf8)) }
            throw ExitCode(1)
        }
        return specs
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
