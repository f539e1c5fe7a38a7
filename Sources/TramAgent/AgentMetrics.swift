import TramCore
#if canImport(Glibc)
import Glibc
#endif
import Prometheus
import Synchronization
import TramModbus
import TramSpool
import TramUplink

/// The agent's metrics, in Prometheus text format: what a technician or a fleet's Prometheus scrapes.
///
/// Two kinds of source feed it:
/// - **Per poll cycle** (`record(_:latencySeconds:)`, on the I/O threads): readings produced, poll latency and
///   errors, device health. Atomics and two short locks (the device table, the histogram): well under a
///   microsecond a cycle, and no allocation once the device has reported.
/// - **Once a second or so** (`update(spool:uplinks:)`, from the agent's housekeeping): the spool's books and the
///   uplinks' status. Those are absolute figures kept elsewhere (the spool's books survive restarts, an uplink's
///   counts start again with its worker), so each counter advances by the difference since the last update, and a
///   figure that went down (a worker made anew after a reload) counts as a restart of its source: the counter
///   advances by the new figure, so it never goes backwards.
///
/// The families, all prefixed `tram_`:
///
/// | name | type | labels |
/// |---|---|---|
/// | `tram_readings_produced_total` | counter | — |
/// | `tram_readings_suppressed_total` | counter | — (held back by report by exception: produced = appended + suppressed + the writer's drops) |
/// | `tram_readings_appended_total`, `tram_readings_delivered_total` | counter | — |
/// | `tram_readings_buffered` | gauge | — |
/// | `tram_readings_dropped_total` | counter | `cause` (every `DropCause`, zeros included) |
/// | `tram_poll_duration_seconds` | histogram | `device` |
/// | `tram_poll_errors_total` | counter | `device` (failed requests) |
/// | `tram_device_healthy` | gauge | `device` (1 online, 0 degraded or offline) |
/// | `tram_spool_size_bytes`, `tram_spool_limit_bytes` | gauge | — |
/// | `tram_spool_oldest_buffered_age_seconds` | gauge | — (0 when nothing waits) |
/// | `tram_uplink_state` | gauge | `sink`, `state` (one-hot over `UplinkStatus.stateName`) |
/// | `tram_uplink_bytes_total` | counter | `sink` (application bytes both ways) |
/// | `tram_uplink_uploads_total`, `tram_uplink_failed_uploads_total` | counter | `sink` |
/// | `tram_builtin_polls_total`, `tram_builtin_poll_cpu_seconds_total` | counter | `device` (`gateway`, `modem`: the CPU of each poll on its own thread) |
/// | `tram_writes_total` | counter | `result` (`verified`, `mismatch`, `exception_2`, `refused_not_allowed`, …: every write attempt through the agent) |
///
/// Readings are point values, as the spool counts them, so `produced` matches `appended` within a process's life
/// (the appended figure also carries earlier runs, from the spool's books).
public final class AgentMetrics: Sendable {
    /// The registry every family lives in. Give `factory` to `MetricsSystem.bootstrap` and anything instrumented
    /// with swift-metrics lands in the same exposition.
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    /// Poll latency buckets, in seconds: a Modbus TCP request on a LAN takes milliseconds, an RTU bus at 9600 baud
    /// tens to hundreds, a device in a timeout seconds.
    public static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// The names `tram_uplink_state` is one-hot over.
    static let uplinkStates = ["delivering", "backing-off", "paused", "over-budget", "stopped"]

    private let produced: Counter
    private let writes = Mutex<[String: Counter]>([:])
    private let suppressed: Counter
    private let appended: Counter
    private let delivered: Counter
    private let buffered: Gauge
    private let dropped: [DropCause: Counter]
    private let spoolBytes: Gauge
    private let spoolLimitBytes: Gauge
    private let oldestAge: Gauge
    private let wallMilliseconds: @Sendable () -> Int64
    private let devices = Mutex<[String: DeviceInstruments]>([:])
    private let builtins = Mutex<[String: (polls: Counter, cpu: Counter)]>([:])
    private let feeds = Mutex(Feeds())

    /// One device's instruments, made the first time it reports.
    private struct DeviceInstruments: Sendable {
        let latency: ValueHistogram
        let errors: Counter
        let healthy: Gauge
    }

    /// One sink's instruments.
    private struct SinkInstruments {
        let states: [String: Gauge]
        let bytes: Counter
        let uploads: Counter
        let failedUploads: Counter
    }

    /// What `update` last saw of each absolute figure, to advance counters by differences.
    private struct Feeds: @unchecked Sendable {
        var appended = 0
        var suppressed = 0
        var delivered = 0
        var dropped: [DropCause: Int] = [:]
        var sinks: [String: SinkInstruments] = [:]
        var sinkFigures: [String: (bytes: Int, uploads: Int, failed: Int)] = [:]
    }

    /// - Parameter wallMilliseconds: the wall clock the oldest buffered batch's age is measured against.
    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        wallMilliseconds: @escaping @Sendable () -> Int64 = { TramClock.system.wallMilliseconds() }
    ) {
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
        self.wallMilliseconds = wallMilliseconds
        produced = registry.makeCounter(
            descriptor: Self.name(
                "readings_produced", "total",
                "Point values read from devices (good or not), as the spool counts readings."))
        suppressed = registry.makeCounter(
            descriptor: Self.name(
                "readings_suppressed", "total",
                "Readings held back by report by exception: within their deadband, their heartbeat not due."))
        appended = registry.makeCounter(
            descriptor: Self.name(
                "readings_appended", "total",
                "Readings appended to the spool, across restarts (the spool's books)."))
        delivered = registry.makeCounter(
            descriptor: Self.name(
                "readings_delivered", "total",
                "Readings acknowledged by every sink, across restarts."))
        buffered = registry.makeGauge(
            descriptor: Self.name(
                "readings_buffered", "",
                "Readings held in the spool (on disk or in the disk-full RAM ring) until every sink has them."))
        let droppedName = Self.name("readings_dropped", "total", "Readings given up, by cause, across restarts.")
        dropped = Dictionary(
            uniqueKeysWithValues: DropCause.allCases.map { cause in
                (cause, registry.makeCounter(descriptor: droppedName, labels: [("cause", cause.description)]))
            })
        spoolBytes = registry.makeGauge(
            descriptor: Self.name("spool_size", "bytes", "Bytes of spool segments and ledger on disk."))
        spoolLimitBytes = registry.makeGauge(descriptor: Self.name("spool_limit", "bytes", "The spool's max_bytes."))
        oldestAge = registry.makeGauge(
            descriptor: Self.name(
                "spool_oldest_buffered_age", "seconds",
                "Age of the oldest batch not yet delivered to every sink; 0 when none waits."))
    }

    // MARK: Per poll cycle

    /// Counts one poll of a built-in device and the CPU its thread spent on it (`CLOCK_THREAD_CPUTIME_ID`), so what
    /// the built-in devices cost is visible on every gateway, not only in a benchmark.
    public func recordBuiltinPoll(device: String, cpuNanoseconds: Int64) {
        let (polls, cpu) = builtins.withLock { table in
            if let made = table[device] { return made }
            let made = (
                polls: registry.makeCounter(
                    descriptor: Self.name("builtin_polls", "total", "Polls of a built-in device (gateway, modem)."),
                    labels: [("device", device)]),
                cpu: registry.makeCounter(
                    descriptor: Self.name(
                        "builtin_poll_cpu_seconds", "total", "CPU time of a built-in device's polls, on its thread."),
                    labels: [("device", device)])
            )
            table[device] = made
            return made
        }
        polls.increment()
        cpu.increment(by: Double(max(0, cpuNanoseconds)) / 1e9)
    }

    /// Counts one device cycle, on the I/O thread that ran it.
    /// - Parameter latencySeconds: how long the cycle took, first request to last response.
    public func record(_ reading: DeviceReading, latencySeconds: Double) {
        let instruments = instruments(for: reading.device)
        produced.increment(by: Int64(reading.points.count))
        instruments.latency.record(latencySeconds)
        var failed: Int64 = 0
        for request in reading.requests where request.error != nil { failed += 1 }
        if failed > 0 { instruments.errors.increment(by: failed) }
        instruments.healthy.set(to: reading.health.state == .online ? 1 : 0)
    }

    /// Unregisters the series of devices no longer configured (after a reload), so they stop being exposed.
    public func retainDevices(_ names: Set<String>) {
        let gone = devices.withLock { devices in
            let gone = devices.filter { !names.contains($0.key) }
            for name in gone.keys { devices[name] = nil }
            return gone.values
        }
        for instruments in gone {
            registry.unregisterValueHistogram(instruments.latency)
            registry.unregisterCounter(instruments.errors)
            registry.unregisterGauge(instruments.healthy)
        }
    }

    private func instruments(for device: String) -> DeviceInstruments {
        devices.withLock { devices in
            if let existing = devices[device] { return existing }
            let labels = [("device", device)]
            let made = DeviceInstruments(
                latency: registry.makeValueHistogram(
                    descriptor: Self.name(
                        "poll_duration", "seconds",
                        "Time a device's poll cycle took, first request to last response."), labels: labels,
                    buckets: Self.latencyBuckets),
                errors: registry.makeCounter(
                    descriptor: Self.name(
                        "poll_errors", "total",
                        "Requests to a device that failed (exception, timeout, link down, I/O error)."), labels: labels),
                healthy: registry.makeGauge(
                    descriptor: Self.name(
                        "device_healthy", "",
                        "1 while every request of the device's last cycle succeeded, 0 while some or all failed."),
                    labels: labels))
            devices[device] = made
            return made
        }
    }

    // MARK: About once a second

    /// Takes the spool's books and every uplink's status. `uplinks` is the whole set: a sink missing from it (removed
    /// by a reload) has its series unregistered.
    public func update(spool: SpoolStatus, uplinks: [UplinkStatus], readingsSuppressed: Int = 0) {
        let counters = spool.counters
        let now = wallMilliseconds()
        buffered.set(Int64(counters.buffered.readings))
        spoolBytes.set(Int64(spool.diskBytes))
        spoolLimitBytes.set(Int64(spool.maximumBytes))
        oldestAge.set(spool.oldestBufferedMilliseconds.map { Double(max(0, now - $0)) / 1000 } ?? 0)

        var removed: [SinkInstruments] = []
        feeds.withLock { feeds in
            Self.advance(appended, from: &feeds.appended, to: counters.appended.readings)
            Self.advance(suppressed, from: &feeds.suppressed, to: readingsSuppressed)
            Self.advance(delivered, from: &feeds.delivered, to: counters.delivered.readings)
            for (cause, counter) in dropped {
                Self.advance(
                    counter, from: &feeds.dropped[cause, default: 0], to: counters.dropped[cause]?.readings ?? 0)
            }

            let current = Set(uplinks.map(\.sink))
            for (sink, instruments) in feeds.sinks where !current.contains(sink) {
                removed.append(instruments)
                feeds.sinks[sink] = nil
                feeds.sinkFigures[sink] = nil
            }
            for status in uplinks {
                let instruments = feeds.sinks[status.sink] ?? makeSinkInstruments(status.sink)
                feeds.sinks[status.sink] = instruments
                for (name, gauge) in instruments.states { gauge.set(to: name == status.stateName ? 1 : 0) }
                var figures = feeds.sinkFigures[status.sink] ?? (0, 0, 0)
                Self.advance(instruments.bytes, from: &figures.bytes, to: status.bytesOnWire)
                Self.advance(instruments.uploads, from: &figures.uploads, to: status.uploads)
                Self.advance(instruments.failedUploads, from: &figures.failed, to: status.failedUploads)
                feeds.sinkFigures[status.sink] = figures
            }
        }
        for instruments in removed {
            instruments.states.values.forEach(registry.unregisterGauge)
            [instruments.bytes, instruments.uploads, instruments.failedUploads].forEach(registry.unregisterCounter)
        }
    }

    private func makeSinkInstruments(_ sink: String) -> SinkInstruments {
        let stateName = Self.name("uplink_state", "", "1 for the state the sink's delivery is in, 0 for the others.")
        return SinkInstruments(
            states: Dictionary(
                uniqueKeysWithValues: Self.uplinkStates.map { state in
                    (state, registry.makeGauge(descriptor: stateName, labels: [("sink", sink), ("state", state)]))
                }),
            bytes: registry.makeCounter(
                descriptor: Self.name(
                    "uplink", "bytes_total",
                    "Application bytes exchanged with the sink, both ways, failed requests included."),
                labels: [("sink", sink)]),
            uploads: registry.makeCounter(
                descriptor: Self.name("uplink_uploads", "total", "Uploads attempted."),
                labels: [("sink", sink)]),
            failedUploads: registry.makeCounter(
                descriptor: Self.name(
                    "uplink_failed_uploads", "total",
                    "Uploads that got no 2xx answer (each is retried)."), labels: [("sink", sink)]))
    }

    /// Advances `counter` from the last seen absolute figure to `value`; a lower figure is a restarted source.
    private static func advance(_ counter: Counter, from last: inout Int, to value: Int) {
        let step = value >= last ? value - last : value
        if step > 0 { counter.increment(by: Int64(step)) }
        last = value
    }

    // MARK: Exposition

    /// The Prometheus text exposition (format 0.0.4) of every family.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    /// Counts one write attempt through the control socket by its result word (made on first use: results are few).
    public func countWrite(result: String) {
        let counter = writes.withLock { counters in
            if let counter = counters[result] { return counter }
            let counter = registry.makeCounter(
                descriptor: Self.name("writes", "total", "Write attempts through the agent, by result."),
                labels: [("result", result)])
            counters[result] = counter
            return counter
        }
        counter.increment()
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "tram", metricName: metric, unitName: unit, helpText: help)
    }

}
