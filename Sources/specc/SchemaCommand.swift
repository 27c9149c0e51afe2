import ArgumentParser
import SpecParser

/// `specc schema`: prints the JSON Schema of the spec language (draft-07), for editors.
///
/// `docs/spec.schema.json` is this output, checked in; regenerate it with
/// `swift run specc schema > docs/spec.schema.json`.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print a JSON Schema of the spec language.",
        discussion: "Specs name it with '# yaml-language-server: $schema=../../docs/spec.schema.json'.")

    func run() throws {
        print(SpecSchema.jsonText, terminator: "")
    }
}
