import Logging
import Synchronization

/// Passes log events through, except that an event identical to one logged within the last `window` (same
/// level, message, device, link and sink) is counted instead of printed; an audit record (`audit` metadata) never is. The next one after the window says how
/// many were held back, so a device that fails every 100 ms writes one line a minute, not six hundred.
public struct RateLimitedLogHandler: LogHandler {
    private var inner: any LogHandler
    private let memory: Memory
    private let windowMilliseconds: Int64
    private let now: @Sendable () -> Int64

    final class Memory: Sendable {
        struct Seen { var firstMilliseconds: Int64; var suppressed: Int }
        let seen = Mutex<[String: Seen]>([:])
    }

    public init(_ inner: any LogHandler, windowMilliseconds: Int64 = 60_000, now: @escaping @Sendable () -> Int64) {
        self.inner = inner
        self.memory = Memory()
        self.windowMilliseconds = windowMilliseconds
        self.now = now
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = inner.metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        // An audit record (`audit` in its metadata: a write attempt) is each its own event, never a repeat.
        if merged["audit"] != nil { return inner.log(event: event) }
        let key =
            "\(event.level)|\(event.message)|\(merged["device"].map { "\($0)" } ?? "")|\(merged["link"].map { "\($0)" } ?? "")|\(merged["sink"].map { "\($0)" } ?? "")"
        let time = now()
        let suppressedBefore: Int? = memory.seen.withLock { seen in
            if var entry = seen[key], time - entry.firstMilliseconds < windowMilliseconds {
                entry.suppressed += 1
                seen[key] = entry
                return nil
            }
            let before = seen[key]?.suppressed ?? 0
            seen[key] = Memory.Seen(firstMilliseconds: time, suppressed: 0)
            if seen.count > 4096 { seen = seen.filter { time - $0.value.firstMilliseconds < windowMilliseconds } }
            return before
        }
        guard let suppressedBefore else { return }
        var event = event
        if suppressedBefore > 0 {
            var metadata = event.metadata ?? [:]
            metadata["repeated"] = "\(suppressedBefore) more in the last \(windowMilliseconds / 1000) s"
            event.metadata = metadata
        }
        inner.log(event: event)
    }
}
