import TramBuiltinPoints
import Logging
import TramConfig
import TramModem

/// Which built-in devices a config turns on (docs/builtin-devices.md): the `gateway` unless `health: enabled:
/// false`, and the `modem` when `modem:` says so, or, by default, when ModemManager has exactly one modem.
enum BuiltinDeviceSet {
    /// Asks ModemManager over D-Bus when the modem's mode is `auto`: blocks for up to two seconds, so call it on an
    /// owned thread.
    ///
    /// - Parameter keepModem: a reload of a config whose `modem:` did not change keeps an `auto` modem device that is
    ///   on, without asking: a reload during a USB reset must not drop the device and change the schema.
    static func resolve(
        _ config: AgentConfig, keepModem: Bool = false,
        countModems: () -> Result<Int, DBusFailure> = BuiltinDeviceSet.countModems, logger: Logger
    ) -> [BuiltinDevice] {
        var devices: [BuiltinDevice] = []
        if config.health.enabled {
            devices.append(.gateway(sinks: config.sinks.map(\.name), pollInterval: config.health.pollInterval))
        }
        switch config.modem.mode {
        case .on:
            devices.append(.modem(pollInterval: config.modem.pollInterval))
        case .off:
            break
        case .auto where keepModem:
            devices.append(.modem(pollInterval: config.modem.pollInterval))
        case .auto:
            switch countModems() {
            case .success(1):
                logger.notice("ModemManager has one modem: the built-in 'modem' device reports its link")
                devices.append(.modem(pollInterval: config.modem.pollInterval))
            case .success(let count):
                logger.info(
                    "no built-in 'modem' device yet: ModemManager has \(count) modems (the agent looks again every \(autoProbeSeconds) s; with several, name one in 'modem: device:')"
                )
            case .failure(let failure):
                logger.info(
                    "no built-in 'modem' device yet: \(failure.description) (the agent looks again every \(autoProbeSeconds) s; 'modem: enabled: true' reports one anyway)"
                )
            }
        }
        return devices
    }

    /// How often an agent with `enabled: auto` and no modem device asks ModemManager again. ModemManager takes its bus
    /// name before it has probed its modems (5–30 s after boot), so the answer at start is often "none".
    static let autoProbeSeconds: Int64 = 15

    /// Why ModemManager could not be asked, in words to log.
    struct DBusFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func countModems() -> Result<Int, DBusFailure> {
        ModemDevice.countModems().mapError { error in
            DBusFailure(
                description: error.isServiceMissing
                    ? "ModemManager is not running" : "ModemManager could not be asked (\(error))")
        }
    }
}
