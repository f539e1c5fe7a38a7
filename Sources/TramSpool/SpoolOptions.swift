import SystemPackage
import TramCore

/// How a spool is bounded, synced and replayed.
public struct SpoolOptions: Sendable {
    /// What to give up when the spool is full: `dropOldest` (the default: recent data matters most to a
    /// plant) deletes the oldest segment; `dropNewest` refuses new batches and keeps the backlog intact.
    public enum OverflowPolicy: String, Sendable, CaseIterable {
        case dropOldest = "drop_oldest"
        case dropNewest = "drop_newest"
    }
    /// How replay shares the link: `liveFirst` sends batches appended since the sink's reader started
    /// first and drains the backlog behind them; `interleaved` takes one of each in turn.
    public enum ReplayOrder: String, Sendable, CaseIterable {
        case liveFirst = "live_first"
        case interleaved
    }

    public var directory: FilePath
    /// Segment files plus the ledger never exceed this.
    public var maximumBytes: Int
    /// Segments whose newest batch is older than this are dropped (counted as `age`).
    public var maximumAgeMilliseconds: Int64
    public var overflow: OverflowPolicy
    /// fdatasync runs at most once per interval; a power cut loses at most one interval.
    public var syncIntervalMilliseconds: Int64
    /// A segment is sealed at this size.
    public var segmentBytes: Int
    /// The names of the sinks that must each acknowledge a batch before it may be deleted.
    public var sinks: [String]
    public var replay: ReplayOrder
    /// While the disk is full, newest batches wait in a RAM ring of this many bytes.
    public var diskFullRingBytes: Int

    public init(
        directory: FilePath, maximumBytes: Int = SpoolDefaults.maximumBytes,
        maximumAgeMilliseconds: Int64 = SpoolDefaults.maximumAge.milliseconds, overflow: OverflowPolicy = .dropOldest,
        syncIntervalMilliseconds: Int64 = SpoolDefaults.syncInterval.milliseconds, segmentBytes: Int? = nil,
        sinks: [String] = ["collector"], replay: ReplayOrder = .liveFirst,
        diskFullRingBytes: Int = SpoolDefaults.diskFullRingBytes
    ) {
        self.directory = directory
        self.maximumBytes = maximumBytes
        self.maximumAgeMilliseconds = maximumAgeMilliseconds
        self.overflow = overflow
        self.syncIntervalMilliseconds = syncIntervalMilliseconds
        // Whole segments are the unit of deletion: at least 16 per spool, at most 8 MiB each.
        self.segmentBytes = segmentBytes ?? max(64 << 10, min(8 << 20, maximumBytes / 16))
        self.sinks = sinks
        self.replay = replay
        self.diskFullRingBytes = diskFullRingBytes
    }
}

/// Why readings were given up. Every dropped reading has exactly one cause.
public enum DropCause: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The spool reached `maximumBytes`.
    case overflow = 1
    /// Older than `maximumAgeMilliseconds`.
    case age = 2
    /// The disk was full and the RAM ring overflowed too.
    case diskFull = 3
    /// A record failed its checksum or could not be read.
    case corrupt = 4
    /// A segment file vanished from the directory.
    case missing = 5
    /// fdatasync failed: the kernel may already have dropped the pages, so the data is not trusted.
    case syncFailed = 6
    /// A batch was never stored: a power cut took it before its interval's sync.
    case powerLoss = 7
    /// A receiver said the batch itself is malformed (the collector's 422): set aside in a dead-letter file.
    case rejected = 8

    public var description: String {
        switch self {
        case .overflow: "overflow"
        case .age: "age"
        case .diskFull: "disk_full"
        case .corrupt: "corrupt"
        case .missing: "missing"
        case .syncFailed: "sync_failed"
        case .powerLoss: "power_loss"
        case .rejected: "rejected"
        }
    }
}

/// Readings and batches, counted together.
public struct Tally: Sendable, Equatable, CustomStringConvertible {
    public var readings: Int = 0
    public var batches: Int = 0

    public init(readings: Int = 0, batches: Int = 0) {
        self.readings = readings
        self.batches = batches
    }

    public static func + (a: Tally, b: Tally) -> Tally {
        Tally(readings: a.readings + b.readings, batches: a.batches + b.batches)
    }
    public static func += (a: inout Tally, b: Tally) { a = a + b }
    public var description: String {
        "\(readings) reading\(readings == 1 ? "" : "s") in \(batches) batch\(batches == 1 ? "" : "es")"
    }
}

/// The spool's books: `appended == delivered + buffered + dropped`, always, across restarts.
///
/// Every figure is derived from what is on disk (segment summaries, acknowledged
/// ranges and the ledger's totals for deleted segments), never kept only in memory.
public struct SpoolCounters: Sendable, Equatable {
    public var appended = Tally()
    /// Acknowledged by every sink.
    public var delivered = Tally()
    /// Still held, on disk or in the disk-full RAM ring, waiting for a sink.
    public var buffered = Tally()
    public var dropped: [DropCause: Tally] = [:]

    public var droppedTotal: Tally { dropped.values.reduce(Tally(), +) }
    public var balances: Bool { appended == delivered + buffered + droppedTotal }
}
