import Logging
import Synchronization
import SystemPackage
import TramBatch
import TramConfig
import TramModbus
import TramSchema
import TramSpool
import TramThreads
import TramCore

/// Seals poll cycles into batches in the spool, on one thread of its own.
///
/// Cycles arrive on the I/O threads; `submit` only queues them, so a slow disk never stalls a bus. The writer
/// thread encodes each cycle, seals the batch when it reaches `max_bytes` or `max_age`, compresses it, appends
/// it to the spool, which wakes the uplinks. About once a second it ticks the spool (group-commit `fdatasync`,
/// retirement, bounds). The readings of the open batch live only in memory: a crash loses at most one batch age.
///
/// The queue is bounded: if the writer falls that far behind, further cycles are counted `queue_full`
/// and logged, never dropped silently.
public final class BatchWriter: @unchecked Sendable {
    /// What the writer did since start (shown by status and metrics).
    public struct Statistics: Sendable, Equatable {
        public var cyclesQueued = 0
        public var readingsProduced = 0
        /// Readings held back by report by exception: polled (produced) = sent + suppressed + dropped here. Not
        /// the spool's books, which count what was sent.
        public var readingsSuppressed = 0
        /// Snapshots asked of the devices reported by exception because the spool dropped batches.
        public var snapshotsAfterDrops = 0
        public var batchesSealed = 0
        public var readingsSealed = 0
        /// Cycles refused because the queue was full, and their readings.
        public var cyclesDroppedQueueFull = 0
        public var readingsDroppedQueueFull = 0
        /// Cycles that could not be encoded (a cycle larger than a whole batch), and their readings.
        public var readingsDroppedUnencodable = 0
        /// Batches the spool kept in memory (disk full) or dropped, by the spool's own count.
        public var batchesHeldInMemory = 0
        public var lastSealWallMilliseconds: Int64?
    }

    public let settings: BatchSettings
    public let mapping: SchemaMapping
    /// The largest number of queued cycles before new ones are refused.
    public let queueLimit: Int
    private let spool: SharedSpool
    private let clockFlags: @Sendable () -> ClockFlags
    private let logger: Logger
    private let inbox = Mutex<[DeviceReading]>([])
    private let wakeup = Wakeup()
    private let stopping = Atomic<Bool>(false)
    private let heartbeat = Atomic<Int64>(0)
    private let stats = Mutex(Statistics())
    private let thread = Mutex<OwnedThread?>(nil)
    private let clock: TramClock

    /// - Parameters:
    ///   - clockFlags: the clock's state for the cycle being encoded (synchronised, stepped).
    public init(
        mapping: SchemaMapping, spool: SharedSpool, settings: BatchSettings, queueLimit: Int = 20_000,
        clock: TramClock = .system, clockFlags: @escaping @Sendable () -> ClockFlags = { .synchronised },
        logger: Logger
    ) {
        self.mapping = mapping
        self.spool = spool
        self.settings = settings
        self.queueLimit = queueLimit
        self.clock = clock
        self.clockFlags = clockFlags
        self.logger = logger
        heartbeat.store(clock.monotonicMilliseconds(), ordering: .relaxed)
    }

    /// Appends the schema's dictionary (the spool's contract: after every open) and starts the thread.
    public func start() {
        let frame = mapping.dictionary.frame(), schemaID = mapping.dictionary.schemaID
        let outcome = spool.withSpool { spool in
            frame.withUnsafeBytes { spool.appendDictionary($0, schemaID: schemaID) }
        }
        if outcome != .stored {
            logger.error("the schema dictionary is not on disk yet", metadata: ["outcome": "\(outcome)"])
        }
        thread.withLock { thread in
            guard thread == nil else { return }
            thread = OwnedThread(name: "tram-writer") { [self] in run() }
        }
    }

    /// Queues one poll cycle. Called on the I/O threads: takes a lock briefly, never blocks on disk.
    public func submit(_ reading: DeviceReading) {
        let (accepted, wasEmpty) = inbox.withLock { queue -> (Bool, Bool) in
            guard queue.count < queueLimit else { return (false, false) }
            queue.append(reading)
            return (true, queue.count == 1)
        }
        if accepted {
            stats.withLock {
                $0.cyclesQueued += 1; $0.readingsProduced += reading.points.count
            }
            if wasEmpty { wakeup.signal() }
        } else {
            let first = stats.withLock { s -> Bool in
                s.cyclesDroppedQueueFull += 1
                s.readingsDroppedQueueFull += reading.points.count
                s.readingsProduced += reading.points.count
                return s.cyclesDroppedQueueFull == 1 || s.cyclesDroppedQueueFull % 1000 == 0
            }
            if first {
                logger.error(
                    "the spool writer is behind: poll cycles dropped (counted as queue_full)",
                    metadata: ["device": "\(reading.device)", "queue_limit": "\(queueLimit)"])
            }
        }
    }

    /// Seals the open batch, syncs the spool and ends the thread.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
        thread.withLock { $0 }?.join()
    }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// Whether the loop beat within `limitMilliseconds` (it beats at least once a second, and per batch).
    public func isAlive(nowMilliseconds: Int64, limitMilliseconds: Int64 = 30_000) -> Bool {
        nowMilliseconds - heartbeat.load(ordering: .acquiring) <= limitMilliseconds
    }

    // MARK: The writer thread

    private func run() {
        let builder = BatchBuilder(
            mapping: mapping, maximumBytes: settings.maximumBytes, maximumAge: settings.maximumAge)
        let byException = builder.filter.isActive
        var drained: [DeviceReading] = []
        drained.reserveCapacity(256)
        var lastTick = clock.monotonicMilliseconds()

        func seal() {
            guard let batch = builder.open else { return }
            do {
                // Under report by exception, the batches the spool dropped are named in the next ones, so a consumer
                // never holds a value across them, and every device sends a snapshot.
                if byException {
                    let dropped = spool.withSpool { $0.takeDroppedSequences(epoch: batch.identity.epoch) }
                    if !dropped.isEmpty {
                        builder.noteDropped(dropped)
                        stats.withLock { $0.snapshotsAfterDrops += 1 }
                    }
                }
                let batchFrame = try builder.seal()
                let schemaID = builder.schemaID
                let outcome = spool.appendBatch(
                    batchFrame.frame, identity: batchFrame.identity, readings: batchFrame.readings, schemaID: schemaID)
                stats.withLock { s in
                    s.batchesSealed += 1
                    s.readingsSealed += batchFrame.readings
                    s.lastSealWallMilliseconds = clock.wallMilliseconds()
                    if outcome == .heldInMemory { s.batchesHeldInMemory += 1 }
                }
            } catch {
                // Not reachable with a well-formed encoder; counted rather than trapped.
                logger.critical(
                    "a batch could not be sealed; its readings are lost",
                    metadata: ["batch": "\(batch.identity)", "error": "\(error)"])
                stats.withLock { $0.readingsDroppedUnencodable += batch.readings }
            }
        }

        func encode(_ reading: DeviceReading) {
            for attempt in 0..<2 {
                if builder.open == nil {
                    let identity = spool.withSpool { $0.nextIdentity }
                    let base = reading.points.first?.timestamp.wallMilliseconds ?? clock.wallMilliseconds()
                    builder.begin(
                        identity, baseTimeMilliseconds: base, atMonotonicMilliseconds: clock.monotonicMilliseconds())
                }
                do {
                    let outcome = try builder.append(reading, clock: clockFlags())
                    if outcome.suppressed > 0 { stats.withLock { $0.readingsSuppressed += outcome.suppressed } }
                    if builder.isFull { seal() }
                    return
                } catch {
                    // The batch is full (or the cycle cannot go in it): seal what is there and try once in a fresh batch.
                    if attempt == 0, let open = builder.open, open.readings > 0 { seal(); continue }
                    logger.error(
                        "a poll cycle could not be encoded; its readings are dropped",
                        metadata: ["device": "\(reading.device)", "error": "\(error)"])
                    stats.withLock { $0.readingsDroppedUnencodable += reading.points.count }
                    if builder.open?.readings == 0 { builder.discard() }
                    return
                }
            }
        }

        while true {
            let now = clock.monotonicMilliseconds()
            heartbeat.store(now, ordering: .releasing)
            let finishing = stopping.load(ordering: .acquiring)
            inbox.withLock { swap(&$0, &drained) }
            for index in drained.indices { encode(drained[index]) }
            drained.removeAll(keepingCapacity: true)
            if builder.open != nil, finishing || builder.isDue(atMonotonicMilliseconds: now) { seal() }
            if finishing || now - lastTick >= 1000 {
                spool.withSpool { $0.tick() }
                lastTick = now
            }
            if finishing { break }
            var wait = 1000 - (now - lastTick)
            if let due = builder.dueAtMilliseconds { wait = min(wait, due - now) }
            wakeup.wait(milliseconds: max(1, wait))
        }
        do { try spool.withSpool { spool throws(Errno) in try spool.sync() } } catch {
            logger.error("the final spool sync failed", metadata: ["error": "\(error)"])
        }
    }
}
