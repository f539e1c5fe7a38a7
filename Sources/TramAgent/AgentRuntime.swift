import Logging
import Synchronization
import SystemPackage
import TramConfig
import TramModbus
import TramSchema
import TramSpool
import TramThreads
import TramUplink

/// The whole pipeline of one gateway: poll → encode → spool → uplink, and the control socket.
///
/// Threads: the I/O executors poll (one thread per serial bus, a bounded pool for TCP); the batch writer owns
/// encoding and appends; each sink's uplink runs on its own thread; the control socket on another. The spool
/// is shared behind one lock (`SharedSpool`). Nothing here blocks Swift's cooperative pool: the async methods
/// only orchestrate.
public final class AgentRuntime: @unchecked Sendable {
    public static let version = "0.7.0"

    public private(set) var config: AgentConfig
    public let configPath: String
    public let startedWallMilliseconds: Int64
    private let startedMonotonicMilliseconds: Int64
    private let logger: Logger
    private let spool: SharedSpool
    private var engine: AcquisitionEngine
    private var writer: BatchWriter
    private var uplinks: [UplinkWorker]
    private var board: DeviceBoard
    private var control: ControlServer?
    private var metricsServer: MetricsServer?
    private let metrics = AgentMetrics()
    private let notifier: SystemdNotifier
    private var housekeeping: OwnedThread?
    private let stopping = Atomic<Bool>(false)
    private let housekeepingWakeup = Wakeup()
    private let clock = SpoolClock.system
    /// Extra status sections (clock, metrics) registered by the daemon.
    public let clockFlags: @Sendable () -> ClockFlags
    private let reloads = Mutex<(count: Int, lastError: String?)>((0, nil))

    /// Opens the spool and prepares every stage; nothing runs until `start`.
    public init(config: AgentConfig, configPath: String, clockFlags: @escaping @Sendable () -> ClockFlags = { .synchronised },
                notifier: SystemdNotifier = SystemdNotifier(environment: [:]), logger: Logger) throws {
        self.config = config
        self.notifier = notifier
        self.configPath = configPath
        self.logger = logger
        self.clockFlags = clockFlags
        startedWallMilliseconds = clock.wallMilliseconds()
        startedMonotonicMilliseconds = clock.monotonicMilliseconds()
        let options = SpoolOptions(settings: config.spool, sinks: config.sinks.map(\.name))
        var spoolLogger = logger
        spoolLogger[metadataKey: "stage"] = "spool"
        spool = SharedSpool(try Spool(options: options, logger: spoolLogger))
        board = DeviceBoard(devices: config.devices)
        engine = AcquisitionEngine(config: config, logger: logger)
        uplinks = Self.makeUplinks(config, spool: spool, logger: logger)
        writer = Self.makeWriter(config, spool: spool, uplinks: uplinks, clockFlags: clockFlags, logger: logger)
    }

    private static func makeUplinks(_ config: AgentConfig, spool: SharedSpool, logger: Logger) -> [UplinkWorker] {
        config.sinks.map { sink in
            UplinkWorker(settings: sink, gateway: config.gateway.id, queue: spool,
                         spoolDirectory: FilePath(config.spool.directory), logger: logger)
        }
    }

    /// The writer wakes the uplinks it is made with after every sealed batch.
    private static func makeWriter(_ config: AgentConfig, spool: SharedSpool, uplinks: [UplinkWorker],
                                   clockFlags: @escaping @Sendable () -> ClockFlags, logger: Logger) -> BatchWriter {
        var writerLogger = logger
        writerLogger[metadataKey: "stage"] = "writer"
        return BatchWriter(mapping: SchemaMapping(config: config), spool: spool, settings: config.batch, clockFlags: clockFlags,
                           sealed: { for worker in uplinks { worker.batchesAppended() } }, logger: writerLogger)
    }

    private func makeUplinks(_ config: AgentConfig) -> [UplinkWorker] { Self.makeUplinks(config, spool: spool, logger: logger) }

    private func makeWriter(_ config: AgentConfig) -> BatchWriter {
        Self.makeWriter(config, spool: spool, uplinks: uplinks, clockFlags: clockFlags, logger: logger)
    }

    /// Starts every stage: the control socket first (so `tramctl status` works while devices connect), then the
    /// uplinks, the writer, and polling.
    public func start() throws {
        do {
            let control = try ControlServer(path: config.control.socket, logger: logger) { [weak self] request in
                self?.answer(request) ?? Array("{\"error\":\"stopping\"}".utf8)
            }
            control.start()
            self.control = control
        } catch {
            // Polling matters more than the technician's socket: run without it, loudly.
            logger.error("control socket unavailable; tramctl status will not reach this agent", metadata: ["error": "\(error)"])
        }
        if let port = config.control.metricsPort {
            do {
                let metrics = self.metrics
                let server = try MetricsServer(port: UInt16(port), exposition: { metrics.exposition() },
                                               health: { [weak self] in (self?.isAlive() ?? false) ? nil : "a stage of the agent is not making progress" },
                                               logger: logger)
                server.start()
                metricsServer = server
                logger.info("metrics on http://127.0.0.1:\(server.port)/metrics")
            } catch {
                logger.error("metrics port unavailable; /metrics is off", metadata: ["port": "\(port)", "error": "\(error)"])
            }
        }
        for uplink in uplinks { uplink.start() }
        writer.start()
        startPolling()
        housekeeping = OwnedThread(name: "tram-health") { [self] in runHousekeeping() }
        notifier.ready(status: "polling \(config.devices.count) devices, \(config.sinks.count) sinks")
        if config.sinks.isEmpty {
            logger.warning("no sinks configured: readings are only spooled (add a 'sinks:' section to deliver them)")
        }
        logger.notice("tram-agent running", metadata: [
            "gateway": "\(config.gateway.id)", "devices": "\(config.devices.count)", "sinks": "\(config.sinks.map(\.name))",
            "spool": "\(config.spool.directory)",
        ])
    }

    private func startPolling() {
        let writer = self.writer, board = self.board, metrics = self.metrics, clock = self.clock
        engine.startPolling { reading in
            var latency: UInt64 = 0
            for index in reading.requests.indices { latency += reading.requests[index].roundTripNanoseconds }
            board.record(reading, latencyMilliseconds: Double(latency) / 1e6, nowMilliseconds: clock.monotonicMilliseconds())
            metrics.record(reading, latencySeconds: Double(latency) / 1e9)
            writer.submit(reading)
        }
    }

    /// Once a second, on a thread of its own (the spool's lock may be held across an `fdatasync`): the metrics'
    /// spool and uplink figures, and the systemd watchdog, fed only while every stage's loop is alive.
    private func runHousekeeping() {
        var lastPing: Int64?
        let interval = notifier.watchdogInterval.map { Int64($0.components.seconds) * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 }
        while !stopping.load(ordering: .acquiring) {
            metrics.update(spool: spoolStatus, uplinks: uplinkStatuses)
            let now = clock.monotonicMilliseconds()
            if let interval, lastPing.map({ now - $0 >= interval }) ?? true {
                if isAlive() {
                    notifier.watchdog()
                    lastPing = now
                } else {
                    logger.critical("a stage is stuck: the systemd watchdog is no longer fed")
                }
            }
            housekeepingWakeup.wait(milliseconds: min(1000, max(100, interval ?? 1000)))
        }
    }

    /// Graceful shutdown: stop polling, seal and sync the open batch, let uploads in flight finish briefly
    /// (then abandon them: unacknowledged batches go again after the restart), close the spool.
    public func stop() async {
        notifier.stopping(status: "stopping: sealing the open batch")
        engine.stopPolling()
        await engine.shutdown()
        writer.stop()
        for uplink in uplinks { uplink.stop(graceMilliseconds: 1_500) }
        control?.stop()
        stopping.store(true, ordering: .releasing)
        housekeepingWakeup.signal()
        housekeeping?.join()
        metricsServer?.stop()
        let books = spool.withSpool { $0.counters }
        do { try spool.withSpool { spool throws(Errno) in try spool.close() } } catch {
            logger.error("closing the spool failed", metadata: ["error": "\(error)"])
        }
        let written = writer.statistics
        logger.notice("tram-agent stopped", metadata: [
            "readings_produced": "\(written.readingsProduced)", "readings_sealed": "\(written.readingsSealed)",
            "readings_dropped_before_spool": "\(written.readingsDroppedQueueFull + written.readingsDroppedUnencodable)",
            "spool_appended": "\(books.appended.readings)", "spool_delivered": "\(books.delivered.readings)",
            "spool_buffered": "\(books.buffered.readings)", "spool_dropped": "\(books.droppedTotal.readings)",
            "books_balance": "\(books.balances)",
        ])
    }

    /// Applies a new config. What did not change keeps running: polling and its connections stay up when only
    /// sinks changed, and delivery stays up when only devices changed. Spool settings need a restart.
    public func reload(_ new: AgentConfig) async {
        notifier.reloading(status: "reloading \(configPath)")
        defer { notifier.ready(status: "polling \(config.devices.count) devices, \(config.sinks.count) sinks") }
        let acquisitionChanged = AcquisitionFingerprint(config) != AcquisitionFingerprint(new)
        let sinksChanged = config.sinks != new.sinks || config.gateway.id != new.gateway.id
        if config.spool != new.spool {
            logger.warning("spool settings changed; they take effect at the next restart")
        }
        if sinksChanged {
            if Set(config.sinks.map(\.name)) != Set(new.sinks.map(\.name)) {
                logger.warning("sink names changed; the spool tracks delivery by name, so new names take effect at the next restart")
            }
            for uplink in uplinks { uplink.stop(graceMilliseconds: 1_500) }
            var kept = config
            kept.sinks = new.sinks.filter { sink in config.sinks.contains { $0.name == sink.name } }
            uplinks = makeUplinks(kept)
            for uplink in uplinks { uplink.start() }
        }
        if acquisitionChanged {
            engine.stopPolling()
            await engine.shutdown()
            writer.stop()
            var applied = new
            applied.sinks = config.sinks
            engine = AcquisitionEngine(config: applied, logger: logger)
            board = DeviceBoard(devices: applied.devices)
            metrics.retainDevices(Set(applied.devices.map(\.name)))
            writer = makeWriter(applied)
            writer.start()
            startPolling()
        } else if sinksChanged {
            // The writer wakes the uplinks it was made with: remake it so it wakes the new ones.
            writer.stop()
            writer = makeWriter(new)
            writer.start()
        }
        let spoolSettings = config.spool
        config = new
        config.spool = spoolSettings
        reloads.withLock { $0 = ($0.count + 1, nil) }
        logger.notice("configuration reloaded", metadata: [
            "polling": "\(acquisitionChanged ? "restarted" : "unchanged")", "sinks": "\(sinksChanged ? "restarted" : "unchanged")",
        ])
    }

    /// Records a reload that failed validation (the old config keeps running).
    public func reloadRejected(_ why: String) {
        reloads.withLock { $0.lastError = why }
    }

    // MARK: Health and status

    /// Every stage's loop beat recently. Independent of data flowing: an uplink outage or an offline device
    /// is not a hang, so the watchdog never restart-loops a gateway whose link is down.
    public func isAlive() -> Bool {
        let now = clock.monotonicMilliseconds()
        return writer.isAlive(nowMilliseconds: now) && uplinks.allSatisfy { $0.isAlive(nowMilliseconds: now) }
    }

    public var spoolStatus: SpoolStatus { spool.withSpool { $0.status } }
    public var uplinkStatuses: [UplinkStatus] { uplinks.map(\.status) }
    public var writerStatistics: BatchWriter.Statistics { writer.statistics }
    public var devices: DeviceBoard { board }
    public var monotonicMilliseconds: Int64 { clock.monotonicMilliseconds() }
    public var uptimeMilliseconds: Int64 { clock.monotonicMilliseconds() - startedMonotonicMilliseconds }
    public var reloadCount: Int { reloads.withLock { $0.count } }
    public var lastReloadError: String? { reloads.withLock { $0.lastError } }

    /// An ad-hoc read on the link that owns `serialDevice`, serialised with its polling. Blocks the calling
    /// thread (the control socket's own) until the link's thread has done it, for at most `timeoutMilliseconds`.
    func read(serialDevice: String, unit: Int, request: ReadRequest, timeoutMilliseconds: Int64 = 10_000)
        -> (link: String, result: Result<[UInt16], ModbusError>, roundTripNanoseconds: UInt64)? {
        let engine = self.engine
        guard let link = engine.link(servingSerialDevice: serialDevice) else { return nil }
        let done = Wakeup()
        let answer = Mutex<(Result<[UInt16], ModbusError>, UInt64)?>(nil)
        engine.read(link: link, unit: unit, request: request) { result, roundTrip in
            answer.withLock { $0 = (result, roundTrip) }
            done.signal()
        }
        let deadline = clock.monotonicMilliseconds() + timeoutMilliseconds
        while answer.withLock({ $0 == nil }), clock.monotonicMilliseconds() < deadline {
            done.wait(milliseconds: deadline - clock.monotonicMilliseconds())
        }
        guard let (result, roundTrip) = answer.withLock({ $0 }) else {
            return (link, .failure(.timeout), 0)
        }
        return (link, result, roundTrip)
    }

    /// One control-socket request → its JSON answer (see `ControlProtocol`).
    func answer(_ request: String) -> [UInt8] {
        ControlProtocol.answer(request, runtime: self)
    }
}
