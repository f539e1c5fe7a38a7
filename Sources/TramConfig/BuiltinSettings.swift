/// The built-in `gateway` device: the agent's own health as readings (`gateway: health:` in the agent file).
public struct HealthSettings: Sendable, Hashable {
    public var enabled = true
    public var pollInterval: Duration = .seconds(60)

    public init() {}
}

/// The built-in `modem` device: ModemManager's modem over D-Bus (the `modem:` section).
public struct ModemSettings: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// On when ModemManager has exactly one modem at start (or reload), or when `device` names one.
        case auto
        /// On: the points say `absent` while there is no such modem.
        case on = "true"
        case off = "false"

        /// `on`, `off` or `auto`, as `tram-agent --check` says it.
        public var word: String {
            switch self {
            case .auto: "auto"
            case .on: "on"
            case .off: "off"
            }
        }
    }

    public var mode: Mode = .auto
    /// Which modem: a D-Bus object path (`/org/freedesktop/ModemManager1/Modem/0`), or a modem's `Device` or
    /// `DeviceIdentifier` property. Nil: the only one.
    public var device: String?
    public var pollInterval: Duration = .seconds(30)

    public init() {}
}
