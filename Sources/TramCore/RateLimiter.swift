import Synchronization

/// A token bucket per key: `rate` admissions a second on average, up to `burst` at once. The collector keys it by
/// gateway (ingest requests) and the console by client address (sign-in attempts).
///
/// Time is the monotonic clock, so a wall-clock step neither refills nor drains a bucket.
public final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    public let rate: Double
    public let burst: Double
    private let clock: TramClock
    private let buckets = Mutex<[Key: Bucket]>([:])
    /// Above this many keys, buckets that have refilled completely are dropped (they hold nothing a new bucket would
    /// not): an address-keyed limiter must not grow without bound under a scan from many addresses.
    private let pruneAbove: Int

    struct Bucket {
        var tokens: Double
        var time: UInt64
    }

    public init(rate: Double, burst: Double, clock: TramClock = .system, pruneAbove: Int = 10_000) {
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self.pruneAbove = pruneAbove
    }

    /// nil when the request may go ahead; otherwise the whole seconds to wait (for Retry-After).
    public func admit(_ key: Key) -> Int? { admit(key, now: clock.monotonicNanoseconds()) }

    /// `admit` at a given monotonic time in nanoseconds.
    public func admit(_ key: Key, now: UInt64) -> Int? {
        guard rate > 0 else { return nil }
        let burst = self.burst, rate = self.rate, pruneAbove = self.pruneAbove
        return buckets.withLock { buckets in
            if buckets.count > pruneAbove {
                buckets = buckets.filter { _, bucket in
                    bucket.tokens + Double(now &- bucket.time) / 1e9 * rate < burst
                }
            }
            var bucket = buckets[key] ?? Bucket(tokens: burst, time: now)
            bucket.tokens = min(burst, bucket.tokens + Double(now &- bucket.time) / 1e9 * rate)
            bucket.time = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }
}
