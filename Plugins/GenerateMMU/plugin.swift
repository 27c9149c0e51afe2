import Foundation
import PackagePlugin

/// Regenerates GeneratedMMU's Swift from `specs/` (symlinked into the target so that SwiftPM tracks
/// added, edited and removed specs). The tool writes a fixed set of files, only when they change.
@main
struct GenerateMMU: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        guard let module = target.sourceModule else { return [] }
        let specs = module.sourceFiles
            .filter { $0.url.pathExtension == "yaml" || $0.url.pathExtension == "yml" }
            .map(\.url)
            .sorted { $0.path < $1.path }
        let outputDirectory = context.pluginWorkDirectoryURL.appendingPathComponent("GeneratedSources")
        let outputs = ["GeneratedMMU+Registers.swift", "GeneratedMMU+Paging.swift"].map {
            outputDirectory.appendingPathComponent($0)
        }
        let tool = try context.tool(named: "specc-codegen")
        return [
            .buildCommand(
                displayName: "specc: generating GeneratedMMU from \(specs.count) specs",
                executable: tool.url,
                arguments: [outputDirectory.path] + specs.map(\.path),
                inputFiles: specs + [tool.url],
                outputFiles: outputs)
        ]
    }
}
