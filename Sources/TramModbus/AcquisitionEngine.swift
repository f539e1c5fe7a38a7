import Logging
import Synchronization
import TramConfig
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// Wires a config's links and devices to I/O threads and polls devices on demand.
///
/// Each serial link (local or behind a device server) gets its own one-thread
/// executor: all unit ids on the bus are serialised through it. TCP links share
/// one pool of `io_threads` threads, one lane (one connection) per endpoint.
/// Callers use `async` methods; the blocking work never touches the cooperative pool.
public final class AcquisitionEngine: Sendable {
    private struct LinkEntry: @unchecked Sendable {
        let executor: IOExecutor
        let lane: IOExecutor.Lane
        /// Touched only by jobs on `lane`.
        let session: LinkSession
    }

    private struct DeviceEntry: @unchecked Sendable {
        let link: LinkEntry
        /// Touched only by jobs on the link's lane.
        let poller: DevicePoller
    }

    public let config: AgentConfig
    private let tcpExecutor: IOExecutor?
    /// Whether `tcpExecutor` is this engine's own (shut down with it) or shared with other engines.
    private let ownsTCPExecutor: Bool
    private let serialExecutors: [IOExecutor]
    private let devices: [String: DeviceEntry]
    private let links: [String: LinkEntry]
    private let polling = Atomic<Bool>(false)
    private let overrunCount = Atomic<Int>(0)

    /// - Parameter sharedTCPExecutor: a TCP pool shared with other engines (the agent runs one engine per link, so a
    ///   reload replaces only the links that changed); nil makes a pool of `io_threads` threads for this engine.
    public init(config: AgentConfig, sharedTCPExecutor: IOExecutor? = nil, logger: Logger) {
        self.config = config
        let needsTCPPool = config.links.contains { !$0.endpoint.isSerialBus }
        let pool = needsTCPPool ? sharedTCPExecutor ?? IOExecutor(threads: config.ioThreads, name: "tram-tcp") : nil
        ownsTCPExecutor = sharedTCPExecutor == nil
        var serial: [IOExecutor] = []
        var links: [String: LinkEntry] = [:]
        for link in config.links {
            let executor: IOExecutor
            if link.endpoint.isSerialBus {
                executor = IOExecutor(threads: 1, name: "tram-bus-\(link.name)")
                serial.append(executor)
            } else {
                executor = pool!
            }
            links[link.name] = LinkEntry(
                executor: executor, lane: IOExecutor.Lane(name: link.name),
                session: LinkSession(link: link, logger: logger))
        }
        var devices: [String: DeviceEntry] = [:]
        for device in config.devices {
            guard let link = links[device.link] else { continue }
            devices[device.name] = DeviceEntry(link: link, poller: DevicePoller(device: device, logger: logger))
        }
        tcpExecutor = pool
        serialExecutors = serial
        self.devices = devices
        self.links = links
    }

    /// Polls one device once. Nil if the config has no such device.
    public func poll(_ device: String) async -> DeviceReading? {
        guard let entry = devices[device] else { return nil }
        return await entry.link.executor.run(on: entry.link.lane) {
            entry.poller.poll(on: entry.link.session)
        }
    }

    /// Polls every device at its `poll_interval` on the I/O threads until ``stopPolling()``,
    /// handing each cycle's reading to `deliver` on the I/O thread that read it.
    ///
    /// `deliver` runs on the link's thread: keep it short and non-blocking
    /// (hand the reading to the encoder), and do not keep the reading past the call
    /// if the hot path is to stay allocation-free. A cycle that overruns its
    /// interval starts the next one at once rather than queueing a backlog; such
    /// overruns are counted in ``overruns``.
    public func startPolling(_ deliver: @escaping @Sendable (DeviceReading) -> Void) {
        polling.store(true, ordering: .releasing)
        let start = TramClock.system.monotonicNanoseconds()
        for entry in devices.values.sorted(by: { $0.poller.device.name < $1.poller.device.name }) {
            scheduleCycle(entry, at: start, deliver: deliver)
        }
    }

    /// Stops scheduling cycles; cycles already running finish.
    public func stopPolling() {
        polling.store(false, ordering: .releasing)
    }

    /// Cycles that started late because the previous one overran the poll interval.
    public var overruns: Int { overrunCount.load(ordering: .relaxed) }

    private func scheduleCycle(
        _ entry: DeviceEntry, at deadline: UInt64, fromWorker: Bool = false,
        deliver: @escaping @Sendable (DeviceReading) -> Void
    ) {
        entry.link.executor.schedule(entry.link.lane, atMonotonicNanoseconds: deadline, fromWorker: fromWorker) {
            [self] in
            guard polling.load(ordering: .acquiring) else { return }
            deliver(entry.poller.poll(on: entry.link.session))
            let interval = UInt64(max(0, entry.poller.device.pollInterval.microseconds)) * 1000
            var next = deadline + interval
            let now = TramClock.system.monotonicNanoseconds()
            if next < now {
                overrunCount.add(1, ordering: .relaxed)
                next = now
            }
            scheduleCycle(entry, at: next, fromWorker: true, deliver: deliver)
        }
    }

    /// The name of the link that owns a serial device (`/dev/ttyUSB0`, or a path that resolves to the same file).
    public func link(servingSerialDevice path: String) -> String? {
        for link in config.links {
            if case .rtu(let device, _) = link.endpoint, device == path || Self.sameFile(device, path) {
                return link.name
            }
        }
        return nil
    }

    private static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// One ad-hoc read on a link's own thread, queued between its poll cycles so it never collides with them on
    /// the bus (`tramctl read` and `scan` through the running agent). `completion` runs on the link's thread with the
    /// registers (bits widened to 0/1) and the round trip, or the error. False if the engine has no such link.
    @discardableResult
    public func read(
        link name: String, unit: Int, request: ReadRequest,
        completion: @escaping @Sendable (Result<[UInt16], ModbusError>, UInt64) -> Void
    ) -> Bool {
        guard let entry = links[name] else { return false }
        entry.executor.submit(entry.lane) {
            let access = LinkAccess(session: entry.session, pause: .zero, timeout: entry.session.link.responseTimeout)
            var registers = [UInt16](repeating: 0, count: request.count)
            var scratch = [UInt8](repeating: 0, count: request.count)
            let started = TramClock.system.monotonicNanoseconds()
            let result = access.request { connection throws(ModbusError) in
                try registers.withUnsafeMutableBufferPointer {
                    (r: inout UnsafeMutableBufferPointer<UInt16>) throws(ModbusError) in
                    try scratch.withUnsafeMutableBufferPointer {
                        (b: inout UnsafeMutableBufferPointer<UInt8>) throws(ModbusError) in
                        try connection.read(request, unit: unit, into: r.baseAddress!, scratch: b.baseAddress!)
                    }
                }
            }
            completion(result.map { registers }, TramClock.system.monotonicNanoseconds() - started)
        }
        return true
    }

    /// Runs `job` on a link's own thread, queued between its poll cycles, so that its requests are never on the
    /// bus at the same time as a poll's (`tramctl write` through the running agent). False if there is no such link.
    @discardableResult
    public func withLink(
        _ name: String, pause: Duration, timeout: Duration, _ job: @escaping @Sendable (LinkAccess) -> Void
    ) -> Bool {
        guard let entry = links[name] else { return false }
        entry.executor.submit(entry.lane) {
            job(LinkAccess(session: entry.session, pause: pause, timeout: timeout))
        }
        return true
    }

    /// The name of the link whose endpoint is `endpoint` (a serial device, by path or the same file; a TCP address).
    public func link(serving endpoint: LinkConfig.Endpoint) -> String? {
        for link in config.links {
            switch (link.endpoint, endpoint) {
            case (.rtu(let a, _), .rtu(let b, _)) where a == b || Self.sameFile(a, b): return link.name
            case (.tcp(let h1, let p1), .tcp(let h2, let p2)) where h1 == h2 && p1 == p2: return link.name
            case (.rtuOverTCP(let h1, let p1), .rtuOverTCP(let h2, let p2)) where h1 == h2 && p1 == p2: return link.name
            default: continue
            }
        }
        return nil
    }

    /// The device's current request plan (which may have been split after exception 02).
    public func plan(of device: String) async -> [ReadRequest]? {
        guard let entry = devices[device] else { return nil }
        return await entry.link.executor.run(on: entry.link.lane) { entry.poller.requests }
    }

    /// Closes every link and stops the I/O threads once their queued work is done.
    public func shutdown() async {
        stopPolling()
        for entry in devices.values {
            await entry.link.executor.run(on: entry.link.lane) { entry.link.session.connection.close() }
        }
        if ownsTCPExecutor { tcpExecutor?.shutdown() }
        serialExecutors.forEach { $0.shutdown() }
    }
}
