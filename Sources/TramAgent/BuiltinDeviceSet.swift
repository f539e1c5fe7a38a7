import TramBuiltinPoints
import Logging
import TramConfig
import TramModem

/// Which built-in devices a config turns on (docs/builtin-devices.md): the `gateway` unless `health: enabled:
/// false`, and the `modem` when `modem:` says so, or, by default, when ModemManager has exactly one modem.
enum BuiltinDeviceSet {
    /// Asks ModemManager over D-Bus when the modem's mode is `auto`: blocks for up to two seconds, so call it on an
    /// owned thread.
    static func resolve(
        _ config: AgentConfig, countModems: () -> Result<Int, DBusFailure> = BuiltinDeviceSet.countModems,
        logger: Logger
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
        case .auto:
            switch countModems() {
            case .success(1):
                logger.notice("ModemManager has one modem: the built-in 'modem' device reports its link")
                devices.append(.modem(pollInterval: config.modem.pollInterval))
            case .success(let count):
                logger.info(
                    "no built-in 'modem' device: ModemManager has \(count) modems (name one in 'modem: device:' to report it)"
                )
            case .failure(let failure):
                logger.info(
                    "no built-in 'modem' device: \(failure.description) (set 'modem: enabled: true' to report one anyway)"
                )
            }
        }
        return devices
    }

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
