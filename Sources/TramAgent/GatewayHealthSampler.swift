import TramBuiltinPoints
import TramConfig
import TramCore
import TramModbus
import TramSchema
import TramSpool
import TramUplink

/// The built-in `gateway` device: one sample of the agent's own books as a poll cycle of ordinary readings
/// (docs/builtin-devices.md). It reads what status already keeps (spool, writer, uplinks, device board): no I/O of
/// its own beyond `/proc/self/statm`. Used by one thread at a time: the housekeeping one, under its slot's lock.
final class GatewayHealthSampler: @unchecked Sendable {
    let device: BuiltinDevice
    private let sinks: [String]
    private var previousCPU: (cpu: Int64, at: UInt64)?
    /// When the next sample is due (monotonic ms); the first is due at once, so a restart shows within seconds.
    var dueAtMilliseconds: Int64 = 0
    /// Index of each fixed point, looked up once by name from the one table.
    private let index: [String: Int]

    init(device: BuiltinDevice, sinks: [String]) {
        self.device = device
        self.sinks = sinks
        index = Dictionary(device.points.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// - Parameters:
    ///   - spool, uplinks: the housekeeping loop's own read of them this second (not read again here).
    func sample(
        status: AgentStatusView, spool: SpoolStatus, uplinks: [UplinkStatus], clock: ClockFlags, now: Timestamp,
        monotonicNanoseconds: UInt64
    ) -> DeviceReading {
        var points = (0..<device.points.count).map {
            PointReading(point: $0, value: nil, quality: .notAvailable, exponent: 0, timestamp: now)
        }
        func set(_ name: String, _ value: RawValue?, otherwise quality: Quality = .notAvailable) {
            guard let at = index[name] else { return }
            points[at].value = value
            points[at].quality = value == nil ? quality : .good
        }
        let writer = status.writer
        set("agent_version", .string(status.version))
        set("uptime", .uint(UInt64(max(0, status.uptimeMilliseconds / 1000))))
        set("spool_bytes", .uint(UInt64(max(0, spool.diskBytes))))
        set(
            "spool_fill",
            .float64(spool.maximumBytes > 0 ? Double(spool.diskBytes) / Double(spool.maximumBytes) * 100 : 0))
        let oldest = spool.oldestBufferedMilliseconds.map { max(0, now.wallMilliseconds - $0) } ?? 0
        set("spool_oldest_age", .float64(Double(oldest) / 1000))
        set("spool_backlog", .uint(UInt64(max(0, spool.counters.buffered.readings))))
        set("dropped_queue_full", .uint(UInt64(writer.readingsDroppedQueueFull)))
        set("dropped_unencodable", .uint(UInt64(writer.readingsDroppedUnencodable)))
        for cause in DropCause.allCases {
            set(
                BuiltinDevice.droppedPoint("\(cause)"),
                .uint(UInt64(max(0, spool.counters.dropped[cause]?.readings ?? 0))))
        }
        let devices = status.devices.stateCounts()
        set("devices_online", .uint(UInt64(devices.online)))
        set("devices_degraded", .uint(UInt64(devices.degraded)))
        set("devices_offline", .uint(UInt64(devices.offline)))
        set("clock_synchronised", .bool(clock.contains(.synchronised)))
        set("clock_stepped", .bool(clock.contains(.stepped)))
        let cpu = ProcessUsage.cpuNanoseconds()
        set("cpu_time", .float64(Double(cpu) / 1e9))
        // Since the previous poll; on the first, since the agent started (so the device needs no not_ready, and its
        // frames stay version 1 for a collector that has not said it takes version 2).
        let previous = previousCPU ?? (0, monotonicNanoseconds &- UInt64(max(0, status.uptimeMilliseconds)) * 1_000_000)
        var usage: RawValue?
        if monotonicNanoseconds > previous.at {
            usage = .float64(Double(cpu - previous.cpu) / Double(monotonicNanoseconds - previous.at) * 100)
        }
        set("cpu_usage", usage, otherwise: .notReady)
        previousCPU = (cpu, monotonicNanoseconds)
        set("memory_rss", ProcessUsage.residentBytes().map(RawValue.uint))
        for sink in sinks {
            guard let uplink = uplinks.first(where: { $0.sink == sink }) else { continue }
            let names = BuiltinDevice.sinkPointNames(sink)
            set(names.state, .uint(Self.stateCode(uplink.state)))
            set(names.failures, .uint(UInt64(uplink.consecutiveFailures)))
            set(names.bytesToday, .uint(UInt64(max(0, uplink.budgetUsedToday))))
        }
        var health = DeviceHealth()
        health.state = .online
        return DeviceReading(device: device.name, points: points, requests: [], health: health)
    }

    /// The codes of `sink_<name>_state` (docs/builtin-devices.md).
    static func stateCode(_ state: UplinkState) -> UInt64 {
        switch state {
        case .delivering: 0
        case .backingOff: 1
        case .paused: 2
        case .overBudget: 3
        case .stopped: 4
        }
    }
}
