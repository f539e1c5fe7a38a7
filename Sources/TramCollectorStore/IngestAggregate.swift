/// A point's newest reading (by reading time) as `point_latest` holds it, with what the next reading needs.
struct PointLatest: Equatable {
    var time: Int64
    var value: Double?
    var rawInt: Int64?
    var rawText: String?
    var type: UInt8
    var quality: UInt8
    var exception: UInt8?
    var clock: UInt8
    /// The time of the first reading of the current run of `quality`.
    var qualitySince: Int64
    /// The newest rollup value along the chain (kept across readings without one).
    var increaseBase: Double?
}

/// What one ingest request adds to the rollups, `point_latest` and the gateway's clock state, built in memory while its
/// readings are inserted and written once at the end of the transaction (one upsert per bucket and per point), so
/// the cost is per bucket, not per reading. The rules are ``RollupRules``'.
struct IngestAggregate {
    private(set) var buckets: [RollupKey: RollupBucket] = [:]
    /// Every point the request touched, with its newest reading (nil: it has none yet) and whether that moved.
    private(set) var points: [Int64: (latest: PointLatest?, moved: Bool)] = [:]
    /// Every group's time and synchronised bit, for the gateway's clock state.
    private(set) var clocks: [(time: Int64, synchronised: Bool)] = []

    /// Adds one stored reading. `previous` loads a point's `point_latest` row the first time the request meets it.
    @inline(__always)
    mutating func add(
        point: Int64, time: Int64, engineering: Double?, rawInt: Int64?, rawText: String?, type: UInt8,
        quality: UInt8, exception: UInt8?, clock: UInt8, holdLimit: Int64,
        previous: (Int64) throws -> PointLatest?
    ) rethrows {
        let value = RollupRules.value(engineering: engineering, rawInt: rawInt, type: type)
        let good = quality == 0
        for width in RollupRules.widths {
            let key = RollupKey(point: point, width: width, bucket: RollupRules.bucket(time, width: width))
            buckets[key, default: RollupBucket()].add(time: time, good: good, value: value)
        }
        let latest: PointLatest?
        if let known = points[point] { latest = known.latest } else { latest = try previous(point) }
        var next = PointLatest(
            time: time, value: engineering, rawInt: rawInt, rawText: rawText, type: type, quality: quality,
            exception: exception, clock: clock, qualitySince: time, increaseBase: value)
        if let latest {
            // Out of order: counted above, but it neither ends a hold nor moves the point's newest reading.
            guard time >= latest.time else {
                if points[point] == nil { points[point] = (latest, false) }
                return
            }
            if latest.quality == 0 {
                let (limit, overflow) = latest.time.addingReportingOverflow(holdLimit)
                hold(point: point, from: latest.time, to: overflow ? time : min(time, limit))
            }
            if latest.quality == quality { next.qualitySince = latest.qualitySince }
            if let base = latest.increaseBase {
                if let value {
                    let increase = RollupRules.increase(from: base, to: value)
                    if increase != 0 {
                        for width in RollupRules.widths {
                            let key = RollupKey(
                                point: point, width: width, bucket: RollupRules.bucket(time, width: width))
                            buckets[key]!.increase += increase
                        }
                    }
                } else {
                    next.increaseBase = base
                }
            }
        }
        points[point] = (next, true)
    }

    /// Notes a group's clock flags (bit 0: synchronised).
    mutating func addGroup(time: Int64, clock: UInt8) {
        clocks.append((time, clock & 1 != 0))
    }

    /// The gateway's clock state after this request: the newest group's synchronised bit, and the time of the
    /// oldest group of the run of that value that ends at the newest (nil when the request had no group).
    var clock: (synchronised: Bool, since: Int64)? {
        guard !clocks.isEmpty else { return nil }
        // Stable by time: of two groups at the same time, the later one counts as the newer.
        let ordered = clocks.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
        let newest = ordered.last!.element.synchronised
        var since = ordered.last!.element.time
        for entry in ordered.reversed() {
            guard entry.element.synchronised == newest else { break }
            since = entry.element.time
        }
        return (newest, since)
    }

    private mutating func hold(point: Int64, from start: Int64, to end: Int64) {
        guard end > start else { return }
        for width in RollupRules.widths {
            RollupRules.split(from: start, to: end, width: width) { bucket, milliseconds in
                buckets[RollupKey(point: point, width: width, bucket: bucket), default: RollupBucket()]
                    .goodMilliseconds += milliseconds
            }
        }
    }
}
