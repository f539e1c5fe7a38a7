/// A physical or logical path to devices: a TCP endpoint, a serial bus, or a serial bus behind a TCP device server.
public struct LinkConfig: Sendable, Hashable {
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case rtu(device: String, serial: SerialSettings)
        /// RTU frames over a TCP socket (serial device servers in transparent mode).
        case rtuOverTCP(host: String, port: Int)

        public var description: String {
            switch self {
            case .tcp(let host, let port): "tcp://\(host):\(port)"
            case .rtu(let device, _): "rtu://\(device)"
            case .rtuOverTCP(let host, let port): "rtu+tcp://\(host):\(port)"
            }
        }

        /// A serial line (local or behind a device server) carries one request at a time for all its units.
        public var isSerialBus: Bool {
            if case .tcp = self { return false }
            return true
        }
    }

    public var name: String
    public var endpoint: Endpoint
    public var responseTimeout: Duration
    public var byteTimeout: Duration
    public var connectTimeout: Duration
    public var location: SourceLocation

    public init(
        name: String, endpoint: Endpoint, responseTimeout: Duration = .seconds(1),
        byteTimeout: Duration = .milliseconds(500),
        connectTimeout: Duration = .seconds(3), location: SourceLocation = SourceLocation.unknown
    ) {
        self.name = name
        self.endpoint = endpoint
        self.responseTimeout = responseTimeout
        self.byteTimeout = byteTimeout
        self.connectTimeout = connectTimeout
        self.location = location
    }
}

/// Serial line settings, including the RS-485 controls libmodbus exposes.
public struct SerialSettings: Sendable, Hashable {
    public enum Parity: String, Sendable, Hashable { case none, even, odd }
    public enum Mode: String, Sendable, Hashable { case rs232, rs485 }
    public enum RTS: String, Sendable, Hashable { case none, up, down }

    public var baud: Int = 9600
    public var parity: Parity = .none
    public var dataBits: Int = 8
    public var stopBits: Int = 1
    /// nil leaves the port's mode as the driver has it.
    public var mode: Mode?
    public var rts: RTS = .none
    public var rtsDelay: Duration?

    public init() {}

    /// The silence Modbus RTU requires between frames: 3.5 character times (a character is a start bit, the data
    /// bits, a parity bit unless none, and the stop bits), and a fixed 1.75 ms above 19,200 baud (Modbus over
    /// serial line V1.02, §2.5.1.1). 1.82 ms at 19,200 8N1, 4.01 ms at 9,600 8E1.
    public var interFrameSilence: Duration {
        guard baud <= 19_200, baud > 0 else { return .microseconds(1750) }
        let bits = 1 + dataBits + (parity == .none ? 0 : 1) + stopBits
        return .microseconds(Int64((3.5 * Double(bits) * 1_000_000 / Double(baud)).rounded(.up)))
    }

    public static let baudRates = [1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400]
}

extension LinkConfig.Endpoint {
    /// Parses a link URL as the agent file and tramctl write it:
    /// `tcp://host:port`, `rtu:///dev/ttyUSB0`, `rtu+tcp://host:port`.
    public static func parse(_ text: String, serial: SerialSettings = SerialSettings()) -> Result<
        LinkConfig.Endpoint, LinkURLError
    > {
        switch EndpointSyntax.parse(text) {
        case .failure(let error): .failure(LinkURLError(message: error.message))
        case .success(.tcp(let host, let port)): .success(.tcp(host: host, port: port))
        case .success(.rtuOverTCP(let host, let port)): .success(.rtuOverTCP(host: host, port: port))
        case .success(.rtu(let device)): .success(.rtu(device: device, serial: serial))
        }
    }
}

/// A link URL that cannot be used, with what was expected.
public struct LinkURLError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
