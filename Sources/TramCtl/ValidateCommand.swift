import ArgumentParser
import TramConfig
import TramConfigFiles

/// `tramctl validate`: check agent files and profiles, every problem in one pass.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check agent files and device profiles; report every problem as file:line:column.")

    @Argument(help: "Agent files or profiles (Devices/<vendor>/<model>.yaml).")
    var files: [String]

    @Option(help: "Where profile references are looked up, if the agent file has no 'profiles:' key.")
    var profiles: String?

    func run() throws {
        let loader = DeviceMapLoader(source: FileConfigSource())
        var failed = false
        for file in files {
            if loader.isProfile(file) {
                let result = loader.loadProfile(file)
                result.diagnostics.forEach { print($0) }
                failed = failed || result.hasErrors
                if let profile = result.value {
                    print("\(file): ok: profile \(profile.vendor) \(profile.model), \(profile.points.count) points")
                }
            } else {
                let result = loader.loadAgent(file, profilesDirectory: profiles)
                result.diagnostics.forEach { print($0) }
                failed = failed || result.hasErrors
                if let config = result.value {
                    let points = config.devices.reduce(0) { $0 + $1.points.count }
                    print(
                        "\(file): ok: gateway \(config.gateway.id), \(config.links.count) links, \(config.devices.count) devices, \(points) points"
                    )
                }
            }
        }
        if failed { throw ExitCode(1) }
    }
}
