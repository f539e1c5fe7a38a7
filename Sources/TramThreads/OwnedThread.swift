#if canImport(Glibc)
import Glibc
#endif

/// A named OS thread that runs one closure: for loops that call blocking C (libcurl, fsync) and so must
/// never run on Swift's cooperative pool.
public final class OwnedThread: @unchecked Sendable {
    private var thread = pthread_t()
    private var joined = false

    private final class Start {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) { self.name = name; self.body = body }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes show in `top -H` and `/proc`).
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                OwnedThread.nameCurrentThread(start.name)
                start.body()
                return nil
            }, start)
        precondition(result == 0, "pthread_create failed: \(result)")
    }

    /// Names the calling thread, as `top -H` and `ps -L` show it (15 bytes at most).
    public static func nameCurrentThread(_ name: String) {
        let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        close(file)
    }

    /// A thread nobody joined is detached, so its stack is freed when it ends.
    deinit {
        if !joined { pthread_detach(thread) }
    }

    /// Waits for the closure to return. Call once.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }
}

extension OwnedThread {
    /// Runs blocking work (joining a thread, a final `fdatasync`, a bounded wait for an upload) on a thread of its
    /// own and awaits it, so an async caller never blocks a thread of Swift's cooperative pool.
    public static func offload<Result: Sendable>(name: String, _ body: @escaping @Sendable () -> Result) async -> Result
    {
        await withCheckedContinuation { continuation in
            // Dropped at once, so detached: the continuation carries the result.
            _ = OwnedThread(name: name) { continuation.resume(returning: body()) }
        }
    }
}

extension OwnedThread {
    /// Sleeps the calling owned thread, resuming after a signal interrupts it. Never call it from a Swift task: it
    /// blocks a cooperative thread.
    public static func sleep(nanoseconds: UInt64) {
        guard nanoseconds > 0 else { return }
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}
