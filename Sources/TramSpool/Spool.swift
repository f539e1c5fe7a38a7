import Logging
import SystemPackage
import TramSchema
import TramCore
import TramThreads
#if canImport(Glibc)
import Glibc
#endif

/// Tram's store-and-forward spool: a directory of append-only segments and a ledger.
///
/// - Every appended batch reaches the kernel in one `writev`, so `kill -9` loses nothing
///   that was appended. `fdatasync` runs at most once per `syncIntervalMilliseconds`, so a
///   power cut loses at most one interval.
/// - Each sink acknowledges batches in any order; its acknowledged ranges live in the ledger.
/// - The books (`counters`) are derived from what is on disk and always balance.
///
/// A spool is used from one thread (the agent's spool thread): its calls block on disk I/O
/// and must never run on Swift's cooperative pool.
public final class Spool {
    public let options: SpoolOptions
    let clock: TramClock
    let logger: Logger

    /// The current stream epoch. A new one begins after every unclean start.
    public internal(set) var epoch: UInt64
    public internal(set) var nextSequence: UInt64
    /// True when this run began after a crash, a power cut or a lost ledger.
    public let startedUnclean: Bool

    /// Oldest first. While `active` is set, it appends to the last one.
    var segments: [SegmentSummary] = []
    var active: OpenSegment?
    /// Segments sealed since the last sync; their data still needs an fdatasync.
    var sealedUnsynced: [OpenSegment] = []
    var nextSegmentID: UInt64
    let ledger: LedgerFile
    var acknowledged: [String: [UInt64: SequenceRanges]] = [:]
    var lost: [DropCause: [UInt64: SequenceRanges]] = [:]
    /// Batches dropped undelivered in this run, by epoch, not yet taken by ``takeDroppedSequences(epoch:)``: what
    /// the next sealed batch tells consumers holding values between sends (wire format version 2).
    var droppedToReport: [UInt64: SequenceRanges] = [:]
    /// Totals of deleted segments and of readings that never reached one.
    var retiredDelivered = Tally()
    var retiredDropped: [DropCause: Tally] = [:]
    var pendingUnlink: [FilePath] = []
    /// Where each record's header is encoded: one buffer for the spool's life, so appends allocate nothing.
    let recordHeaderScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: RecordHeader.maximumSize, alignment: 1)
    /// A segment was created since the last sync; the directory needs an fsync.
    var directoryDirty = false
    var lastSyncMilliseconds: Int64
    var readFiles: [UInt64: FileDescriptor] = [:]
    var sinks: [String: SinkState] = [:]
    /// Newest batches held in RAM while the disk is full.
    var ring = DiskFullRing()
    var lastRingAttemptMilliseconds: Int64?
    /// Schemas the next batches may use: their dictionaries are kept even with no batch stored yet.
    /// In a run, the last appended dictionary or batch schema; at start-up, conservatively, every
    /// dictionary in the newest segment that has one and the newest batches' schema, until the
    /// agent appends its dictionary (which it does after every open).
    var currentSchemaIDs: Set<UInt64> = []
    /// Files this build cannot read (another format version, a damaged header): kept, reported.
    public internal(set) var keptFiles: [String] = []
    private var lockDescriptor: Int32
    /// Makes every segment write fail with ENOSPC, for the model test's disk-full steps.
    /// (The tmpfs test fills a real file system.)
    @_spi(Testing) public var simulatedDiskFull = false
    /// Makes every segment fdatasync fail with EIO (a dying flash chip), for the sync-failure test.
    @_spi(Testing) public var simulatedSyncFailure = false
    /// Batches waiting in the RAM ring.
    @_spi(Testing) public var heldIdentities: [BatchIdentity] {
        ring.pending.filter { $0.header.kind == .batch }.map(\.header.identity)
    }
    /// After `close()` the spool takes no more batches.
    public private(set) var isClosed = false

    struct OpenSegment {
        var writer: SegmentWriter
        /// Batches of the segment made durable by the last successful sync.
        var syncedBatches: Int
    }

    /// How a process opens a spool.
    public enum Access: Sendable {
        /// The agent: takes the directory's lock, recovers, appends and deletes.
        case owner
        /// `tramctl spool`: reads while the agent runs; never locks, writes, truncates or deletes.
        case inspector
    }

    public let access: Access

    /// Opens (or creates) the spool, recovering whatever a crash left behind. Never needs a human:
    /// torn tails are cut, damaged records skipped and counted, foreign files kept and reported.
    public init(
        options: SpoolOptions, clock: TramClock = .system, logger: Logger = Logger(label: "tram.spool"),
        access: Access = .owner
    ) throws(SpoolError) {
        self.options = options
        self.clock = clock
        self.logger = logger
        self.access = access
        let directory = options.directory
        let readOnly = access == .inspector
        if readOnly {
            guard Glibc.access(directory.string, R_OK) == 0 else {
                throw .io(operation: "read", path: directory.string, Errno(rawValue: errno))
            }
            lockDescriptor = -1
        } else {
            mkdir(directory.string, 0o750)
            lockDescriptor = try Self.lock(directory)
            // A compaction that stopped before its rename: the old ledger is still whole.
            unlink(directory.appending(LedgerFile.temporaryName).string)
        }
        lastSyncMilliseconds = clock.monotonicMilliseconds()

        let loaded: (entries: [LedgerEntry], size: Int, records: Int, damaged: Int)?
        var ledgerProblem: String?
        do { loaded = try LedgerFile.load(directory: directory, readOnly: readOnly, problem: &ledgerProblem) } catch {
            throw .io(operation: "read", path: directory.appending(LedgerFile.name).string, error)
        }
        var state = LedgerState()
        for entry in loaded?.entries ?? [] { state.apply(entry) }
        if let ledgerProblem {
            logger.error(
                "spool ledger unreadable; kept as ledger.damaged, and every stored batch will be sent again",
                metadata: ["directory": "\(directory)", "problem": "\(ledgerProblem)"])
            keptFiles.append(LedgerFile.name + ".damaged")
        }
        if let loaded, loaded.damaged > 0 {
            logger.warning("spool ledger had damaged entries; skipped", metadata: ["entries": "\(loaded.damaged)"])
        }
        do {
            ledger = try LedgerFile(
                directory: directory, existingSize: loaded?.size, records: loaded?.records ?? 0, readOnly: readOnly)
        } catch {
            throw .io(operation: "open", path: directory.appending(LedgerFile.name).string, error)
        }
        acknowledged = state.acknowledged
        lost = state.lost
        retiredDelivered = state.retiredDelivered
        retiredDropped = state.retiredDropped

        let found = Self.segmentFiles(in: directory)
        nextSegmentID = max((found.last ?? 0), state.sealed.keys.max() ?? 0, state.retiredIDs.max() ?? 0) + 1
        epoch = 0
        nextSequence = 0
        startedUnclean = (loaded != nil || ledgerProblem != nil) && !state.closedCleanly
        if loaded == nil && !found.isEmpty {
            logger.warning(
                "spool ledger missing: every stored batch will be sent again", metadata: ["directory": "\(directory)"])
        }

        recoverSegments(found, state: state)
        currentSchemaIDs = Set(segments.last { !$0.dictionaries.isEmpty }?.dictionaries.map(\.schemaID) ?? [])
        if let newest = segments.last(where: { !$0.schemasUsed.isEmpty })?.schemasUsed.last {
            currentSchemaIDs.insert(newest)
        }
        if startedUnclean && !readOnly {
            // What the crashed run wrote may still sit in the page cache: make it durable before building on it.
            for segment in segments {
                let fd = open(path(of: segment.id).string, O_RDONLY | O_CLOEXEC)
                if fd >= 0 { fdatasync(fd); Glibc.close(fd) }
            }
        }

        let newestEpochOnDisk = segments.map(\.epoch).max() ?? 0
        if let ledgerEpoch = state.epoch, state.closedCleanly {
            epoch = ledgerEpoch
            let highest =
                segments.filter { $0.epoch == ledgerEpoch && !$0.readings.isEmpty }.map { $0.lastSequence + 1 }.max()
                ?? 0
            nextSequence = max(state.nextSequence, highest)
        } else if let ledgerEpoch = state.epoch {
            // Sent-but-unsynced batches may have been lost; their numbers must never be reused.
            epoch = max(ledgerEpoch, newestEpochOnDisk) + 1
        } else {
            epoch = newestEpochOnDisk > 0 ? newestEpochOnDisk + 1 : Self.freshEpoch(clock)
        }
        if readOnly {
            for name in options.sinks {
                sinks[name] = SinkState(start: firstPosition, liveStart: Position(segmentID: nextSegmentID, offset: 0))
            }
            return
        }
        ledger.append(.opened(epoch: epoch, nextSequence: nextSequence))
        do { try ledger.sync() } catch {
            throw .io(operation: "sync", path: directory.appending(LedgerFile.name).string, error)
        }
        if startedUnclean {
            logger.notice("spool started after an unclean stop; new epoch", metadata: ["epoch": "\(epoch)"])
        }
        for name in options.sinks {
            sinks[name] = SinkState(start: firstPosition, liveStart: Position(segmentID: nextSegmentID, offset: 0))
        }
    }

    deinit {
        recordHeaderScratch.deallocate()
        for file in readFiles.values { try? file.close() }
        if lockDescriptor >= 0 { Glibc.close(lockDescriptor) }
    }

    /// The identity the next appended batch must carry.
    public var nextIdentity: BatchIdentity { BatchIdentity(epoch: epoch, sequence: nextSequence) }

    /// Syncs everything and records a clean stop, so the next run continues this epoch.
    public func close() throws(Errno) {
        guard access == .owner else { return }
        flushRing(force: true)
        // Still no room: what waits in RAM cannot outlive the process. Count it rather than lose it silently.
        while let entry = ring.first {
            if entry.header.kind == .batch {
                countDropped(.diskFull, Tally(readings: entry.header.readings, batches: 1))
            }
            ring.removeFirst()
        }
        // Seal the segment being written: its summary in the ledger lets the next start count
        // any batch a later truncation takes from it. Then the clean-close mark, last.
        seal()
        try sync()
        ledger.append(.closed(epoch: epoch, nextSequence: nextSequence))
        try ledger.sync()
        // Released now, not at deinit: the directory can be reopened while this object lives on.
        if lockDescriptor >= 0 { Glibc.close(lockDescriptor); lockDescriptor = -1 }
        isClosed = true
    }

    /// Files with data not yet synced, and how much of each is durable (what a power cut keeps for sure).
    @_spi(Testing) public var durableSizes: [String: Int] {
        var sizes = [LedgerFile.name: ledger.syncedSize]
        for open in sealedUnsynced + (active.map { [$0] } ?? []) {
            sizes[SegmentFormat.fileName(open.writer.segmentID)] = open.writer.syncedSize
        }
        return sizes
    }

    @_spi(Testing) public var debugDescription: String {
        "segments "
            + segments.map { "\($0.id):e\($0.epoch) \($0.firstSequence)+\($0.readings.count) size \($0.size)" }.joined(
                separator: ", ")
            + " acked \(acknowledged) lost \(lost) sinks \(sinks.mapValues { ($0.backlog, $0.live, $0.liveStart, $0.retry, $0.inFlight) })"
    }

    var firstPosition: Position { Position(segmentID: segments.first?.id ?? nextSegmentID, offset: 0) }

    /// Bytes the spool holds on disk (segments and ledger).
    public var diskBytes: Int {
        var total = ledger.size
        for index in segments.indices { total += segments[index].size }
        return total
    }

    func path(of segmentID: UInt64) -> FilePath { options.directory.appending(SegmentFormat.fileName(segmentID)) }

    func index(ofSegment id: UInt64) -> Int? {
        var low = 0, high = segments.count
        while low < high {
            let mid = (low + high) / 2
            if segments[mid].id < id { low = mid + 1 } else { high = mid }
        }
        return low < segments.count && segments[low].id == id ? low : nil
    }

    /// Who holds the spool's lock ("pid N"), or nil when no process does.
    public static func holder(of directory: FilePath) -> String? {
        let fd = open(directory.appending("lock").string, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &buffer, buffer.count)
        let pid = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingNewline
        return pid.isEmpty ? "another process" : "pid \(pid)"
    }

    private static func lock(_ directory: FilePath) throws(SpoolError) -> Int32 {
        let path = directory.appending("lock").string
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(operation: "open", path: path, Errno(rawValue: errno)) }
        // A short grace: a child being spawned elsewhere in this process holds copies of our
        // descriptors (and so the lock) until its exec closes them.
        var locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        for _ in 0..<50 where !locked {
            OwnedThread.sleep(nanoseconds: 20_000_000)
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        guard locked else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(fd, &buffer, buffer.count)
            Glibc.close(fd)
            let pid = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingNewline
            throw .inUse(directory: directory.string, holder: pid.isEmpty ? "another process" : "pid \(pid)")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pwrite(fd, pid, pid.count, 0)
        return fd
    }

    /// A fresh spool's first epoch: the wall clock in seconds when it is plausible, so a
    /// recreated spool never reuses an old epoch; a random large number when it is not.
    private static func freshEpoch(_ clock: TramClock) -> UInt64 {
        let seconds = clock.wallMilliseconds() / 1000
        if seconds > 1_600_000_000 { return UInt64(seconds) }
        return UInt64(UInt32.random(in: 0...UInt32.max)) | (1 << 32)
    }

    private static func segmentFiles(in directory: FilePath) -> [UInt64] {
        SpoolVerifier.names(in: directory).compactMap { name in
            guard name.hasSuffix(".seg"), name.utf8.count == 20 else { return nil }
            return UInt64(name.prefix(16), radix: 16)
        }.sorted()
    }
}

extension String {
    var trimmingNewline: String {
        var text = self
        while let last = text.last, last == "\n" || last == "\0" { text.removeLast() }
        return text
    }
}
