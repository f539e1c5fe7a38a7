import TramBuiltinPoints
import Synchronization
import TramConfig
import TramModbus
import TramCore
import TramSpool
import TramUplink

/// The stages a reload may swap, each behind its lock: the runtime replaces them, the status view reads them.
final class RunningStages: Sendable {
    let spool: SharedSpool
    let board: DeviceBoard
    /// The running config (its spool settings are those the agent started with).
    let config: Mutex<AgentConfig>
    /// The poll callbacks hand cycles to whichever writer is current; a reload swaps it under this lock.
    let writer: Mutex<BatchWriter>
    let uplinks: Mutex<[UplinkWorker]>
    let reloads = Mutex<(count: Int, lastError: String?)>((0, nil))
    /// The built-in devices the running schema has (`BuiltinDeviceSet`).
    let builtins: Mutex<[BuiltinDevice]>
    /// Each built-in device's newest cycle, by device name (the control socket's `link`).
    let builtinLatest = Mutex<[String: DeviceReading]>([:])
    /// The `gateway` device's sampler, used by the housekeeping thread; nil when it is off.
    let health: Mutex<GatewayHealthSampler?>
    /// The `modem` device's thread, when it is on.
    let modem: Mutex<ModemPollingThread?>

    init(
        spool: SharedSpool, board: DeviceBoard, config: AgentConfig, writer: BatchWriter, uplinks: [UplinkWorker],
        builtins: [BuiltinDevice]
    ) {
        self.builtins = Mutex(builtins)
        health = Mutex(Self.healthSampler(builtins, config: config))
        modem = Mutex(nil)
        self.spool = spool
        self.board = board
        self.config = Mutex(config)
        self.writer = Mutex(writer)
        self.uplinks = Mutex(uplinks)
    }

    static func healthSampler(_ builtins: [BuiltinDevice], config: AgentConfig) -> GatewayHealthSampler? {
        builtins.first { $0.name == BuiltinDevice.gatewayName }.map {
            GatewayHealthSampler(device: $0, sinks: config.sinks.map(\.name))
        }
    }
}

/// What the running agent shows of itself, read-only: the control socket's `status` and `cycles`, the metrics and
/// the watchdog read it. Every property takes its stage's lock briefly; none waits on I/O except `spool`, whose
/// lock may be held across an `fdatasync`.
public struct AgentStatusView: Sendable {
    let stages: RunningStages
    let clock: TramClock
    public let version: String
    public let configPath: String
    public let startedWallMilliseconds: Int64
    let startedMonotonicMilliseconds: Int64

    public var config: AgentConfig { stages.config.withLock { $0 } }
    public var spool: SpoolStatus { stages.spool.withSpool { $0.status } }
    public var uplinks: [UplinkStatus] { stages.uplinks.withLock { $0 }.map(\.status) }
    public var writer: BatchWriter.Statistics { stages.writer.withLock { $0.statistics } }
    public var devices: DeviceBoard { stages.board }
    public var monotonicMilliseconds: Int64 { clock.monotonicMilliseconds() }
    public var uptimeMilliseconds: Int64 { clock.monotonicMilliseconds() - startedMonotonicMilliseconds }
    public var reloadCount: Int { stages.reloads.withLock { $0.count } }
    public var lastReloadError: String? { stages.reloads.withLock { $0.lastError } }

    /// Every stage's loop beat recently. Independent of data flowing: an uplink outage or an offline device
    /// is not a hang, so the watchdog never restart-loops a gateway whose link is down.
    public func isAlive() -> Bool {
        let now = clock.monotonicMilliseconds()
        return stages.writer.withLock { $0.isAlive(nowMilliseconds: now) }
            && stages.uplinks.withLock { $0 }.allSatisfy { $0.isAlive(nowMilliseconds: now) }
    }
}
