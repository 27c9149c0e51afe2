import PackagePlugin

@main
struct GenerateMMU: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] { [] }
}
