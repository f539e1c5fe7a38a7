import Logging
import Synchronization
import SystemPackage
import TramSpool
import TramThreads
import TramCore

/// Runs one sink's delivery loop on a thread of its own: libcurl blocks, so it never touches Swift's cooperative pool.
///
/// The loop takes batches from the shared spool, uploads them, and sleeps only as long as the uplink asks
/// (a backoff, a `Retry-After`, a pause for a configuration problem, or an empty spool). New batches wake an
/// idle loop at once, and `stop` wakes any sleep; an upload in flight at shutdown is abandoned within about a second,
/// its batches released unacknowledged, so they go again after the restart and the collector's dedupe drops repeats.
///
/// Credentials are read when the transport is made, and made again after a refusal: fixing a token file, a
/// certificate or a CA file on disk resumes delivery without a restart.
public final class UplinkWorker: @unchecked Sendable {
    public let options: SinkOptions
    private let queue: SharedSpool
    private let clock: TramClock
    private let logger: Logger
    private let wakeup = Wakeup()
    private let stopping = Atomic<Bool>(false)
    private let drainDeadline = Atomic<Int64>(Int64.max)
    private let cancellation = TransportCancellation()
    private let published: Mutex<UplinkStatus>
    private let heartbeatMilliseconds: Atomic<Int64>
    private let thread = Mutex<OwnedThread?>(nil)
    private let deadLetterPath: FilePath
    private let budgetPath: FilePath
    /// Wait between attempts while paused for a configuration problem.
    public let pauseMilliseconds: Int64
    /// The loop beats at least this often, even while it sleeps, so a watchdog can tell asleep from stuck.
    static let heartbeatIntervalMilliseconds: Int64 = 5_000

    /// - Parameter spoolDirectory: where the dead-letter file and the budget's day counter live by default.
    public init(
        options: SinkOptions, queue: SharedSpool, spoolDirectory: FilePath,
        pauseMilliseconds: Int64 = 60_000, clock: TramClock = .system, logger: Logger
    ) {
        self.options = options
        self.queue = queue
        self.clock = clock
        var logger = logger
        logger[metadataKey: "sink"] = "\(options.name)"
        self.logger = logger
        self.pauseMilliseconds = pauseMilliseconds
        deadLetterPath =
            options.deadLetterFile.map { FilePath($0) } ?? spoolDirectory.appending("rejected-\(options.name).frames")
        budgetPath = spoolDirectory.appending("budget-\(options.name).day")
        var status = UplinkStatus(sink: options.name, url: options.transport.url)
        status.budgetLimit = options.dailyBudgetBytes
        published = Mutex(status)
        heartbeatMilliseconds = Atomic(clock.monotonicMilliseconds())
    }

    public func start() {
        queue.addReader(wakeup)
        thread.withLock { thread in
            guard thread == nil else { return }
            thread = OwnedThread(name: "tram-up-\(options.name)") { [self] in run() }
        }
    }

    /// New batches are in the spool: wake an idle loop (a backoff or a pause is not cut short). Batches appended
    /// through the shared spool's `appendBatch` do this by themselves.
    public func batchesAppended() { wakeup.signal() }

    /// Stops the loop: a sleep ends at once; uploads go on while they succeed for up to `graceMilliseconds` (so
    /// the last sealed batches leave with a clean shutdown), then a request still in flight is abandoned.
    public func stop(graceMilliseconds: Int64 = 2_000) {
        drainDeadline.store(clock.monotonicMilliseconds() + graceMilliseconds, ordering: .releasing)
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
        queue.removeReader(wakeup)
        guard let running = thread.withLock({ $0 }) else { return }
        let deadline = clock.monotonicMilliseconds() + graceMilliseconds
        while heartbeatMilliseconds.load(ordering: .acquiring) != Int64.min, clock.monotonicMilliseconds() < deadline {
            Wakeup().wait(milliseconds: 20)
        }
        cancellation.cancel()
        running.join()
    }

    public var status: UplinkStatus { published.withLock { $0 } }

    /// Monotonic milliseconds of the loop's last beat; `Int64.min` once it has ended.
    public var lastHeartbeatMilliseconds: Int64 { heartbeatMilliseconds.load(ordering: .acquiring) }

    /// Whether the loop beat recently enough: a request can hold it for the request timeout, a sleep never longer
    /// than a heartbeat interval. Independent of delivery succeeding: an outage must not look like a hang.
    public func isAlive(nowMilliseconds: Int64) -> Bool {
        let beat = lastHeartbeatMilliseconds
        guard beat != Int64.min else { return stopping.load(ordering: .acquiring) }
        let limit = Int64(options.transport.requestTimeoutSeconds) * 1000 + Self.heartbeatIntervalMilliseconds + 10_000
        return nowMilliseconds - beat <= limit
    }

    private func beat() { heartbeatMilliseconds.store(clock.monotonicMilliseconds(), ordering: .releasing) }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    // MARK: The loop (on the worker's thread only)

    private func run() {
        var budget = DataBudget(
            limitBytes: options.dailyBudgetBytes, file: budgetPath, nowMilliseconds: clock.wallMilliseconds())
        var uplink: Uplink?
        var credentialsRefused = false
        defer {
            publish { $0.state = .stopped }
            heartbeatMilliseconds.store(Int64.min, ordering: .releasing)
        }
        while true {
            beat()
            // Stopping: keep delivering while uploads succeed and the grace period lasts (the writer's last
            // sealed batch goes out with it), then end; `stop` abandons a request still in flight at the deadline.
            let draining = isStopping
            if draining, clock.monotonicMilliseconds() >= drainDeadline.load(ordering: .acquiring) { break }
            if let wait = budget.millisecondsUntilAvailable(nowMilliseconds: clock.wallMilliseconds()) {
                if draining { break }
                publish {
                    $0.state = .overBudget(resumesInMilliseconds: wait); $0.budgetUsedToday = budget.usedBytes
                }
                logger.warning(
                    "daily data budget spent; every batch is kept until the next UTC day",
                    metadata: ["used_bytes": "\(budget.usedBytes)", "resumes_in_s": "\(wait / 1000)"])
                sleep(milliseconds: wait)
                continue
            }
            if uplink == nil || credentialsRefused {
                uplink = makeUplink()
                credentialsRefused = false
                guard uplink != nil else {
                    if draining { break }
                    sleep(milliseconds: pauseMilliseconds)
                    continue
                }
            }
            let active = uplink!
            let before = active.transport.bytesOnWire
            let report = active.deliverOnce(spool: queue)
            let spent = active.transport.bytesOnWire - before
            budget.record(bytes: spent, nowMilliseconds: clock.wallMilliseconds())
            record(report, uplink: active, spent: spent, budget: budget)
            if case .paused = active.state { credentialsRefused = true }
            if draining {
                if report.batches.isEmpty || report.action != .acknowledge { break }
            } else if report.batches.isEmpty {
                // Nothing to send: sleep until a new batch, a heartbeat, or a released batch's turn.
                wakeup.wait(milliseconds: Self.heartbeatIntervalMilliseconds)
            } else if report.waitMilliseconds > 0 {
                sleep(milliseconds: report.waitMilliseconds)
            }
        }
    }

    /// Reads the token and makes the transport; on failure reports why (paused) and returns nil.
    private func makeUplink() -> Uplink? {
        var token: String?
        if let path = options.tokenFile {
            do throws(TokenFile.Problem) { token = try TokenFile.read(path, logger: logger) } catch {
                pause("\(error)")
                return nil
            }
        }
        let transport: CurlTransport
        do throws(TransportFailure) {
            var transportOptions = options.transport
            transportOptions.token = token
            transport = try CurlTransport(transportOptions, logger: logger)
        } catch {
            pause("cannot set up the transport: \(error)")
            return nil
        }
        transport.cancellation = cancellation
        let uplink = Uplink(
            sink: options.name, kind: options.kind, transport: transport,
            maximumUploadBytes: options.maximumUploadBytes, deadLetterPath: deadLetterPath, logger: logger)
        uplink.pauseMilliseconds = pauseMilliseconds
        if !options.compressLines { uplink.lineCompressor = nil }
        return uplink
    }

    private func pause(_ why: String) {
        logger.error("uplink paused: every batch is kept", metadata: ["problem": "\(why)"])
        publish {
            $0.state = .paused(why); $0.lastProblem = why
        }
    }

    private func record(_ report: DeliveryReport, uplink: Uplink, spent: Int, budget: DataBudget) {
        guard !report.batches.isEmpty else { return }
        publish { status in
            status.state = uplink.state
            status.uploads += 1
            status.bytesOnWire += spent
            status.budgetUsedToday = budget.usedBytes
            status.batchesRejected += report.deadLettered.count
            switch report.action {
            case .acknowledge?:
                status.batchesDelivered += report.batches.count
                status.lastDeliveryMilliseconds = clock.wallMilliseconds()
                status.consecutiveFailures = 0
            case .pause(let why)?:
                status.failedUploads += 1
                status.consecutiveFailures += 1
                status.lastProblem = why
            default:
                status.failedUploads += 1
                status.consecutiveFailures += 1
                status.lastProblem = report.status.map { "HTTP \($0)" } ?? "no answer (timeout or connection failure)"
            }
        }
    }

    private func publish(_ change: (inout UplinkStatus) -> Void) {
        published.withLock { change(&$0) }
    }

    /// Sleeps `milliseconds`, beating the heartbeat, ending early only for `stop`.
    private func sleep(milliseconds: Int64) {
        let deadline = clock.monotonicMilliseconds() + milliseconds
        while !isStopping {
            let left = deadline - clock.monotonicMilliseconds()
            guard left > 0 else { return }
            wakeup.wait(milliseconds: min(left, Self.heartbeatIntervalMilliseconds))
            beat()
        }
    }
}
