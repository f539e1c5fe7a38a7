import Dispatch
import Foundation
import Synchronization

/// A per-gateway token bucket: `rate` requests a second on average, up to `burst` at once.
public final class RateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    private let buckets = Mutex<[Int64: Bucket]>([:])

    struct Bucket {
        var tokens: Double
        var time: UInt64
    }

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = max(1, burst)
    }

    /// nil when the request may go ahead; otherwise the whole seconds to wait (for Retry-After).
    public func admit(_ gateway: Int64, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int? {
        guard rate > 0 else { return nil }
        let burst = self.burst, rate = self.rate
        return buckets.withLock { buckets in
            var bucket = buckets[gateway] ?? Bucket(tokens: burst, time: now)
            bucket.tokens = min(burst, bucket.tokens + Double(now &- bucket.time) / 1e9 * rate)
            bucket.time = now
            defer { buckets[gateway] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }
}
