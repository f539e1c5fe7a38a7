/// The agent file's `batch:` section: when the open batch is sealed into the spool.
///
/// Longer batches compress better (docs/performance.md: 0.65 B a reading at 60 s), but readings wait in memory
/// until their batch is sealed, so `max_age` is also what a crash or power cut can lose, and how late the
/// collector sees a value.
public struct BatchSettings: Sendable, Equatable {
    public var maximumAge: Duration
    /// Encoded (uncompressed) bytes; a batch is sealed before it grows past this.
    public var maximumBytes: Int

    public init(maximumAge: Duration = .seconds(10), maximumBytes: Int = 256 << 10) {
        self.maximumAge = maximumAge
        self.maximumBytes = maximumBytes
    }
}
