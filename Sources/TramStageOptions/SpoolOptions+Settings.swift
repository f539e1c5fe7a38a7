import SystemPackage
import TramConfig
import TramSpool

extension SpoolOptions {
    /// The options an agent file's `spool:` section asks for.
    public init(settings: SpoolSettings, sinks: [String]) {
        self.init(
            directory: FilePath(settings.directory), maximumBytes: settings.maximumBytes,
            maximumAgeMilliseconds: settings.maximumAge.milliseconds,
            overflow: OverflowPolicy(settings.overflow), syncIntervalMilliseconds: settings.syncInterval.milliseconds,
            sinks: sinks, replay: ReplayOrder(settings.replay), diskFullRingBytes: settings.diskFullRingBytes)
    }
}

extension SpoolOptions.OverflowPolicy {
    public init(_ overflow: SpoolSettings.Overflow) {
        switch overflow {
        case .dropOldest: self = .dropOldest
        case .dropNewest: self = .dropNewest
        }
    }
}

extension SpoolOptions.ReplayOrder {
    public init(_ replay: SpoolSettings.Replay) {
        switch replay {
        case .liveFirst: self = .liveFirst
        case .interleaved: self = .interleaved
        }
    }
}
