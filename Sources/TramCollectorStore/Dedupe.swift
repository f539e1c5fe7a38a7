/// Which sequence numbers of one (gateway, epoch) are stored: every number below `watermark`, plus the runs above it.
///
/// Runs rather than single numbers: a gap (a batch the agent's spool dropped, or one still in flight) costs one row,
/// however many batches follow it, and a run that starts at the watermark folds into it. Exact: nothing is guessed.
public struct EpochDedupe: Equatable, Sendable {
    public private(set) var watermark: UInt64
    /// Disjoint, sorted, non-adjacent closed ranges, all above `watermark`.
    public private(set) var runs: [ClosedRange<UInt64>]

    public init(watermark: UInt64 = 0, runs: [ClosedRange<UInt64>] = []) {
        self.watermark = watermark
        self.runs = []
        for run in runs { insertRun(run) }
    }

    public func contains(_ sequence: UInt64) -> Bool {
        if sequence < watermark { return true }
        // Binary search for the last run starting at or before `sequence`.
        var low = 0, high = runs.count
        while low < high {
            let mid = (low + high) / 2
            if runs[mid].lowerBound <= sequence { low = mid + 1 } else { high = mid }
        }
        return low > 0 && runs[low - 1].contains(sequence)
    }

    /// Records `sequence`; false when it was already recorded (a duplicate).
    public mutating func insert(_ sequence: UInt64) -> Bool {
        guard !contains(sequence) else { return false }
        insertRun(sequence...sequence)
        return true
    }

    private mutating func insertRun(_ run: ClosedRange<UInt64>) {
        var merged = run
        var kept: [ClosedRange<UInt64>] = []
        kept.reserveCapacity(runs.count + 1)
        for existing in runs {
            let touchesBefore = existing.upperBound == .max || merged.lowerBound <= existing.upperBound + 1
            let touchesAfter = merged.upperBound == .max || existing.lowerBound <= merged.upperBound + 1
            if touchesBefore && touchesAfter {
                merged = min(existing.lowerBound, merged.lowerBound)...max(existing.upperBound, merged.upperBound)
            } else {
                kept.append(existing)
            }
        }
        kept.append(merged)
        kept.sort { $0.lowerBound < $1.lowerBound }
        // Fold the run that starts at (or below) the watermark into it.
        while let first = kept.first, first.lowerBound <= watermark {
            if first.upperBound == .max {
                // Every number is taken up to UInt64.max; the watermark cannot pass it, so the last stays a run.
                watermark = .max
                kept[0] = .max ... .max
                break
            }
            watermark = max(watermark, first.upperBound + 1)
            kept.removeFirst()
        }
        runs = kept
    }
}
