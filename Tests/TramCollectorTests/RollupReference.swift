/// What the rollups and `point_latest` must hold, computed here from the raw rows alone (read through a second
/// connection), written out independently of the store's code: docs/collector.md's rules, step by step.
struct RollupReference {
    struct Row: Equatable, CustomStringConvertible {
        var count: Int64 = 0
        var good: Int64 = 0
        var numeric: Int64 = 0
        var sum = 0.0
        var min: Double?
        var max: Double?
        var first: Int64 = 0
        var last: Int64 = 0
        var lastValue: Double?
        var increase = 0.0
        var goodMilliseconds: Int64 = 0

        var description: String {
            "count \(count) good \(good) numeric \(numeric) sum \(sum) min \(min.map { "\($0)" } ?? "nil") "
                + "max \(max.map { "\($0)" } ?? "nil") first \(first) last \(last) "
                + "last_value \(lastValue.map { "\($0)" } ?? "nil") increase \(increase) good_ms \(goodMilliseconds)"
        }
    }

    struct Key: Hashable, Comparable, CustomStringConvertible {
        var point: Int64
        var width: Int64
        var bucket: Int64
        static func < (a: Key, b: Key) -> Bool { (a.point, a.width, a.bucket) < (b.point, b.width, b.bucket) }
        var description: String { "point \(point) width \(width) bucket \(bucket)" }
    }

    /// A point's newest reading by the chain, and what it carries forward.
    struct Latest: Equatable {
        var rowid: Int64
        var time: Int64
        var quality: Int64
        var qualitySince: Int64
        var increaseBase: Double?
    }

    var rollups: [Key: Row] = [:]
    var latest: [Int64: Latest] = [:]

    static let widths: [Int64] = [60_000, 3_600_000, 86_400_000]
    static let holdLimit: Int64 = 600_000  // no intervals in these dictionaries: the default

    static func floor(_ time: Int64, _ width: Int64) -> Int64 {
        let r = time % width
        return r < 0 ? time - r - width : time - r
    }

    init(_ peek: Peek) throws {
        // The raw rows of each point in the order they were stored (rowid): the order ingest met them.
        let rows = try peek.rows(
            "SELECT point, rowid, time_ms, value, raw_int, type, quality FROM readings ORDER BY point, rowid")
        var lastRowid: [Key: Int64] = [:]
        for row in rows {
            let point = row[0] as! Int64, rowid = row[1] as! Int64, time = row[2] as! Int64
            let type = row[5] as! Int64, quality = row[6] as! Int64
            let engineering = row[3] as? Double
            let value: Double? =
                type == 1 ? (row[4] as? Int64).map(Double.init) : engineering.flatMap { $0.isFinite ? $0 : nil }
            for width in Self.widths {
                let key = Key(point: point, width: width, bucket: Self.floor(time, width))
                var r = rollups[key] ?? Row()
                if r.count == 0 {
                    r.first = time
                    r.last = time
                    r.lastValue = value
                    lastRowid[key] = rowid
                }
                r.count += 1
                if quality == 0 { r.good += 1 }
                if let value {
                    r.numeric += 1
                    r.sum += value
                    r.min = Swift.min(r.min ?? value, value)
                    r.max = Swift.max(r.max ?? value, value)
                }
                r.first = Swift.min(r.first, time)
                if (time, rowid) > (r.last, lastRowid[key]!) {
                    r.last = time
                    r.lastValue = value
                    lastRowid[key] = rowid
                }
                rollups[key] = r
            }
            // The chain: a reading older than the point's newest so far is out of order.
            if let previous = latest[point], time < previous.time { continue }
            let previous = latest[point]
            if let previous, previous.quality == 0 {
                hold(point, from: previous.time, to: Swift.min(time, previous.time + Self.holdLimit))
            }
            var base = previous?.increaseBase
            if let value {
                if let base {
                    let increase = value >= base ? value - base : value
                    for width in Self.widths {
                        rollups[Key(point: point, width: width, bucket: Self.floor(time, width))]!.increase += increase
                    }
                }
                base = value
            }
            let since = previous.map { $0.quality == quality ? $0.qualitySince : time } ?? time
            latest[point] = Latest(
                rowid: rowid, time: time, quality: quality, qualitySince: since, increaseBase: base)
        }
    }

    private mutating func hold(_ point: Int64, from start: Int64, to end: Int64) {
        for width in Self.widths {
            var t = start
            while t < end {
                let bucket = Self.floor(t, width)
                let until = Swift.min(end, bucket + width)
                let key = Key(point: point, width: width, bucket: bucket)
                // A bucket only held into: count 0, first = last = its start.
                var r = rollups[key] ?? Row(first: bucket, last: bucket)
                r.goodMilliseconds += until - t
                rollups[key] = r
                t = until
            }
        }
    }

    /// The store's rollup rows, in the same shape.
    static func stored(_ peek: Peek) throws -> [Key: Row] {
        var result: [Key: Row] = [:]
        for row in try peek.rows(
            """
            SELECT point, width_ms, bucket_ms, count, good, numeric, sum, min, max, first_ms, last_ms, last_value,
              increase, good_ms FROM rollups
            """)
        {
            let key = Key(point: row[0] as! Int64, width: row[1] as! Int64, bucket: row[2] as! Int64)
            result[key] = Row(
                count: row[3] as! Int64, good: row[4] as! Int64, numeric: row[5] as! Int64, sum: row[6] as! Double,
                min: row[7] as? Double, max: row[8] as? Double, first: row[9] as! Int64, last: row[10] as! Int64,
                lastValue: row[11] as? Double, increase: row[12] as! Double, goodMilliseconds: row[13] as! Int64)
        }
        return result
    }

    /// Differences between the store's rollups and this reference (empty when equal), at most `limit` of them.
    func differences(_ stored: [Key: Row], limit: Int = 10) -> [String] {
        var out: [String] = []
        for key in Set(stored.keys).union(rollups.keys).sorted() where stored[key] != rollups[key] {
            out.append(
                "\(key): stored \(stored[key].map { "\($0)" } ?? "none"); expected \(rollups[key].map { "\($0)" } ?? "none")"
            )
            if out.count == limit { break }
        }
        return out
    }
}
