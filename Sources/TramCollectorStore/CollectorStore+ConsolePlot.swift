/// A point's plot series for the console's device page (``PlotSeries``).
extension CollectorStore {
    /// The plot of point row `point` over [from, to): raw readings when the range holds at most 2,000 (one
    /// index search, stopped at 2,001), else minute or hour rollups re-grouped to at most 2,000 buckets. With `rate`,
    /// a counter's increase per second instead of its value. A point that reports by exception (a deadband or a
    /// heartbeat) is drawn step-hold (``PlotSeries/stepHold``), unless shown as a rate.
    public func plot(point: Int64, from: Int64, to: Int64, rate: Bool = false) throws -> PlotSeries {
        let to = max(to, from + 1)
        let readings =
            try consoleFirst(
                """
                SELECT count(*) FROM (SELECT 1 FROM readings WHERE point = ? AND time_ms >= ? AND time_ms < ? LIMIT ?)
                """, [.integer(point), .integer(from), .integer(to), .integer(Int64(PlotSeries.rawLimit + 1))],
                { Int($0.int64(0)) }) ?? 0
        let hold = rate ? nil : try stepHold(point: point, from: from, to: to)
        var series: PlotSeries
        switch PlotSeries.source(from: from, to: to, readings: readings) {
        case .raw where readings <= PlotSeries.rawLimit:
            series = try rawPlot(point: point, from: from, to: to, rate: rate)
            if let hold {
                series.holds = PlotHoldFill.holds(
                    try rawRows(point: point, from: from, to: to),
                    before: try readingBefore(point: point, time: from), from: from, to: to, limit: hold.limit,
                    losses: hold.losses)
            }
        case .raw: series = try groupedRawPlot(point: point, from: from, to: to, rate: rate, hold: hold)
        case .minute:
            series = try rollupPlot(
                point: point, from: from, to: to, source: .minute, width: PlotSeries.minuteWidth, rate: rate,
                hold: hold)
        case .hour:
            series = try rollupPlot(
                point: point, from: from, to: to, source: .hour, width: PlotSeries.hourWidth, rate: rate, hold: hold)
        }
        series.stepHold = hold != nil
        return series
    }

    /// A point that reports by exception is drawn step-hold: its hold limit and its gateway's losses near the range;
    /// nil for any other point.
    struct StepHold {
        var limit: Int64
        var losses: [LossWindow]
    }

    func stepHold(point: Int64, from: Int64, to: Int64) throws -> StepHold? {
        guard
            let limit = try consoleFirst(
                """
                SELECT \(RollupRules.holdLimitSQL("p")) FROM points p
                WHERE p.id = ? AND (p.deadband IS NOT NULL OR p.heartbeat_ms IS NOT NULL)
                """, [.integer(point)], { $0.int64(0) })
        else { return nil }
        let (start, overflow) = from.subtractingReportingOverflow(limit)
        return StepHold(limit: limit, losses: try lossWindows(point: point, from: overflow ? .min : start, to: to))
    }

    /// The newest reading before `time` (time and plotted value), whose hold may reach into a range.
    private func readingBefore(point: Int64, time: Int64) throws -> (time: Int64, value: Double?)? {
        try consoleFirst(
            """
            SELECT time_ms, CASE WHEN type = 1 THEN raw_int ELSE value END FROM readings
            WHERE point = ? AND time_ms < ? ORDER BY time_ms DESC, rowid DESC LIMIT 1
            """, [.integer(point), .integer(time)]
        ) { (time: $0.int64(0), value: $0.optionalDouble(1)) }
    }

    /// The range's readings (time, plotted value) by time, of two at the same time the later stored last.
    private func rawRows(point: Int64, from: Int64, to: Int64) throws -> [(time: Int64, value: Double?)] {
        try consoleRows(
            """
            SELECT time_ms, CASE WHEN type = 1 THEN raw_int ELSE value END FROM readings
            WHERE point = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms, rowid
            """, [.integer(point), .integer(from), .integer(to)]
        ) { (time: $0.int64(0), value: $0.optionalDouble(1)) }
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
    private func groupedRawPlot(point: Int64, from: Int64, to: Int64, rate: Bool, hold: StepHold?) throws
        -> PlotSeries
    {
        let grouping = PlotSeries.rawGrouping(from: from, to: to)
        if let hold {
            // Each bucket's newest reading too (its time and value), where the hold after it starts.
            let rows = try consoleRows(
                """
                SELECT i, count(*), min(v), max(v), sum(v), count(v), 0, max(time_ms), max(lv) FROM (
                  SELECT (time_ms - ?2) / ?4 AS i, time_ms, CASE WHEN type = 1 THEN raw_int ELSE value END AS v,
                    first_value(CASE WHEN type = 1 THEN raw_int ELSE value END) OVER (
                      PARTITION BY (time_ms - ?2) / ?4 ORDER BY time_ms DESC, rowid DESC) AS lv
                  FROM readings WHERE point = ?1 AND time_ms >= ?2 AND time_ms < ?3)
                GROUP BY i ORDER BY i
                """,
                [.integer(point), .integer(grouping.from), .integer(grouping.to), .integer(grouping.width)]
            ) { s in
                PlotHoldFill.Grouped(
                    bucket: Self.plotBucket(s, width: grouping.width, rate: false), lastTime: s.optionalInt64(7),
                    lastValue: s.optionalDouble(8))
            }
            let buckets = PlotHoldFill.fill(
                rows, from: grouping.from, width: grouping.width,
                count: (grouping.to - grouping.from) / grouping.width,
                before: try readingBefore(point: point, time: grouping.from), limit: hold.limit, losses: hold.losses)
            return PlotSeries(
                source: .raw, from: grouping.from, to: grouping.to, widthMilliseconds: grouping.width,
                buckets: buckets, rate: false)
        }
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
        point: Int64, from: Int64, to: Int64, source: PlotSeries.Source, width: Int64, rate: Bool, hold: StepHold?
    ) throws -> PlotSeries {
        let grouping = PlotSeries.grouping(from: from, to: to, sourceWidth: width)
        if let hold {
            // Each plot bucket's newest reading: of its rollup rows with readings, the one with the newest last_ms.
            let rows = try consoleRows(
                """
                SELECT i, sum(count), min(min), max(max), sum(sum), sum(numeric), 0, max(lt), max(lv) FROM (
                  SELECT (bucket_ms - ?3) / ?5 AS i, count, min, max, sum, numeric,
                    CASE WHEN count > 0 THEN last_ms END AS lt,
                    first_value(CASE WHEN count > 0 THEN last_value END) OVER (
                      PARTITION BY (bucket_ms - ?3) / ?5 ORDER BY count > 0 DESC, last_ms DESC) AS lv
                  FROM rollups WHERE point = ?1 AND width_ms = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4)
                GROUP BY i ORDER BY i
                """,
                [
                    .integer(point), .integer(width), .integer(grouping.from), .integer(grouping.to),
                    .integer(grouping.width),
                ]
            ) { s in
                PlotHoldFill.Grouped(
                    bucket: Self.plotBucket(s, width: grouping.width, rate: false), lastTime: s.optionalInt64(7),
                    lastValue: s.optionalDouble(8))
            }
            let before = try consoleFirst(
                """
                SELECT last_ms, last_value FROM rollups WHERE point = ? AND width_ms = ? AND bucket_ms < ? AND count > 0
                ORDER BY bucket_ms DESC LIMIT 1
                """, [.integer(point), .integer(width), .integer(grouping.from)]
            ) { (time: $0.int64(0), value: $0.optionalDouble(1)) }
            let buckets = PlotHoldFill.fill(
                rows, from: grouping.from, width: grouping.width,
                count: (grouping.to - grouping.from) / grouping.width, before: before, limit: hold.limit,
                losses: hold.losses)
            return PlotSeries(
                source: source, from: grouping.from, to: grouping.to, widthMilliseconds: grouping.width,
                buckets: buckets, rate: false)
        }
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
