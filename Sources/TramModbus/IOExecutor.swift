import Synchronization
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

    /// Runs `job` on `lane` and waits, without blocking the calling task's thread.
    public func run<T: Sendable>(on lane: Lane, _ job: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit(lane) { continuation.resume(returning: job()) }
        }
    }

    /// Lets the threads finish their queued jobs and exit.
    public func shutdown() { state.shutdown() }

    /// The lock, condition and ready-queue shared by the worker threads.
    private final class ThreadSafeBox: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var ready: [Lane] = []
        private var readyHead = 0
        private var stopping = false

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(condition, nil)
        }

        func submit(_ lane: Lane, _ job: @escaping @Sendable () -> Void) {
            pthread_mutex_lock(mutex)
            lane.jobs.append(job)
            if !lane.scheduled {
                lane.scheduled = true
                ready.append(lane)
                pthread_cond_signal(condition)
            }
            pthread_mutex_unlock(mutex)
        }

        func shutdown() {
            pthread_mutex_lock(mutex)
            stopping = true
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }

        func runWorker() {
            pthread_mutex_lock(mutex)
            while true {
                while readyHead == ready.count && !stopping { pthread_cond_wait(condition, mutex) }
                if readyHead == ready.count { break }
                let lane = ready[readyHead]
                readyHead += 1
                if readyHead > 64, readyHead * 2 > ready.count { ready.removeFirst(readyHead); readyHead = 0 }
                let job = lane.jobs[lane.jobHead]
                lane.jobHead += 1
                if lane.jobHead == lane.jobs.count { lane.jobs.removeAll(keepingCapacity: true); lane.jobHead = 0 }
                pthread_mutex_unlock(mutex)
                job()
                pthread_mutex_lock(mutex)
                // One job per turn keeps lanes fair; the lane stays scheduled while it has work.
                if lane.jobHead < lane.jobs.count {
                    ready.append(lane)
                    pthread_cond_signal(condition)
                } else {
                    lane.scheduled = false
                }
            }
            pthread_mutex_unlock(mutex)
        }
    }
}

/// A detached, named pthread.
enum Thread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    static func start(name: String, _ body: @escaping () -> Void) {
        let context = Unmanaged.passRetained(Body {
            setCurrentName(name)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        precondition(created == 0, "cannot start an I/O thread: \(created)")
        pthread_detach(thread)
    }

    /// Names the calling thread, as `top -H` and `ps -L` show it (15 bytes at most).
    private static func setCurrentName(_ name: String) {
        let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        close(file)
    }
}
