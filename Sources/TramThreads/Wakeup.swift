import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// Wakes a thread that sleeps between rounds of work: `signal` from any thread, `wait` on the owner.
///
/// A signal given while nobody waits is remembered, so a wakeup between "nothing to do" and `wait` is
/// never lost. Timed waits use the monotonic clock, so a wall-clock step neither shortens nor stretches them.
public final class Wakeup: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var pending = false

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func signal() {
        pthread_mutex_lock(mutex)
        pending = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Sleeps until signalled or `milliseconds` pass (nil: until signalled). Returns whether it was signalled.
    @discardableResult
    public func wait(milliseconds: Int64?) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let milliseconds {
            // The condition variable waits on CLOCK_MONOTONIC (see init), so the deadline is on that clock too.
            let deadline = TramClock.system.monotonicNanoseconds() &+ UInt64(max(0, milliseconds)) &* 1_000_000
            var until = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            while !pending {
                if pthread_cond_timedwait(condition, mutex, &until) == ETIMEDOUT { break }
            }
        } else {
            while !pending { pthread_cond_wait(condition, mutex) }
        }
        let signalled = pending
        pending = false
        return signalled
    }
}
