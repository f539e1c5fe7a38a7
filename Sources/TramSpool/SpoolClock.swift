#if canImport(Glibc)
import Glibc
#endif

/// Where the spool reads time: wall time for record ages, monotonic time for the sync interval.
/// Tests pass their own to move time without sleeping.
public struct SpoolClock: Sendable {
    public var wallMilliseconds: @Sendable () -> Int64
    public var monotonicMilliseconds: @Sendable () -> Int64

    public init(wallMilliseconds: @escaping @Sendable () -> Int64, monotonicMilliseconds: @escaping @Sendable () -> Int64) {
        self.wallMilliseconds = wallMilliseconds
        self.monotonicMilliseconds = monotonicMilliseconds
    }

    public static let system = SpoolClock(
        wallMilliseconds: { read(CLOCK_REALTIME) },
        monotonicMilliseconds: { read(CLOCK_MONOTONIC) })

    private static func read(_ clock: clockid_t) -> Int64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
