import ArgumentParser
import Foundation
import SpecParser
import WalkContract

/// `specc walk`: runs walk cases (one JSON object, or JSON Lines) and prints one result a line.
struct WalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walk",
        abstract: "Translate addresses described as JSON walk cases and print what the hardware would do.",
        discussion: "FILE is a .json case, a .jsonl file with one case a line, or '-' for standard input.")

    enum Engine: String, ExpressibleByArgument { case generated, reference }

    @Option(help: "generated (the code built from specs/) or reference (the spec interpreter).")
    var engine: Engine = .generated

    @Flag(help: "Print a readable trace of each walk instead of JSON.")
    var explain = false

    @Option(help: "Spec directory (default: specs/).")
    var specs: String?

    @Argument(help: "The case file, or '-' for standard input.")
    var file: String

    func run() throws {
        let loaded = SpecLoader().load(paths: [specs ?? DefaultSpecs.path])
        guard let specSet = loaded.specs else {
            for d in loaded.diagnostics { printError(d.description) }
            throw ExitCode(2)
        }
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: file) else {
                printError("error: cannot read \(file)")
                throw ExitCode(2)
            }
            data = d
        }
        let text = String(decoding: data, as: UTF8.self)
        let runner: any WalkEngine =
            engine == .generated ? GeneratedEngine(specs: specSet) : ReferenceEngine(specs: specSet)
        var anyInvalid = false
        for line in WalkRunner.cases(text, singleJSON: file.hasSuffix(".json")) {
            let out = WalkRunner.run(line, specs: specSet, engine: runner, explain: explain)
            if out.result.result == "invalid" { anyInvalid = true }
            if explain {
                print("case \(out.result.id ?? "(no id)"):")
                for l in out.trace ?? [] { print("  " + l) }
                print("  => \(out.result.json)")
            } else {
                print(out.result.json)
            }
        }
        if anyInvalid { throw ExitCode(1) }
    }
}
