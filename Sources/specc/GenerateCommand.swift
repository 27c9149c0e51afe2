import ArgumentParser
import CodeGen
import Foundation
import SpecParser

/// `specc generate`: the code generator by hand — what the build plugin runs on every build.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate GeneratedMMU's Swift (register, feature and paging-format tables) from specs.",
        discussion:
            "The build plugin runs the same generator on every `swift build`; use this to inspect the output or to vendor it."
    )

    @Argument(help: "Spec files or directories (default: specs/).")
    var paths: [String] = []

    @Option(name: .shortAndLong, help: "Directory to write the files to; without it, the files are printed.")
    var output: String?

    func run() throws {
        let specs = try DefaultSpecs.load(paths)
        let root = FileManager.default.currentDirectoryPath + "/"
        let files: [String: String]
        do {
            files = try SwiftGenerator.generate(specs, pathRoot: root)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        guard let output else {
            for name in SwiftGenerator.outputNames { print(files[name] ?? "", terminator: "") }
            return
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        for name in SwiftGenerator.outputNames {
            let path = (output as NSString).appendingPathComponent(name)
            let data = Data((files[name] ?? "").utf8)
            if FileManager.default.contents(atPath: path) == data {
                print("\(path): unchanged")
                continue
            }
            try data.write(to: URL(fileURLWithPath: path))
            print("\(path): written (\(data.count) bytes)")
        }
    }
}
