import TramBuiltinPoints
import Logging
import Synchronization
import SystemPackage
import TramConfig
import TramModbus
import TramBatch
import TramSchema
import TramSpool
import TramStageOptions
import TramThreads
import TramUplink
import TramWrite
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// The whole pipeline of one gateway: poll → encode → spool → uplink, and the control socket.
///
/// Threads: the I/O executors poll (one thread per serial bus, a bounded pool for TCP); the batch writer owns
/// encoding and appends; each sink's uplink runs on its own thread; the control socket on another. The spool
/// is shared behind one lock (`SharedSpool`). Nothing here blocks Swift's cooperative pool: the async methods
/// only orchestrate.
public final class AgentRuntime: Sendable {
    public static let version = "0.7.0"

    public let configPath: String
    /// What the agent shows of itself (the control socket, metrics and the watchdog read it).
    public let status: AgentStatusView
    private let logger: Logger
    private let stages: RunningStages
    /// One engine per link, so a reload restarts only the links whose polling changed. TCP links share one pool.
    private let engines: Mutex<[String: AcquisitionEngine]>
    private let tcpPool: Mutex<IOExecutor?>
    private let services = Mutex<(control: ControlServer?, metrics: MetricsServer?, housekeeping: OwnedThread?)>(
        (nil, nil, nil))
    private let metrics = AgentMetrics()
    private let notifier: SystemdNotifier
    private let stopping = Atomic<Bool>(false)
    private let housekeepingWakeup = Wakeup()
    private let clock = TramClock.system
    private let writeJournal = Mutex<WriteJournal?>(nil)
    /// The clock's state for each encoded cycle (synchronised, stepped).
    public let clockFlags: @Sendable () -> ClockFlags

    /// Opens the spool and prepares every stage (`AgentAssembly`); nothing runs until `start`.
    public init(
        config: AgentConfig, configPath: String, clockFlags: @escaping @Sendable () -> ClockFlags = { .synchronised },
        notifier: SystemdNotifier = SystemdNotifier(environment: [:]), logger: Logger
    ) throws {
        self.notifier = notifier
        self.configPath = configPath
        self.logger = logger
        self.clockFlags = clockFlags
        let spool = try AgentAssembly.spool(config, logger: logger)
        let pool = AgentAssembly.tcpPool(config)
        tcpPool = Mutex(pool)
        engines = Mutex(AgentAssembly.engines(config, links: config.links.map(\.name), pool: pool, logger: logger))
        // Runs on the start thread (AgentDaemon), so asking ModemManager here never blocks the cooperative pool.
        let builtins = BuiltinDeviceSet.resolve(config, logger: logger)
        stages = RunningStages(
            spool: spool, board: DeviceBoard(devices: config.devices), config: config,
            writer: AgentAssembly.writer(
                config, mapping: SchemaMapping(config: config, builtins: builtins), spool: spool,
                clockFlags: clockFlags, logger: logger),
            uplinks: AgentAssembly.uplinks(config, spool: spool, logger: logger), builtins: builtins)
        status = AgentStatusView(
            stages: stages, clock: clock, version: Self.version, configPath: configPath,
            startedWallMilliseconds: clock.wallMilliseconds(),
            startedMonotonicMilliseconds: clock.monotonicMilliseconds())
    }

    public var config: AgentConfig { status.config }

    /// Starts every stage: the control socket first (so `tramctl status` works while devices connect), then the
    /// uplinks, the writer, and polling.
    public func start() throws {
        let config = self.config
        var control: ControlServer?
        do {
            control = try ControlServer(path: config.control.socket, logger: logger) { [weak self] request, peer in
                self?.answer(request, peer: peer) ?? Array("{\"error\":\"stopping\"}".utf8)
            }
            control?.start()
        } catch {
            // Polling matters more than the technician's socket: run without it, loudly.
            logger.error(
                "control socket unavailable; tramctl status will not reach this agent", metadata: ["error": "\(error)"])
        }
        var metricsServer: MetricsServer?
        if let port = config.control.metricsPort {
            do {
                let metrics = self.metrics
                metricsServer = try MetricsServer(
                    port: UInt16(port), exposition: { metrics.exposition() },
                    health: { [status] in status.isAlive() ? nil : "a stage of the agent is not making progress" },
                    logger: logger)
                metricsServer?.start()
                logger.info("metrics on http://127.0.0.1:\(metricsServer!.port)/metrics")
            } catch {
                logger.error(
                    "metrics port unavailable; /metrics is off", metadata: ["port": "\(port)", "error": "\(error)"])
            }
        }
        for uplink in stages.uplinks.withLock({ $0 }) { uplink.start() }
        stages.writer.withLock { $0.start() }
        for engine in engines.withLock({ Array($0.values) }) { startPolling(engine) }
        startModem(config)
        let housekeeping = OwnedThread(name: "tram-health") { [self] in runHousekeeping() }
        services.withLock { $0 = (control, metricsServer, housekeeping) }
        notifier.ready(status: "polling \(config.devices.count) devices, \(config.sinks.count) sinks")
        if config.sinks.isEmpty {
            logger.warning("no sinks configured: readings are only spooled (add a 'sinks:' section to deliver them)")
        }
        logger.notice(
            "tram-agent running",
            metadata: [
                "gateway": "\(config.gateway.id)", "devices": "\(config.devices.count)",
                "sinks": "\(config.sinks.map(\.name))",
                "spool": "\(config.spool.directory)",
            ])
    }

    private func startPolling(_ engine: AcquisitionEngine) {
        let board = stages.board, metrics = self.metrics, clock = self.clock, stages = self.stages
        engine.startPolling { reading in
            var latency: UInt64 = 0
            for index in reading.requests.indices { latency += reading.requests[index].roundTripNanoseconds }
            board.record(
                reading, latencyMilliseconds: Double(latency) / 1e6, nowMilliseconds: clock.monotonicMilliseconds())
            metrics.record(reading, latencySeconds: Double(latency) / 1e9)
            stages.writer.withLock { $0.submit(reading) }
        }
    }

    /// Hands a built-in device's cycle to the writer, like a Modbus cycle, and keeps it for the control socket.
    private func deliverBuiltin(_ reading: DeviceReading, cpuNanoseconds: Int64) {
        metrics.recordBuiltinPoll(device: reading.device, cpuNanoseconds: cpuNanoseconds)
        stages.builtinLatest.withLock { $0[reading.device] = reading }
        stages.writer.withLock { $0.submit(reading) }
    }

    /// Starts the `modem` device's thread when the running schema has it.
    private func startModem(_ config: AgentConfig) {
        guard let device = stages.builtins.withLock({ $0.first { $0.name == BuiltinDevice.modemName } }) else {
            return
        }
        let thread = ModemPollingThread(device: device, settings: config.modem, logger: logger) { [weak self] in
            self?.deliverBuiltin($0, cpuNanoseconds: $1)
        }
        stages.modem.withLock { $0 = thread }
        thread.start()
    }

    /// The `gateway` device's sample, when one is due.
    private func sampleHealth(spool: SpoolStatus, uplinks: [UplinkStatus]) {
        let now = clock.monotonicMilliseconds()
        let cpu = ProcessUsage.threadCPUNanoseconds()
        let reading = stages.health.withLock { sampler -> DeviceReading? in
            guard let sampler, now >= sampler.dueAtMilliseconds else { return nil }
            sampler.dueAtMilliseconds = now + sampler.device.pollInterval.milliseconds
            return sampler.sample(
                status: status, spool: spool, uplinks: uplinks, clock: clockFlags(), now: clock.now(),
                monotonicNanoseconds: clock.monotonicNanoseconds())
        }
        if let reading { deliverBuiltin(reading, cpuNanoseconds: ProcessUsage.threadCPUNanoseconds() - cpu) }
    }

    /// With `modem: enabled: auto` and no modem device, asks ModemManager every `autoProbeSeconds`; when it has exactly
    /// one modem, the agent reloads itself (SIGHUP, the one reload path), which adds the device. Blocks this thread for
    /// at most the D-Bus timeout (2 s), well inside the watchdog's interval.
    private func probeForModem(_ next: inout Int64) {
        let now = clock.monotonicMilliseconds()
        guard now >= next, config.modem.mode == .auto,
            !stages.builtins.withLock({ $0.contains { $0.name == BuiltinDevice.modemName } })
        else { return }
        next = now + BuiltinDeviceSet.autoProbeSeconds * 1000
        guard case .success(1) = BuiltinDeviceSet.countModems() else { return }
        logger.notice("ModemManager has one modem now: reloading to add the built-in 'modem' device")
        next = now + 60_000  // the reload answers; do not ask again before it has
        kill(getpid(), SIGHUP)
    }

    /// Once a second, on a thread of its own (the spool's lock may be held across an `fdatasync`): the metrics'
    /// spool and uplink figures, and the systemd watchdog, fed only while every stage's loop is alive.
    private func runHousekeeping() {
        var lastPing: Int64?
        var nextModemProbe = clock.monotonicMilliseconds() + BuiltinDeviceSet.autoProbeSeconds * 1000
        var nextTrim = clock.monotonicMilliseconds() + FreedMemory.intervalMilliseconds
        let interval = notifier.watchdogInterval.map(\.milliseconds)
        while !stopping.load(ordering: .acquiring) {
            // One read of the spool (its lock may wait on an fdatasync) and the uplinks, for the metrics and the sample.
            let spool = status.spool, uplinks = status.uplinks
            metrics.update(spool: spool, uplinks: uplinks, readingsSuppressed: status.writer.readingsSuppressed)
            sampleHealth(spool: spool, uplinks: uplinks)
            probeForModem(&nextModemProbe)
            let now = clock.monotonicMilliseconds()
            if now >= nextTrim {
                let microseconds = FreedMemory.returnToKernel()
                logger.debug("returned freed memory to the kernel", metadata: ["took_us": "\(microseconds)"])
                nextTrim = now + FreedMemory.intervalMilliseconds
            }
            if let interval, lastPing.map({ now - $0 >= interval }) ?? true {
                if status.isAlive() {
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
        let modem = stages.modem.withLock { $0 }
        let writer = stages.writer.withLock { $0 }
        // Joins, grace periods and the final fdatasync block: on a thread of their own, not the cooperative pool.
        let books = await OwnedThread.offload(name: "tram-stop") { [self] in
            modem?.stop()
            stages.health.withLock { $0 = nil }  // no gateway sample for a writer that has stopped
            writer.stop()
            for uplink in stages.uplinks.withLock({ $0 }) { uplink.stop(graceMilliseconds: 1_500) }
            let (control, metricsServer, housekeeping) = services.withLock { $0 }
            control?.stop()
            stopping.store(true, ordering: .releasing)
            housekeepingWakeup.signal()
            housekeeping?.join()
            metricsServer?.stop()
            let books = stages.spool.withSpool { $0.counters }
            do { try stages.spool.withSpool { spool throws(Errno) in try spool.close() } } catch {
                logger.error("closing the spool failed", metadata: ["error": "\(error)"])
            }
            return books
        }
        let written = writer.statistics
        logger.notice(
            "tram-agent stopped",
            metadata: [
                "readings_produced": "\(written.readingsProduced)", "readings_sealed": "\(written.readingsSealed)",
                "readings_suppressed": "\(written.readingsSuppressed)",
                "readings_dropped_before_spool":
                    "\(written.readingsDroppedQueueFull + written.readingsDroppedUnencodable)",
                "spool_appended": "\(books.appended.readings)", "spool_delivered": "\(books.delivered.readings)",
                "spool_buffered": "\(books.buffered.readings)", "spool_dropped": "\(books.droppedTotal.readings)",
                "books_balance": "\(books.balances)",
            ])
    }

    /// Applies a new config; what did not change keeps running. `ReloadPlan` decides what changes; this carries
    /// it out. The writer swap happens under its slot's lock: cycles polled meanwhile wait a moment, none is lost;
    /// the old writer seals its open batch first, and the new one stores its dictionary before its first batch.
    public func reload(_ requested: AgentConfig) async {
        let old = config
        notifier.reloading(status: "reloading \(configPath)")
        let logger = self.logger
        // The built-in devices of the config the reload will run: its sinks are the effective ones (added or removed
        // sinks wait for a restart), and an auto modem device that is on stays on while `modem:` is unchanged.
        var schemaConfig = requested
        schemaConfig.sinks = ReloadPlan.effectiveSinks(old: old, requested: requested)
        let keepModem =
            old.modem == requested.modem
            && stages.builtins.withLock { $0.contains { $0.name == BuiltinDevice.modemName } }
        let builtins = await OwnedThread.offload(name: "tram-reload") { [schemaConfig] in
            BuiltinDeviceSet.resolve(schemaConfig, keepModem: keepModem, logger: logger)
        }
        let mapping = SchemaMapping(config: requested, builtins: builtins)
        let plan = ReloadPlan(
            old: old, requested: requested, running: Set(engines.withLock { $0.keys }),
            hasTCPPool: tcpPool.withLock { $0 != nil },
            schemaChanged: stages.writer.withLock { $0.mapping.dictionary.schemaID } != mapping.dictionary.schemaID)
        let new = plan.effective
        if plan.spoolChangeDeferred { logger.warning("spool settings changed; they take effect at the next restart") }
        if plan.sinkNamesChangeDeferred {
            logger.warning(
                "sink names changed; the spool tracks delivery by name, so added or removed sinks take effect at the next restart"
            )
        }

        // Polling, per link.
        let stale = engines.withLock { engines in engines.filter { plan.stopLinks.contains($0.key) } }
        for (_, engine) in stale { engine.stopPolling() }
        for (_, engine) in stale { await engine.shutdown() }
        var pool = tcpPool.withLock { $0 }
        if plan.replacesTCPPool {
            pool?.shutdown()
            pool = AgentAssembly.tcpPool(new)
            tcpPool.withLock { [pool] in $0 = pool }
        }
        let added = AgentAssembly.engines(
            new, links: new.links.map(\.name).filter(plan.startLinks.contains), pool: pool, logger: logger)
        engines.withLock { engines in
            for name in plan.stopLinks { engines[name] = nil }
            for (name, engine) in added { engines[name] = engine }
        }
        stages.board.setDevices(new.devices)
        metrics.retainDevices(Set(new.devices.map(\.name)))

        // The built-in devices stop feeding the writer before it is swapped (a cycle of the old schema must not reach
        // the new writer), and start again after it.
        let oldBuiltins = stages.builtins.withLock { $0 }
        let modemDevice = builtins.first { $0.name == BuiltinDevice.modemName }
        let runningModem = stages.modem.withLock { $0 }
        let restartsModem =
            runningModem?.device != modemDevice || (modemDevice != nil && runningModem?.settings != new.modem)
        let replacesSampler = oldBuiltins != builtins
        if replacesSampler { stages.health.withLock { $0 = nil } }
        if restartsModem, let runningModem {
            await OwnedThread.offload(name: "tram-reload") { runningModem.stop() }
            stages.modem.withLock { $0 = nil }
        }
        stages.builtins.withLock { $0 = builtins }

        // The writer.
        if plan.replacesWriter {
            let replacement = AgentAssembly.writer(
                new, mapping: mapping, spool: stages.spool, clockFlags: clockFlags, logger: logger)
            await OwnedThread.offload(name: "tram-reload") { [stages] in
                stages.writer.withLock { writer in
                    writer.stop()
                    replacement.start()
                    writer = replacement
                }
            }
        }
        for (_, engine) in added { startPolling(engine) }
        if replacesSampler { stages.health.withLock { $0 = RunningStages.healthSampler(builtins, config: new) } }
        if restartsModem { startModem(new) }

        // Sinks.
        if plan.restartsSinks {
            let replaced = stages.uplinks.withLock { $0 }
            await OwnedThread.offload(name: "tram-reload") {
                for uplink in replaced { uplink.stop(graceMilliseconds: 1_500) }
            }
            let fresh = AgentAssembly.uplinks(new, spool: stages.spool, logger: logger)
            stages.uplinks.withLock { $0 = fresh }
            for uplink in fresh { uplink.start() }
        }
        stages.config.withLock { $0 = new }
        stages.reloads.withLock { $0 = ($0.count + 1, nil) }
        notifier.ready(status: "polling \(new.devices.count) devices, \(new.sinks.count) sinks")
        logger.notice(
            "configuration reloaded",
            metadata: [
                "links_restarted": "\(added.keys.sorted())",
                "writer": "\(plan.replacesWriter ? "new schema" : "unchanged")",
                "sinks": "\(plan.restartsSinks ? "restarted" : "unchanged")",
            ])
    }

    /// Records a reload that failed validation (the old config keeps running).
    public func reloadRejected(_ why: String) {
        stages.reloads.withLock { $0.lastError = why }
    }

    // MARK: The control socket

    /// An ad-hoc read on the link that owns `serialDevice`, serialised with its polling. Blocks the calling
    /// thread (the control socket's own) until the link's thread has done it, for at most `timeoutMilliseconds`.
    func read(serialDevice: String, unit: Int, request: ReadRequest, timeoutMilliseconds: Int64 = 10_000)
        -> (link: String, result: Result<[UInt16], ModbusError>, roundTripNanoseconds: UInt64)?
    {
        guard
            let (link, engine) = engines.withLock({ engines in
                engines.lazy.compactMap { _, engine in
                    engine.link(servingSerialDevice: serialDevice).map { ($0, engine) }
                }.first
            })
        else { return nil }
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
    func answer(_ request: String, peer: ControlPeer? = nil) -> [UInt8] {
        ControlProtocol.answer(request, peer: peer, runtime: self)
    }

    /// The `write` request's server, on the running config; the journal opened at the first write (and again when
    /// a reload moves it).
    func writes() -> AgentWrites {
        let config = self.config
        let journal = openJournal(config)
        return AgentWrites(
            config: config, journal: journal, logger: logger,
            withLink: { [self] name, pause, timeout, job in
                engines.withLock { $0[name] }?.withLink(name, pause: pause, timeout: timeout, job) ?? false
            },
            linkServing: { [self] endpoint in
                engines.withLock { engines in engines.values.lazy.compactMap { $0.link(serving: endpoint) }.first }
            }, clock: clock, count: { [metrics] in metrics.countWrite(result: $0) })
    }

    /// The journal's newest lines for `status`, when writes are on.
    func recentWrites() -> [String] {
        openJournal(config)?.entries ?? []
    }

    /// The write journal when writes are on: opened (and cut to its newest lines) once, and again when a reload
    /// moves it.
    private func openJournal(_ config: AgentConfig) -> WriteJournal? {
        guard config.control.writes else { return nil }
        return writeJournal.withLock { journal in
            if journal?.path != config.control.writeJournal {
                journal = WriteJournal(path: config.control.writeJournal)
            }
            return journal
        }
    }
}
