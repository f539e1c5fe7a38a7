/// The time a gateway's dropped batches lay in (a loss mark's window, `losses.from_ms`…`to_ms`): what happened to a
/// point within it is unknown, so no value is held into it.
public struct LossWindow: Sendable, Equatable {
    public var from: Int64
    public var to: Int64

    public init(from: Int64, to: Int64) {
        self.from = from
        self.to = to
    }
}

/// How long a sent value stands for its point: the one rule ingest's time-weighted rollups, the plots and the read
/// API's held values follow.
///
/// A reading at `t` holds over [t, end): until the point's next reading, at most its hold limit
/// (``RollupRules/holdLimit(intervalMilliseconds:heartbeatMilliseconds:)``), and never into a loss: a loss window
/// that ends after `t` and starts before the end cuts it at max(t, the window's start). A gap in sequences that the
/// gateway did not report dropped (a backlog drained live-first arrives out of order) is no loss and cuts nothing.
public enum HoldRule {
    /// The end of the hold of a reading at `start`, the point's next reading at `next` (nil: none yet), `losses`
    /// sorted by `from`.
    public static func end(from start: Int64, next: Int64?, limit: Int64, losses: [LossWindow]) -> Int64 {
        let (limited, overflow) = start.addingReportingOverflow(limit)
        var end = overflow ? Int64.max : limited
        if let next { end = min(end, next) }
        // Sorted by start: the first window that overlaps (start, end) cuts earliest.
        for loss in losses where loss.to > start && loss.from < end {
            return max(start, loss.from)
        }
        return end
    }

    /// Whether a reading at `reading` stands for its point at `t` (t ≥ reading, and no reading of the point in
    /// between): at its own instant always, after it while within its hold.
    public static func holds(reading: Int64, at t: Int64, limit: Int64, losses: [LossWindow]) -> Bool {
        t == reading || (t > reading && t < end(from: reading, next: nil, limit: limit, losses: losses))
    }
}
