import ArgumentParser

/// The technician's tool: read registers, scan a bus, check configs, watch a device.
@available(macOS 10.15, *)
public struct TramCtl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tramctl",
        abstract: "Tram's diagnostics tool for Modbus devices and device maps.",
        discussion: "Tram is read-only toward devices: no verb here writes to a device.",
        subcommands: [
            StatusCommand.self, TopCommand.self, TailCommand.self, UplinkCommand.self, ReadCommand.self,
            ScanCommand.self, PollCommand.self, ValidateCommand.self, PlanCommand.self, SimulateCommand.self,
            SunSpecCommand.self, DecodeCommand.self, SpoolCommand.self, WriteCommand.self,
        ]
    )

    public init() {}
}

extension TramCtl {
    /// Parses the command line and runs the chosen verb, async verbs included.
    /// (A top-level `TramCtl.main()` resolves to ArgumentParser's synchronous overload.)
    public static func runFromCommandLine() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
