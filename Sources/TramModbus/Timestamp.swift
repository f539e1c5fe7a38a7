#if canImport(Glibc)
import Glibc
#endif

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

    public static func now() -> Timestamp {
        var wall = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return Timestamp(wallMilliseconds: Int64(wall.tv_sec) * 1000 + Int64(wall.tv_nsec) / 1_000_000,
                         monotonicNanoseconds: UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec))
    }

    static func monotonicNow() -> UInt64 {
        var mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec)
    }
}

/// Sleeps the calling (owned I/O) thread. Never call it from a Swift task.
func sleepThread(nanoseconds: UInt64) {
    guard nanoseconds > 0 else { return }
    var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}
