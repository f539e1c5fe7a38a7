/// `tram-agent`'s few flags, parsed by hand: swift-argument-parser would add about 7.6 MB (through
/// FoundationEssentials) to a binary that runs on gateways with little flash.
public struct AgentCommandLine: Equatable, Sendable {
    public enum Mode: Equatable, Sendable { case run, check, version, help }

    public var mode: Mode = .run
    public var configPath = "/etc/tram/agent.yaml"
    public var profilesDirectory: String?
    public var logLevel = "info"

    public static let usage = """
        usage: tram-agent [--config FILE] [--profiles DIR] [--log-level LEVEL] [--check] [--version]

          --config FILE      the agent file (default /etc/tram/agent.yaml)
          --profiles DIR     where profile references are looked up (default: Devices/ beside the agent file)
          --log-level LEVEL  trace, debug, info, notice, warning, error or critical (default info)
          --check            validate the config, print every problem, and exit (0: valid)
          --version          print the version and exit

        Signals: SIGTERM or SIGINT stop gracefully; SIGHUP reloads the config (an invalid one is reported and ignored).
        """

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init() {}

    public init(_ arguments: [String]) throws(Problem) {
        var index = 0
        func value(_ flag: String) throws(Problem) -> String {
            index += 1
            guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                throw Problem(description: "\(flag) needs a value")
            }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            let (flag, inline) = Self.split(argument)
            func take() throws(Problem) -> String {
                if let inline { return inline }
                return try value(flag)
            }
            switch flag {
            case "--config", "-c": configPath = try take()
            case "--profiles": profilesDirectory = try take()
            case "--log-level":
                logLevel = try take()
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                guard levels.contains(logLevel) else {
                    throw Problem(
                        description: "--log-level is '\(logLevel)'; expected one of \(levels.joined(separator: ", "))")
                }
            case "--check": mode = .check
            case "--version", "-V": mode = .version
            case "--help", "-h": mode = .help
            default: throw Problem(description: "unknown argument '\(argument)'")
            }
            index += 1
        }
    }

    /// `--flag=value` → (`--flag`, `value`).
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
