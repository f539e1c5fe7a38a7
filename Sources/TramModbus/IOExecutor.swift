import Synchronization
import TramThreads
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// A bounded set of OS threads for blocking C calls (libmodbus), kept off
/// Swift's cooperative pool.
///
/// Work is submitted to a ``Lane``: jobs on one lane run one at a time, in
/// order, because a lane owns one connection. Different lanes run in parallel,
/// up to the thread count. So 500 TCP endpoints need no more than `threads`
/// threads, and a device stuck in a timeout holds one thread, never the others.
/// A serial bus gets an executor of one thread: its port has exactly one owner.
public final class IOExecutor: Sendable {
    /// A serial queue of jobs inside an executor.
    public final class Lane: @unchecked Sendable {
        public let name: String
        // Guarded by the executor's lock.
        fileprivate var jobs: [@Sendable () -> Void] = []
        fileprivate var jobHead = 0
        fileprivate var scheduled = false

        public init(name: String) { self.name = name }
    }

    private let state: ThreadSafeBox
    public let threadCount: Int

    public init(threads: Int, name: String) {
        threadCount = max(1, threads)
        state = ThreadSafeBox()
        for index in 0..<threadCount {
            let box = state
            let threadName = threadCount == 1 ? name : "\(name)-\(index)"
            Thread.start(name: threadName) { box.runWorker() }
        }
    }

    /// Queues `job` on `lane`.
    public func submit(_ lane: Lane, _ job: @escaping @Sendable () -> Void) {
        state.submit(lane, job)
    }

    /// Queues `job` on `lane` once the monotonic clock reaches `deadline` (nanoseconds, as ``Timestamp``'s).
    ///
    /// Timers live inside the executor, so a periodic poll wakes one owned thread
    /// once per cycle: no Swift task, no timer thread, no hop through the cooperative pool.
    ///
    /// - Parameter fromWorker: true when called from a job running on this executor
    ///   (a cycle scheduling its successor). That thread is about to look for work
    ///   itself, so no other thread needs waking for the timer unless one is already
    ///   asleep toward a later deadline.
    public func schedule(
        _ lane: Lane, atMonotonicNanoseconds deadline: UInt64, fromWorker: Bool = false,
        _ job: @escaping @Sendable () -> Void
    ) {
        state.schedule(lane, deadline, fromWorker: fromWorker, job)
    }

    /// Runs `job` on `lane` and waits, without blocking the calling task's thread.
    public func run<T: Sendable>(on lane: Lane, _ job: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit(lane) { continuation.resume(returning: job()) }
        }
    }

    /// Lets the threads finish their queued jobs and exit.
    public func shutdown() { state.shutdown() }

    /// The lock, conditions, ready queue and timers shared by the worker threads.
    ///
    /// At most one idle worker waits for the next timer (on `timerCondition`,
    /// with a deadline); the others wait on `condition` without one. So a timer
    /// wakes one thread, not the whole pool.
    private final class ThreadSafeBox: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let timerCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var ready: [Lane] = []
        private var readyHead = 0
        private var stopping = false
        private var timers = TimerHeap()
        private var plainWaiters = 0
        private var timerWaiting = false

        init() {
            pthread_mutex_init(mutex, nil)
            var attributes = pthread_condattr_t()
            pthread_condattr_init(&attributes)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
            pthread_cond_init(condition, &attributes)
            pthread_cond_init(timerCondition, &attributes)
            pthread_condattr_destroy(&attributes)
        }

        func submit(_ lane: Lane, _ job: @escaping @Sendable () -> Void) {
            pthread_mutex_lock(mutex)
            enqueue(lane, job)
            pthread_mutex_unlock(mutex)
        }

        func schedule(_ lane: Lane, _ deadline: UInt64, fromWorker: Bool, _ job: @escaping @Sendable () -> Void) {
            pthread_mutex_lock(mutex)
            let isEarliest = timers.earliest.map { deadline < $0 } ?? true
            timers.insert(TimerHeap.Entry(deadline: deadline, sequence: 0, lane: lane, job: job))
            if isEarliest {
                // The timer waiter sleeps toward a later deadline, or nobody watches the timers yet
                // (a calling worker will watch them itself once its job returns).
                if timerWaiting {
                    pthread_cond_signal(timerCondition)
                } else if plainWaiters > 0, !fromWorker {
                    pthread_cond_signal(condition)
                }
            }
            pthread_mutex_unlock(mutex)
        }

        func shutdown() {
            pthread_mutex_lock(mutex)
            stopping = true
            pthread_cond_broadcast(condition)
            pthread_cond_broadcast(timerCondition)
            pthread_mutex_unlock(mutex)
        }

        /// Puts a job on its lane, and the lane on the ready queue. Lock held.
        private func enqueue(_ lane: Lane, _ job: @escaping @Sendable () -> Void) {
            lane.jobs.append(job)
            if !lane.scheduled {
                lane.scheduled = true
                ready.append(lane)
                wakeOne()
            }
        }

        /// Wakes an idle worker for ready work: a plain waiter if there is one, else the timer waiter. Lock held.
        private func wakeOne() {
            if plainWaiters > 0 {
                pthread_cond_signal(condition)
            } else if timerWaiting {
                pthread_cond_signal(timerCondition)
            }
        }

        /// Moves due timers onto their lanes. Lock held.
        private func releaseDueTimers() {
            guard let first = timers.earliest, first <= TramClock.system.monotonicNanoseconds() else { return }
            let now = TramClock.system.monotonicNanoseconds()
            while let deadline = timers.earliest, deadline <= now {
                let entry = timers.removeEarliest()
                enqueue(entry.lane, entry.job)
            }
        }

        func runWorker() {
            pthread_mutex_lock(mutex)
            while true {
                releaseDueTimers()
                if readyHead == ready.count {
                    if stopping { break }
                    if let deadline = timers.earliest, !timerWaiting {
                        timerWaiting = true
                        var until = timespec(
                            tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                        _ = pthread_cond_timedwait(timerCondition, mutex, &until)
                        timerWaiting = false
                    } else {
                        plainWaiters += 1
                        pthread_cond_wait(condition, mutex)
                        plainWaiters -= 1
                    }
                    continue
                }
                let lane = ready[readyHead]
                readyHead += 1
                if readyHead == ready.count { ready.removeAll(keepingCapacity: true); readyHead = 0 }
                let job = lane.jobs[lane.jobHead]
                lane.jobHead += 1
                if lane.jobHead == lane.jobs.count { lane.jobs.removeAll(keepingCapacity: true); lane.jobHead = 0 }
                // Someone must watch the timers while this thread works.
                if !timers.isEmpty, !timerWaiting, plainWaiters > 0 { pthread_cond_signal(condition) }
                pthread_mutex_unlock(mutex)
                job()
                pthread_mutex_lock(mutex)
                // One job per turn keeps lanes fair; the lane stays scheduled while it has work.
                if lane.jobHead < lane.jobs.count {
                    // This thread loops and takes the next ready lane itself: no wake-up needed.
                    ready.append(lane)
                } else {
                    lane.scheduled = false
                }
            }
            pthread_mutex_unlock(mutex)
        }
    }
}

/// Pending timed jobs, earliest first (a binary min-heap; ties keep submission order).
private struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var sequence: UInt64
        let lane: IOExecutor.Lane
        let job: @Sendable () -> Void
    }

    private var entries: [Entry] = []
    private var nextSequence: UInt64 = 0

    var earliest: UInt64? { entries.first?.deadline }
    var isEmpty: Bool { entries.isEmpty }

    mutating func insert(_ entry: Entry) {
        var entry = entry
        entry.sequence = nextSequence
        nextSequence &+= 1
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeEarliest() -> Entry {
        entries.swapAt(0, entries.count - 1)
        let first = entries.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count, precedes(entries[left], entries[smallest]) { smallest = left }
            if right < entries.count, precedes(entries[right], entries[smallest]) { smallest = right }
            if smallest == parent { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    private func precedes(_ a: Entry, _ b: Entry) -> Bool {
        (a.deadline, a.sequence) < (b.deadline, b.sequence)
    }
}

/// A detached, named pthread.
enum Thread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    static func start(name: String, _ body: @escaping () -> Void) {
        let context = Unmanaged.passRetained(
            Body {
                OwnedThread.nameCurrentThread(name)
                body()
            }
        ).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { context in
                let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
                body.run()
                return nil
            }, context)
        precondition(created == 0, "cannot start an I/O thread: \(created)")
        pthread_detach(thread)
    }
}
