/// A point's plot for a range: where it came from and its buckets (``CollectorStore/plot(point:from:to:rate:)``).
///
/// The source is chosen so no plot reads more than a few thousand rows: the raw readings when the range holds at most
/// ``PlotSeries/rawLimit`` of them, else (a dense range) raw readings grouped for ranges under 1,000 minutes, minute
/// rollups under 1,000 hours, else hour rollups. Groups are buckets of `widthMilliseconds` (for rollups a whole
/// number of the source's buckets), so the plot has at most 2,000 buckets, and at least 1,000 when the source has that
/// many in the range. Raw readings of a sparse range are each a bucket of their own (width 1 ms, min = max = mean = the
/// value). A bucket that is not in `buckets` is a gap.
public struct PlotSeries: Sendable, Equatable {
    public enum Source: String, Sendable {
        case raw, minute, hour
    }

    public var source: Source
    /// The plotted range, aligned to the bucket width (from floored, to ceiled).
    public var from: Int64
    public var to: Int64
    public var widthMilliseconds: Int64
    /// Buckets present, by index ascending.
    public var buckets: [PlotBucket]
    /// Shown as a rate (per second) of a counter's increase.
    public var rate: Bool
    /// Drawn step-hold: the point reports by exception, so its value stays flat from one sent reading until the next,
    /// at most its hold limit and never across a loss (``HoldRule``). Grouped and rollup buckets without a reading
    /// of their own are then in `buckets` with the held value (count 0); raw readings' holds are `holds`.
    public var stepHold = false
    /// For raw readings drawn step-hold: each sent value's hold, by start, in bucket indices (the one before the range
    /// included, from index 0). Empty otherwise.
    public var holds: [PlotHold] = []

    /// (to − from) / width: the plot's width in buckets.
    public var bucketCount: Int64 { (to - from) / widthMilliseconds }

    public static let rawLimit = 2_000
    public static let maximumBuckets: Int64 = 2_000
    public static let minuteWidth: Int64 = 60_000
    public static let hourWidth: Int64 = 3_600_000
    /// From this range length on, hour rollups (minute rollups are kept 45 days).
    public static let hourSourceFrom: Int64 = 1_000 * 3_600_000

    /// Below this range length, minute rollups would give fewer than 1,000 buckets: a dense range this short is
    /// grouped from the raw readings instead (at most 1,000 minutes of them, one index search).
    public static let minuteSourceFrom: Int64 = 1_000 * 60_000

    /// The source for a range that holds `readings` raw readings (counted up to `rawLimit + 1`).
    public static func source(from: Int64, to: Int64, readings: Int) -> Source {
        if readings <= rawLimit || to - from < minuteSourceFrom { return .raw }
        return to - from < hourSourceFrom ? .minute : .hour
    }

    /// The bucket grid for raw readings grouped over a short range: whole seconds when that still gives 1,000
    /// buckets, else whole milliseconds.
    public static func rawGrouping(from: Int64, to: Int64) -> (width: Int64, from: Int64, to: Int64) {
        grouping(from: from, to: to, sourceWidth: to - from >= 1_000 * 1_000 ? 1_000 : 1)
    }

    /// The smallest whole multiple of `sourceWidth` whose aligned cover of [from, to) has at most 2,000 buckets, and
    /// that cover.
    public static func grouping(from: Int64, to: Int64, sourceWidth: Int64) -> (width: Int64, from: Int64, to: Int64) {
        let span = max(to - from, 1)
        var multiple = max(1, (span + maximumBuckets * sourceWidth - 1) / (maximumBuckets * sourceWidth))
        while true {
            let width = multiple * sourceWidth
            let low = floorAlign(from, width)
            let high = ceilAlign(to, width)
            if (high - low) / width <= maximumBuckets { return (width, low, max(high, low + width)) }
            multiple += 1
        }
    }

    static func floorAlign(_ value: Int64, _ width: Int64) -> Int64 {
        LocalCalendar.floorDivide(value, width) * width
    }

    static func ceilAlign(_ value: Int64, _ width: Int64) -> Int64 {
        -LocalCalendar.floorDivide(-value, width) * width
    }
}

/// One plotted bucket: readings counted, and the min, max and mean of their values (or of the rate).
public struct PlotBucket: Sendable, Equatable {
    /// (bucket start − from) / width.
    public var index: Int64
    public var count: Int64
    /// nil when no reading in the bucket had a value (a gap in the plotted line).
    public var minimum: Double?
    public var maximum: Double?
    public var mean: Double?

    public init(index: Int64, count: Int64, minimum: Double?, maximum: Double?, mean: Double?) {
        self.index = index
        self.count = count
        self.minimum = minimum
        self.maximum = maximum
        self.mean = mean
    }
}

/// A sent value held over bucket indices [fromIndex, toIndex) of a raw plot (equal: the reading's own instant only).
public struct PlotHold: Sendable, Equatable {
    public var fromIndex: Int64
    public var toIndex: Int64
    public var value: Double

    public init(fromIndex: Int64, toIndex: Int64, value: Double) {
        self.fromIndex = fromIndex
        self.toIndex = toIndex
        self.value = value
    }
}
