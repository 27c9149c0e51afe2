// specc-codegen: the build plugin's tool. Reads the specs, writes GeneratedMMU's Swift sources.
// Usage: specc-codegen OUTPUT_DIRECTORY SPEC_FILE...
// Spec problems go to standard error as file:line:column: error: …, with exit status 1.
import CodeGen
import Foundation
import SpecParser

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: specc-codegen OUTPUT_DIRECTORY SPEC_FILE...\n".utf8))
    exit(2)
}
let output = arguments[1]
let specFiles = Array(arguments.dropFirst(2))
let result = SpecLoader().load(paths: specFiles)
for d in result.diagnostics { FileHandle.standardError.write(Data((d.description + "\n").utf8)) }
guard let specs = result.specs else { exit(1) }

// Paths in comments are relative to the directory holding `specs/`.
var root = ""
if let first = specFiles.first, let r = first.range(of: "specs/") { root = String(first[..<r.lowerBound]) }

do {
    let files = try SwiftGenerator.generate(specs, pathRoot: root)
    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    for (name, text) in files.sorted(by: { $0.key < $1.key }) {
        let path = output + "/" + name
        // Write only when the bytes change, so an unchanged spec does not recompile GeneratedMMU.
        if let existing = FileManager.default.contents(atPath: path), existing == Data(text.utf8) { continue }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
