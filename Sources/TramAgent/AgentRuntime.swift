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
public final class AgentRuntime: Sendable {
    public static let version = "0.7.0"

    public let configPath: String
    public let startedWallMilliseconds: Int64
    private let startedMonotonicMilliseconds: Int64
    private let logger: Logger
    private let spool: SharedSpool
    /// The running config (its spool settings are those the agent started with).
    private let current: Mutex<AgentConfig>
    /// One engine per link, so a reload restarts only the links whose polling changed. TCP links share one pool.
    private let engines: Mutex<[String: AcquisitionEngine]>
    private let tcpPool: Mutex<IOExecutor?>
    /// The poll callbacks hand cycles to whichever writer is current; a reload swaps it under this lock.
    private let writerSlot: Mutex<BatchWriter>
    /// Separate from the writer's slot: the writer thread wakes the uplinks after each batch.
    private let uplinkList: UplinkRoster
    private let board: DeviceBoard
    private let services = Mutex<(control: ControlServer?, metrics: MetricsServer?, housekeeping: OwnedThread?)>((nil, nil, nil))
    private let metrics = AgentMetrics()
    private let notifier: SystemdNotifier
    private let stopping = Atomic<Bool>(false)
    private let housekeepingWakeup = Wakeup()
    private let clock = SpoolClock.system
    /// The clock's state for each encoded cycle (synchronised, stepped).
    public let clockFlags: @Sendable () -> ClockFlags
    private let reloads = Mutex<(count: Int, lastError: String?)>((0, nil))

    /// Opens the spool and prepares every stage; nothing runs until `start`.
    public init(config: AgentConfig, configPath: String, clockFlags: @escaping @Sendable () -> ClockFlags = { .synchronised },
                notifier: SystemdNotifier = SystemdNotifier(environment: [:]), logger: Logger) throws {
        self.notifier = notifier
        self.configPath = configPath
        self.logger = logger
        self.clockFlags = clockFlags
        startedWallMilliseconds = clock.wallMilliseconds()
        startedMonotonicMilliseconds = clock.monotonicMilliseconds()
        let options = SpoolOptions(settings: config.spool, sinks: config.sinks.map(\.name))
        var spoolLogger = logger
        spoolLogger[metadataKey: "stage"] = "spool"
        let spool = SharedSpool(try Spool(options: options, logger: spoolLogger))
        self.spool = spool
        current = Mutex(config)
        board = DeviceBoard(devices: config.devices)
        let pool = Self.makeTCPPool(config)
        tcpPool = Mutex(pool)
        engines = Mutex(Self.makeEngines(config, links: config.links.map(\.name), pool: pool, logger: logger))
        let roster = UplinkRoster(Self.makeUplinks(config, spool: spool, logger: logger))
        uplinkList = roster
        writerSlot = Mutex(Self.makeWriter(config, mapping: SchemaMapping(config: config), spool: spool, uplinks: roster,
                                           clockFlags: clockFlags, logger: logger))
    }

    public var config: AgentConfig { current.withLock { $0 } }

    private static func makeTCPPool(_ config: AgentConfig) -> IOExecutor? {
        config.links.contains { !$0.endpoint.isSerialBus } ? IOExecutor(threads: config.ioThreads, name: "tram-tcp") : nil
    }

    private static func makeEngines(_ config: AgentConfig, links: [String], pool: IOExecutor?, logger: Logger) -> [String: AcquisitionEngine] {
        var engines: [String: AcquisitionEngine] = [:]
        for name in links {
            engines[name] = AcquisitionEngine(config: config.restricted(toLink: name), sharedTCPExecutor: pool, logger: logger)
        }
        return engines
    }

    private static func makeUplinks(_ config: AgentConfig, spool: SharedSpool, logger: Logger) -> [UplinkWorker] {
        config.sinks.map { sink in
            UplinkWorker(settings: sink, gateway: config.gateway.id, queue: spool,
                         spoolDirectory: FilePath(config.spool.directory), logger: logger)
        }
    }

    /// A writer for `mapping` (built once by the caller: 15,000 points make it worth not repeating) that wakes the
    /// current uplinks after every sealed batch.
    private static func makeWriter(_ config: AgentConfig, mapping: SchemaMapping, spool: SharedSpool, uplinks: UplinkRoster,
                                   clockFlags: @escaping @Sendable () -> ClockFlags, logger: Logger) -> BatchWriter {
        var writerLogger = logger
        writerLogger[metadataKey: "stage"] = "writer"
        return BatchWriter(mapping: mapping, spool: spool, settings: config.batch, clockFlags: clockFlags,
                           sealed: { for worker in uplinks.withLock({ $0 }) { worker.batchesAppended() } }, logger: writerLogger)
    }

    /// Starts every stage: the control socket first (so `tramctl status` works while devices connect), then the
    /// uplinks, the writer, and polling.
    public func start() throws {
        let config = self.config
        var control: ControlServer?
        do {
            control = try ControlServer(path: config.control.socket, logger: logger) { [weak self] request in
                self?.answer(request) ?? Array("{\"error\":\"stopping\"}".utf8)
            }
            control?.start()
        } catch {
            // Polling matters more than the technician's socket: run without it, loudly.
            logger.error("control socket unavailable; tramctl status will not reach this agent", metadata: ["error": "\(error)"])
        }
        var metricsServer: MetricsServer?
        if let port = config.control.metricsPort {
            do {
                let metrics = self.metrics
                metricsServer = try MetricsServer(port: UInt16(port), exposition: { metrics.exposition() },
                                                  health: { [weak self] in (self?.isAlive() ?? false) ? nil : "a stage of the agent is not making progress" },
                                                  logger: logger)
                metricsServer?.start()
                logger.info("metrics on http://127.0.0.1:\(metricsServer!.port)/metrics")
            } catch {
                logger.error("metrics port unavailable; /metrics is off", metadata: ["port": "\(port)", "error": "\(error)"])
            }
        }
        for uplink in uplinkList.withLock({ $0 }) { uplink.start() }
        writerSlot.withLock { $0.start() }
        for engine in engines.withLock({ Array($0.values) }) { startPolling(engine) }
        let housekeeping = OwnedThread(name: "tram-health") { [self] in runHousekeeping() }
        services.withLock { $0 = (control, metricsServer, housekeeping) }
        notifier.ready(status: "polling \(config.devices.count) devices, \(config.sinks.count) sinks")
        if config.sinks.isEmpty {
            logger.warning("no sinks configured: readings are only spooled (add a 'sinks:' section to deliver them)")
        }
        logger.notice("tram-agent running", metadata: [
            "gateway": "\(config.gateway.id)", "devices": "\(config.devices.count)", "sinks": "\(config.sinks.map(\.name))",
            "spool": "\(config.spool.directory)",
        ])
    }

    private func startPolling(_ engine: AcquisitionEngine) {
        let board = self.board, metrics = self.metrics, clock = self.clock
        engine.startPolling { [self] reading in
            var latency: UInt64 = 0
            for index in reading.requests.indices { latency += reading.requests[index].roundTripNanoseconds }
            board.record(reading, latencyMilliseconds: Double(latency) / 1e6, nowMilliseconds: clock.monotonicMilliseconds())
            metrics.record(reading, latencySeconds: Double(latency) / 1e9)
            writerSlot.withLock { $0.submit(reading) }
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

    /// Graceful shutdown: stop polling, seal and sync the open batch, deliver what the uplinks can within their
    /// grace period (then abandon the rest: unacknowledged batches go again after the restart), close the spool.
    public func stop() async {
        notifier.stopping(status: "stopping: sealing the open batch")
        let running = engines.withLock { Array($0.values) }
        for engine in running { engine.stopPolling() }
        for engine in running { await engine.shutdown() }
        tcpPool.withLock { $0?.shutdown() }
        let writer = writerSlot.withLock { $0 }
        // Joins, grace periods and the final fdatasync block: on a thread of their own, not the cooperative pool.
        let books = await OwnedThread.offload(name: "tram-stop") { [self] in
            writer.stop()
            for uplink in uplinkList.withLock({ $0 }) { uplink.stop(graceMilliseconds: 1_500) }
            let (control, metricsServer, housekeeping) = services.withLock { $0 }
            control?.stop()
            stopping.store(true, ordering: .releasing)
            housekeepingWakeup.signal()
            housekeeping?.join()
            metricsServer?.stop()
            let books = spool.withSpool { $0.counters }
            do { try spool.withSpool { spool throws(Errno) in try spool.close() } } catch {
                logger.error("closing the spool failed", metadata: ["error": "\(error)"])
            }
            return books
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

    /// Applies a new config; what did not change keeps running.
    ///
    /// - Polling: per link. A link whose settings and devices are unchanged keeps polling on its open connection;
    ///   a changed link is stopped (its port closed and unlocked) and started anew; links come and go. A new
    ///   `io_threads` restarts every TCP link on a new pool.
    /// - The writer: swapped when the schema (points, names, units, the gateway id) or the batch settings changed.
    ///   The swap happens under the slot's lock: cycles polled meanwhile wait a moment, none is lost; the old
    ///   writer seals its open batch first, and the new one stores its dictionary before its first batch.
    /// - Sinks: restarted when their settings changed. Spool settings and sink names take effect at the next
    ///   restart, because the spool tracks delivery by sink name (the log says so).
    public func reload(_ requested: AgentConfig) async {
        let old = config
        var new = requested
        new.spool = old.spool
        notifier.reloading(status: "reloading \(configPath)")
        if old.spool != requested.spool { logger.warning("spool settings changed; they take effect at the next restart") }
        if Set(old.sinks.map(\.name)) != Set(requested.sinks.map(\.name)) {
            logger.warning("sink names changed; the spool tracks delivery by name, so added or removed sinks take effect at the next restart")
        }
        new.sinks = requested.sinks.filter { sink in old.sinks.contains { $0.name == sink.name } }

        // Polling, per link.
        let poolChanged = old.ioThreads != new.ioThreads
        let before = LinkFingerprint.all(old), after = LinkFingerprint.all(new)
        var restartedLinks: [String] = []
        let stale = engines.withLock { engines in
            engines.filter { name, _ in before[name] != after[name] || (poolChanged && after[name].map { !$0.link.endpoint.isSerialBus } == true) }
        }
        for (_, engine) in stale { engine.stopPolling() }
        for (_, engine) in stale { await engine.shutdown() }
        var pool = tcpPool.withLock { $0 }
        if poolChanged || (pool == nil && new.links.contains { !$0.endpoint.isSerialBus }) {
            pool?.shutdown()
            pool = Self.makeTCPPool(new)
            tcpPool.withLock { [pool] in $0 = pool }
        }
        let fresh = new.links.map(\.name).filter { name in stale[name] != nil || engines.withLock { $0[name] == nil } }
        let added = Self.makeEngines(new, links: fresh, pool: pool, logger: logger)
        engines.withLock { engines in
            for name in stale.keys { engines[name] = nil }
            for name in engines.keys where after[name] == nil { engines[name] = nil }
            for (name, engine) in added { engines[name] = engine }
        }
        board.setDevices(new.devices)
        metrics.retainDevices(Set(new.devices.map(\.name)))

        // The writer, when the schema or the batch settings changed.
        let mapping = SchemaMapping(config: new)
        let schemaChanged = writerSlot.withLock { $0.mapping.dictionary.schemaID } != mapping.dictionary.schemaID || old.batch != new.batch
        if schemaChanged {
            let replacement = Self.makeWriter(new, mapping: mapping, spool: spool, uplinks: uplinkList, clockFlags: clockFlags, logger: logger)
            await OwnedThread.offload(name: "tram-reload") { [self] in
                writerSlot.withLock { writer in
                    writer.stop()
                    replacement.start()
                    writer = replacement
                }
            }
        }
        for (name, engine) in added {
            startPolling(engine)
            restartedLinks.append(name)
        }

        // Sinks.
        let sinksChanged = old.sinks != new.sinks || old.gateway.id != new.gateway.id
        if sinksChanged {
            let replaced = uplinkList.withLock { $0 }
            await OwnedThread.offload(name: "tram-reload") {
                for uplink in replaced { uplink.stop(graceMilliseconds: 1_500) }
            }
            let fresh = Self.makeUplinks(new, spool: spool, logger: logger)
            uplinkList.withLock { $0 = fresh }
            for uplink in fresh { uplink.start() }
        }
        current.withLock { $0 = new }
        reloads.withLock { $0 = ($0.count + 1, nil) }
        notifier.ready(status: "polling \(new.devices.count) devices, \(new.sinks.count) sinks")
        logger.notice("configuration reloaded", metadata: [
            "links_restarted": "\(restartedLinks.sorted())", "writer": "\(schemaChanged ? "new schema" : "unchanged")",
            "sinks": "\(sinksChanged ? "restarted" : "unchanged")",
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
        return writerSlot.withLock { $0.isAlive(nowMilliseconds: now) } && uplinkList.withLock { $0 }.allSatisfy { $0.isAlive(nowMilliseconds: now) }
    }

    public var spoolStatus: SpoolStatus { spool.withSpool { $0.status } }
    public var uplinkStatuses: [UplinkStatus] { uplinkList.withLock { $0 }.map(\.status) }
    public var writerStatistics: BatchWriter.Statistics { writerSlot.withLock { $0.statistics } }
    public var devices: DeviceBoard { board }
    public var monotonicMilliseconds: Int64 { clock.monotonicMilliseconds() }
    public var uptimeMilliseconds: Int64 { clock.monotonicMilliseconds() - startedMonotonicMilliseconds }
    public var reloadCount: Int { reloads.withLock { $0.count } }
    public var lastReloadError: String? { reloads.withLock { $0.lastError } }

    /// An ad-hoc read on the link that owns `serialDevice`, serialised with its polling. Blocks the calling
    /// thread (the control socket's own) until the link's thread has done it, for at most `timeoutMilliseconds`.
    func read(serialDevice: String, unit: Int, request: ReadRequest, timeoutMilliseconds: Int64 = 10_000)
        -> (link: String, result: Result<[UInt16], ModbusError>, roundTripNanoseconds: UInt64)? {
        guard let (link, engine) = engines.withLock({ engines in
            engines.lazy.compactMap { _, engine in engine.link(servingSerialDevice: serialDevice).map { ($0, engine) } }.first
        }) else { return nil }
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

/// The current uplink workers, shared by the runtime (which replaces them on a reload) and the writer thread (which
/// wakes them after each batch). A class so the writer's closure can hold it.
final class UplinkRoster: Sendable {
    private let workers: Mutex<[UplinkWorker]>

    init(_ workers: [UplinkWorker]) { self.workers = Mutex(workers) }

    func withLock<Result: Sendable>(_ body: (inout [UplinkWorker]) -> Result) -> Result { workers.withLock { body(&$0) } }
}
