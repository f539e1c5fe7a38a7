import ArgumentParser
import TramConfig
import TramConfigFiles

/// The agent file a verb works on, and where its profile references are looked up.
struct AgentFileOptions: ParsableArguments {
    @Argument(help: "Agent file.")
    var config: String

    @Option(help: "Where profile references are looked up when the file has no 'profiles:' key (default: Devices/ beside it).")
    var profiles: String?

    /// The config, or an exit with every diagnostic printed.
    func load() throws -> AgentConfig {
        try ConfigLoading.agent(config, profiles: profiles)
    }
}

/// Loads an agent file or exits with its diagnostics.
enum ConfigLoading {
    static func agent(_ path: String, profiles: String?) throws -> AgentConfig {
        let result = DeviceMapLoader(source: FileConfigSource()).loadAgent(path, profilesDirectory: profiles)
        for diagnostic in result.diagnostics { print(diagnostic, to: &standardError) }
        guard let config = result.value else { throw ExitCode(1) }
        return config
    }
}
