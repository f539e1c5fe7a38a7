/// When a response arrived: wall-clock milliseconds for people and stores,
/// and a monotonic reading for intervals that a clock step must not distort.
public struct Timestamp: Sendable, Hashable {
    public var wallMilliseconds: Int64
    public var monotonicNanoseconds: UInt64

    public static let zero = Timestamp(wallMilliseconds: 0, monotonicNanoseconds: 0)

    public init(wallMilliseconds: Int64, monotonicNanoseconds: UInt64) {
        self.wallMilliseconds = wallMilliseconds
        self.monotonicNanoseconds = monotonicNanoseconds
    }

    /// Both clocks of this machine, now.
    public static func now() -> Timestamp { TramClock.system.now() }
}
