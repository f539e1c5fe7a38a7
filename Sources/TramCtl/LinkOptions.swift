import ArgumentParser
import TramConfig

/// How to reach a device from the command line, mbpoll-style.
struct LinkOptions: ParsableArguments {
    @Option(name: .long, help: "Link URL: tcp://host:port, rtu:///dev/ttyUSB0 or rtu+tcp://host:port.")
    var link: String

    @Option(
        name: .customLong("socket"),
        help: "When the running agent holds the serial port, read through its control socket, between its poll cycles.")
    var socket: String = AgentClient.defaultSocket

    /// The old name of `--socket`, still accepted.
    @Option(name: .customLong("agent-socket"), help: .hidden)
    var agentSocketAlias: String?

    /// The running agent's control socket.
    var agentSocket: String { agentSocketAlias ?? socket }

    @Option(help: "Serial baud rate (rtu:// only).")
    var baud: Int = 9600

    @Option(help: "Serial parity: none, even or odd.")
    var parity: String = "none"

    @Option(name: .customLong("data-bits"), help: "Serial data bits.")
    var dataBits: Int = 8

    @Option(name: .customLong("stop-bits"), help: "Serial stop bits.")
    var stopBits: Int = 1

    @Option(help: "Response timeout, e.g. 500ms or 2s (default 1s; scan: 100ms).")
    var timeout: String?

    /// - Parameter defaultTimeout: the verb's own default when `--timeout` is not given.
    func linkConfig(defaultTimeout: Duration = .seconds(1)) throws -> LinkConfig {
        var serial = SerialSettings()
        serial.baud = baud
        guard
            let parity = SerialSettings.Parity(rawValue: parity.lowercased())
                ?? ["n": .none, "e": .even, "o": .odd][parity.lowercased()]
        else {
            throw ValidationError("--parity must be none, even or odd")
        }
        serial.parity = parity
        serial.dataBits = dataBits
        serial.stopBits = stopBits
        let endpoint: LinkConfig.Endpoint
        switch LinkConfig.Endpoint.parse(link, serial: serial) {
        case .success(let parsed): endpoint = parsed
        case .failure(let error): throw ValidationError(error.message)
        }
        return LinkConfig(
            name: "cli", endpoint: endpoint,
            responseTimeout: try timeout.map { try CLIParsing.duration($0, option: "--timeout") } ?? defaultTimeout)
    }
}

enum CLIParsing {
    static func table(_ text: String) throws -> RegisterTable {
        guard let table = RegisterTable(rawValue: text) else {
            throw ValidationError("--table must be coil, discrete_input, input or holding")
        }
        return table
    }

    /// A comma-separated list, blanks dropped.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0.drop { $0 == " " }) }.filter { !$0.isEmpty }
    }

    static func duration(_ text: String, option: String) throws -> Duration {
        guard let value = DurationText.parse(text), value > .zero else {
            throw ValidationError("\(option) expects a duration such as 200ms or 2s, found '\(text)'")
        }
        return value
    }
}
