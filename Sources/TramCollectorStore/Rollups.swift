/// The rules the `rollups` table is written by (Schema.swift defines the columns; docs/collector.md, "Store").
///
/// Ingest and the version-1 migration's back-fill (Migration.swift, in SQL) follow the same rules, and the exactness
/// tests check both against a reference computed from the raw rows:
/// - every reading counts in its bucket (`count`; `good` when its quality is 0);
/// - its rollup value (``RollupRules/value(engineering:rawInt:type:)``) goes into `numeric`, `sum`, `min`, `max`;
///   `first_ms`/`last_ms` are the bucket's oldest and newest reading times and `last_value` the newest one's value
///   (of two at the same time, the one stored last);
/// - a point's **chain** is its readings in the order they were stored, less the out-of-order ones (older than the
///   newest before them). Along the chain a good reading holds until the next one, at most ``RollupRules/holdLimit(
///   intervalMilliseconds:heartbeatMilliseconds:)`` and never across a loss the gateway reported (``LossWindow``),
///   and that held time is split over the buckets it covers (`good_ms`); a bucket only held
///   into, with no reading of its own, has a row with `count` 0, `first_ms` = `last_ms` = its start and no value;
/// - `increase`, in the bucket of the later reading: the rise from the chain's previous value to this one, a fall
///   counted as a reset from zero (the new value). Written for every point, so a point that turns out to be a counter
///   has its history; the console shows it only for counters.
public enum RollupRules {
    public static let minuteMilliseconds: Int64 = 60_000
    public static let hourMilliseconds: Int64 = 3_600_000
    /// Whole UTC days: a yearly report reads 365 rows a point instead of 8,760 (3.8 s → 0.3–0.5 s for 600 points,
    /// debug build); `first_ms`/`last_ms` tell it which local days a UTC day's readings fell on.
    public static let dayMilliseconds: Int64 = 86_400_000
    public static let widths = [minuteMilliseconds, hourMilliseconds, dayMilliseconds]
    /// How long a reading holds when its point's poll interval is unknown (a dictionary from an agent that does not
    /// send intervals): as if it were polled every 5 minutes.
    public static let defaultHoldLimitMilliseconds: Int64 = 600_000

    /// What a heartbeat's hold adds beyond the heartbeat and one poll interval. A reading is stamped when its
    /// response arrives, not when its poll was due, so two sends can lie further apart than the agent's schedule says
    /// by the spread of response times: up to a link's response timeout (1 s by default) plus the wait for a shared
    /// serial bus. 2 s covers the default timeout with a second to spare; a link with a longer timeout has a
    /// longer interval too, which the hold already adds.
    public static let heartbeatMarginMilliseconds: Int64 = 2_000

    /// How long a reading of a point holds: until the next reading, at most this.
    ///
    /// Without a heartbeat: twice the point's poll interval, or ``defaultHoldLimitMilliseconds`` when it is unknown.
    /// With one (report by exception): the heartbeat + the poll interval + ``heartbeatMarginMilliseconds``, and never
    /// less than twice the interval. The agent sends a quiet point at the last poll that keeps the gap between two
    /// sends at most the heartbeat, so the next send is due within the heartbeat; the interval covers that poll being
    /// late or failing by one cycle, and the margin the response time (above). A point quiet for less than its hold is
    /// not stale; one whose hold ran out missed a heartbeat. Without a known interval: heartbeat + margin.
    public static func holdLimit(intervalMilliseconds: UInt64?, heartbeatMilliseconds: UInt64? = nil) -> Int64 {
        let twice: Int64? = intervalMilliseconds.flatMap { interval in
            guard interval > 0 else { return nil }
            let milliseconds = Int64(clamping: interval)
            return milliseconds > Int64.max / 2 ? .max : milliseconds * 2
        }
        guard let heartbeat = heartbeatMilliseconds, heartbeat > 0 else { return twice ?? defaultHoldLimitMilliseconds }
        let interval = intervalMilliseconds.map { Int64(clamping: $0) } ?? 0
        let (sum, overflow) = Int64(clamping: heartbeat).addingReportingOverflow(interval)
        let (limit, overflow2) = sum.addingReportingOverflow(heartbeatMarginMilliseconds)
        return overflow || overflow2 ? .max : max(limit, twice ?? 0)
    }

    /// ``holdLimit(intervalMilliseconds:heartbeatMilliseconds:)`` in SQL, over a `points` row named `p`.
    public static func holdLimitSQL(_ p: String = "p") -> String {
        """
        (CASE WHEN \(p).heartbeat_ms > 0 THEN max(\(p).heartbeat_ms + coalesce(\(p).interval_ms, 0) + \(heartbeatMarginMilliseconds), \
        2 * coalesce(\(p).interval_ms, 0)) WHEN \(p).interval_ms > 0 THEN 2 * \(p).interval_ms \
        ELSE \(defaultHoldLimitMilliseconds) END)
        """
    }

    /// The value a reading adds to `sum`/`min`/`max`: its engineering value, or a bool's raw 0/1. Not finite → none
    /// (an infinity would make `sum` NaN, which SQLite stores as NULL).
    @inline(__always)
    public static func value(engineering: Double?, rawInt: Int64?, type: UInt8) -> Double? {
        if type == 1 { return rawInt.map(Double.init) }
        guard let engineering, engineering.isFinite else { return nil }
        return engineering
    }

    /// The start of the bucket of `width` holding `time` (floored, also before 1970).
    @inline(__always)
    public static func bucket(_ time: Int64, width: Int64) -> Int64 {
        let remainder = time % width
        return remainder < 0 ? time - remainder - width : time - remainder
    }

    /// Calls `body(bucket start, milliseconds)` for each bucket of `width` that `[start, end)` covers.
    public static func split(from start: Int64, to end: Int64, width: Int64, _ body: (Int64, Int64) -> Void) {
        var from = start
        while from < end {
            let bucket = bucket(from, width: width)
            let (next, overflow) = bucket.addingReportingOverflow(width)
            let until = overflow ? end : min(end, next)
            body(bucket, until - from)
            from = until
        }
    }

    /// The increase from `base` to `value`: the rise, or the whole value after a fall (a counter's reset).
    @inline(__always)
    public static func increase(from base: Double, to value: Double) -> Double {
        value >= base ? value - base : value
    }
}

/// One bucket's aggregate, as ingest builds it in memory before its single upsert.
struct RollupBucket {
    var count: Int64 = 0
    var good: Int64 = 0
    var numeric: Int64 = 0
    var sum = 0.0
    var min: Double?
    var max: Double?
    var first: Int64 = .max
    var last: Int64 = .min
    var lastValue: Double?
    var increase = 0.0
    var goodMilliseconds: Int64 = 0

    @inline(__always)
    mutating func add(time: Int64, good isGood: Bool, value: Double?) {
        count += 1
        if isGood { good += 1 }
        if let value {
            numeric += 1
            sum += value
            if min.map({ value < $0 }) ?? true { min = value }
            if max.map({ value > $0 }) ?? true { max = value }
        }
        if time < first { first = time }
        // `>=`: of two readings at the same time, the later stored is the newer (as the upsert's rule).
        if time >= last {
            last = time
            lastValue = value
        }
    }
}

/// The key of a rollup row.
struct RollupKey: Hashable, Comparable {
    var point: Int64
    var width: Int64
    var bucket: Int64

    static func < (a: RollupKey, b: RollupKey) -> Bool {
        (a.point, a.width, a.bucket) < (b.point, b.width, b.bucket)
    }
}
