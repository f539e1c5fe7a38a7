import TramCore

/// The agent file's `spool:` section: where batches wait while the uplink is down, and how
/// they are bounded and synced. Plain data; the agent turns it into the spool's options.
public struct SpoolSettings: Sendable, Equatable {
    public enum Overflow: String, Sendable, CaseIterable {
        case dropOldest = "drop_oldest"
        case dropNewest = "drop_newest"
    }

    public enum Replay: String, Sendable, CaseIterable {
        case liveFirst = "live_first"
        case interleaved
    }

    public var directory: String
    public var maximumBytes: Int
    public var maximumAge: Duration
    public var overflow: Overflow
    /// fdatasync at most this often: flash wears out, and a power cut loses at most one interval.
    public var syncInterval: Duration
    public var replay: Replay
    public var diskFullRingBytes: Int

    public init(
        directory: String = SpoolDefaults.directory, maximumBytes: Int = SpoolDefaults.maximumBytes,
        maximumAge: Duration = SpoolDefaults.maximumAge, overflow: Overflow = .dropOldest,
        syncInterval: Duration = SpoolDefaults.syncInterval, replay: Replay = .liveFirst,
        diskFullRingBytes: Int = SpoolDefaults.diskFullRingBytes
    ) {
        self.directory = directory
        self.maximumBytes = maximumBytes
        self.maximumAge = maximumAge
        self.overflow = overflow
        self.syncInterval = syncInterval
        self.replay = replay
        self.diskFullRingBytes = diskFullRingBytes
    }
}
