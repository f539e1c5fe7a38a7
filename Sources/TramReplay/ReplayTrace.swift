import TramSchema

/// A recording to replay through report by exception: the points (with their rules, in the dictionary) and the
/// polls, each one device's cycle with every one of its points, as the agent polls them.
public struct ReplayTrace: Sendable {
    /// One device cycle.
    public struct Poll: Sendable {
        public var device: String
        /// When the cycle's first response arrived: wall time (may step) and monotonic time (never does).
        public var wallMilliseconds: Int64
        public var monotonicMilliseconds: Int64
        /// The device's points in alias order; `.missing` carries the quality of a failed read.
        public var values: [WireValue]

        public init(device: String, wallMilliseconds: Int64, monotonicMilliseconds: Int64, values: [WireValue]) {
            self.device = device
            self.wallMilliseconds = wallMilliseconds
            self.monotonicMilliseconds = monotonicMilliseconds
            self.values = values
        }
    }

    /// Each device's points contiguous, in alias order, with their deadband, heartbeat and poll interval.
    public var dictionary: SchemaDictionary
    public var polls: [Poll]

    public init(dictionary: SchemaDictionary, polls: [Poll]) {
        self.dictionary = dictionary
        self.polls = polls
    }

    public var polledReadings: Int { polls.reduce(0) { $0 + $1.values.count } }

    /// The same trace with every point's rule replaced: `rule(point)` gives (deadband, heartbeat ms); nil every poll.
    public func withRules(_ rule: (PointDescriptor) -> (deadband: Double, heartbeatMilliseconds: UInt64)?)
        -> ReplayTrace
    {
        var copy = self
        for index in copy.dictionary.points.indices {
            let point = copy.dictionary.points[index]
            let chosen = rule(point)
            copy.dictionary.points[index].deadband = chosen?.deadband
            copy.dictionary.points[index].heartbeatMilliseconds =
                chosen.map { $0.heartbeatMilliseconds == 0 ? nil : $0.heartbeatMilliseconds } ?? nil
        }
        return copy
    }
}
