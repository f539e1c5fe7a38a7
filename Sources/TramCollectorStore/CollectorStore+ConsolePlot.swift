/// A point's plot series for the console's device page (``PlotSeries``).
extension CollectorStore {
    /// The plot of point row `point` over [from, to): raw readings when the range holds at most 2,000 (one
    /// index search, stopped at 2,001), else minute or hour rollups re-grouped to at most 2,000 buckets. With `rate`,
    /// a counter's increase per second instead of its value.
    public func plot(point: Int64, from: Int64, to: Int64, rate: Bool = false) throws -> PlotSeries {
        let to = max(to, from + 1)
        let readings =
            try consoleFirst(
                """
                SELECT count(*) FROM (SELECT 1 FROM readings WHERE point = ? AND time_ms >= ? AND time_ms < ? LIMIT ?)
                """, [.integer(point), .integer(from), .integer(to), .integer(Int64(PlotSeries.rawLimit + 1))],
                { Int($0.int64(0)) }) ?? 0
        switch PlotSeries.source(from: from, to: to, readings: readings) {
        case .raw where readings <= PlotSeries.rawLimit:
            return try rawPlot(point: point, from: from, to: to, rate: rate)
        case .raw: return try groupedRawPlot(point: point, from: from, to: to, rate: rate)
        case .minute:
            return try rollupPlot(
                point: point, from: from, to: to, source: .minute, width: PlotSeries.minuteWidth, rate: rate)
        case .hour:
            return try rollupPlot(
                point: point, from: from, to: to, source: .hour, width: PlotSeries.hourWidth, rate: rate)
        }
    }

    /// Each reading its own bucket (width 1 ms). A bool plots as 0/1, a string not at all. As a rate: the rise to each
    /// reading from the one before it (a fall is a reset from zero) over the time between them.
    private func rawPlot(point: Int64, from: Int64, to: Int64, rate: Bool) throws -> PlotSeries {
        let rows = try consoleRows(
            """
            SELECT time_ms, CASE WHEN type = 1 THEN raw_int ELSE value END FROM readings
            WHERE point = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms
            """, [.integer(point), .integer(from), .integer(to)]
        ) { s in (time: s.int64(0), value: s.optionalDouble(1)) }
        var buckets: [PlotBucket] = []
        buckets.reserveCapacity(rows.count)
        var previous: (time: Int64, value: Double)?
        for row in rows {
            var value = row.value
            if rate {
                if let v = row.value, let p = previous, row.time > p.time {
                    value = (v >= p.value ? v - p.value : v) / (Double(row.time - p.time) / 1000)
                } else {
                    value = nil
                }
                if let v = row.value { previous = (row.time, v) }
            }
            buckets.append(PlotBucket(index: row.time - from, count: 1, minimum: value, maximum: value, mean: value))
        }
        return PlotSeries(source: .raw, from: from, to: to, widthMilliseconds: 1, buckets: buckets, rate: rate)
    }

    /// A dense short range (more than 2,000 readings in under 1,000 minutes: 1 h at 1 Hz, say): the raw readings
    /// grouped in SQL into 1,000–2,000 buckets, by one search of the (point, time_ms) index. As a rate: each bucket's
    /// rises between consecutive readings (a fall is a reset from zero) over the bucket width.
    private func groupedRawPlot(point: Int64, from: Int64, to: Int64, rate: Bool) throws -> PlotSeries {
        let grouping = PlotSeries.rawGrouping(from: from, to: to)
        let buckets = try consoleRows(
            """
            SELECT (time_ms - ?2) / ?4 AS i, count(*), min(v), max(v), sum(v), count(v),
              sum(CASE WHEN v IS NULL OR previous IS NULL THEN 0 WHEN v >= previous THEN v - previous ELSE v END)
            FROM (SELECT time_ms, CASE WHEN type = 1 THEN raw_int ELSE value END AS v,
                    lag(CASE WHEN type = 1 THEN raw_int ELSE value END) OVER (ORDER BY time_ms, rowid) AS previous
                  FROM readings WHERE point = ?1 AND time_ms >= ?2 AND time_ms < ?3)
            GROUP BY i ORDER BY i
            """,
            [.integer(point), .integer(grouping.from), .integer(grouping.to), .integer(grouping.width)]
        ) { Self.plotBucket($0, width: grouping.width, rate: rate) }
        return PlotSeries(
            source: .raw, from: grouping.from, to: grouping.to, widthMilliseconds: grouping.width, buckets: buckets,
            rate: rate)
    }

    /// Rollups of `width`, grouped by the plot's bucket width in SQL (a search of the rollups' primary key).
    private func rollupPlot(
        point: Int64, from: Int64, to: Int64, source: PlotSeries.Source, width: Int64, rate: Bool
    ) throws -> PlotSeries {
        let grouping = PlotSeries.grouping(from: from, to: to, sourceWidth: width)
        let buckets = try consoleRows(
            """
            SELECT (bucket_ms - ?3) / ?5 AS i, sum(count), min(min), max(max), sum(sum), sum(numeric), sum(increase)
            FROM rollups WHERE point = ?1 AND width_ms = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4
            GROUP BY i ORDER BY i
            """,
            [
                .integer(point), .integer(width), .integer(grouping.from), .integer(grouping.to),
                .integer(grouping.width),
            ]
        ) { Self.plotBucket($0, width: grouping.width, rate: rate) }
        return PlotSeries(
            source: source, from: grouping.from, to: grouping.to, widthMilliseconds: grouping.width, buckets: buckets,
            rate: rate)
    }

    /// One grouped row of either plot query, whose columns are: bucket index, readings, min, max, sum, readings with
    /// a value, and the rises (as a rate: the rises over the bucket width, drawn flat).
    private static func plotBucket(_ s: SQLiteStatement, width: Int64, rate: Bool) -> PlotBucket {
        if rate {
            let perSecond = s.double(6) / (Double(width) / 1000)
            return PlotBucket(
                index: s.int64(0), count: s.int64(1), minimum: perSecond, maximum: perSecond, mean: perSecond)
        }
        let numeric = s.int64(5)
        return PlotBucket(
            index: s.int64(0), count: s.int64(1), minimum: s.optionalDouble(2), maximum: s.optionalDouble(3),
            mean: numeric > 0 ? s.double(4) / Double(numeric) : nil)
    }
}
