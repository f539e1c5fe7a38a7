#if canImport(Glibc)
import Glibc
#endif

/// The one place Tram reads time: the wall clock (for records, ages and people) and the monotonic clock (for
/// intervals, deadlines and rate limits, which a wall-clock step must neither fire nor delay).
///
/// Stages take one in their options or initialiser and default to `.system`; tests pass their own to move time
/// without sleeping. Both readings go through the vDSO: about 20 ns each, no syscall.
public struct TramClock: Sendable {
    /// `CLOCK_REALTIME`, in nanoseconds since 1970.
    public var wallNanoseconds: @Sendable () -> Int64
    /// `CLOCK_MONOTONIC`, in nanoseconds since an arbitrary start (boot).
    public var monotonicNanoseconds: @Sendable () -> UInt64

    public init(
        wallNanoseconds: @escaping @Sendable () -> Int64, monotonicNanoseconds: @escaping @Sendable () -> UInt64
    ) {
        self.wallNanoseconds = wallNanoseconds
        self.monotonicNanoseconds = monotonicNanoseconds
    }

    /// A clock from millisecond readings, as tests that step time by hand write them.
    public init(
        wallMilliseconds: @escaping @Sendable () -> Int64, monotonicMilliseconds: @escaping @Sendable () -> Int64
    ) {
        self.init(
            wallNanoseconds: { wallMilliseconds() &* 1_000_000 },
            monotonicNanoseconds: { UInt64(clamping: monotonicMilliseconds()) &* 1_000_000 })
    }

    /// This machine's clocks.
    public static let system = TramClock(
        wallNanoseconds: { Int64(truncatingIfNeeded: read(CLOCK_REALTIME)) },
        monotonicNanoseconds: { UInt64(clamping: read(CLOCK_MONOTONIC)) })

    public func wallMilliseconds() -> Int64 { wallNanoseconds() / 1_000_000 }

    public func monotonicMilliseconds() -> Int64 { Int64(clamping: monotonicNanoseconds() / 1_000_000) }

    /// Both clocks at once, as a reading's timestamp carries them.
    public func now() -> Timestamp {
        Timestamp(wallMilliseconds: wallMilliseconds(), monotonicNanoseconds: monotonicNanoseconds())
    }

    private static func read(_ clock: clockid_t) -> Int64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
