import ArgumentParser
import TramConfig
import TramConfigFiles

/// The agent file a verb works on, and where its profile references are looked up.
struct AgentFileOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "Agent file (as tram-agent --config takes it).")
    var configOption: String?

    @Argument(help: "Agent file, as an alternative to --config.")
    var configArgument: String?

    /// The agent file, named by `--config` or positionally.
    var config: String { configOption ?? configArgument ?? "" }

    mutating func validate() throws {
        switch (configOption, configArgument) {
        case (nil, nil): throw ValidationError("name the agent file: --config FILE (or as the first argument)")
        case (let option?, let argument?) where option != argument:
            throw ValidationError("two agent files: --config \(option) and \(argument); name one")
        default: break
        }
    }

    @Option(
        help:
            "Where profile references are looked up when the file has no 'profiles:' key (default: Devices/ beside it)."
    )
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

    /// The config, or nil, printing nothing (the caller loads it again, loudly, where it matters).
    static func agentQuietly(_ path: String, profiles: String?) -> AgentConfig? {
        DeviceMapLoader(source: FileConfigSource()).loadAgent(path, profilesDirectory: profiles).value
    }
}
