/// A gateway's whole acquisition config: who it is, its links, its devices.
public struct AgentConfig: Sendable {
    public struct Gateway: Sendable, Hashable {
        public var id: String
        public var site: String

        public init(id: String, site: String = "") {
            self.id = id
            self.site = site
        }
    }

    public var gateway: Gateway
    /// Width of the TCP I/O thread pool.
    public var ioThreads: Int
    public var links: [LinkConfig]
    public var devices: [DeviceConfig]
    public var spool: SpoolSettings
    /// Where batches go; none means the agent only spools (a gateway still being commissioned).
    public var sinks: [SinkSettings]
    public var control: ControlSettings
    public var batch: BatchSettings
    /// The built-in `gateway` device (docs/builtin-devices.md).
    public var health: HealthSettings
    /// The built-in `modem` device.
    public var modem: ModemSettings

    public static let defaultIOThreads = 4

    public init(
        gateway: Gateway, ioThreads: Int = AgentConfig.defaultIOThreads, links: [LinkConfig], devices: [DeviceConfig],
        spool: SpoolSettings = SpoolSettings(), sinks: [SinkSettings] = [],
        control: ControlSettings = ControlSettings(),
        batch: BatchSettings = BatchSettings(), health: HealthSettings = HealthSettings(),
        modem: ModemSettings = ModemSettings()
    ) {
        self.gateway = gateway
        self.ioThreads = ioThreads
        self.links = links
        self.devices = devices
        self.spool = spool
        self.sinks = sinks
        self.control = control
        self.batch = batch
        self.health = health
        self.modem = modem
    }

    public func link(named name: String) -> LinkConfig? { links.first { $0.name == name } }
    public func device(named name: String) -> DeviceConfig? { devices.first { $0.name == name } }
}
