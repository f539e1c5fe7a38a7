/// One point's readings, good time and local days with data over a report's period, from its rollups.
///
/// Whole UTC days come from day rollups (width 86,400,000 ms), when the point has them and the zone's offset is
/// constant over the period: a year is then 365 rows a point instead of 8,760. A day rollup's `first_ms` and
/// `last_ms` tell which of the (at most two) local days that its UTC day overlaps had data, exactly. The period's
/// edges, days before the point's first day rollup, and zones that change offset in the period, come from hour rollups
/// grouped by local day in SQL.
extension CollectorStore {
    struct PointTally {
        var readings: Int64 = 0
        var goodMilliseconds: Int64 = 0
        var days = Set<Int64>()
    }

    static let dayWidth = RollupRules.dayMilliseconds

    func reportTally(point: Int64, range: Range<Int64>, calendar: LocalCalendar) throws -> PointTally {
        var tally = PointTally()
        var hourRanges = [range]
        let firstWholeDay = PlotSeries.ceilAlign(range.lowerBound, Self.dayWidth)
        let lastWholeDay = PlotSeries.floorAlign(range.upperBound, Self.dayWidth)
        if firstWholeDay < lastWholeDay, let offset = calendar.constantOffset(over: range),
            let firstDayRollup = try consoleFirst(
                "SELECT min(bucket_ms) FROM rollups WHERE point = ? AND width_ms = ?",
                [.integer(point), .integer(Self.dayWidth)], { $0.optionalInt64(0) }) ?? nil
        {
            let from = max(firstWholeDay, firstDayRollup)
            if from < lastWholeDay {
                // Where in a UTC day local midnight falls (0: the zone is UTC, one local day per UTC day).
                let midnight = LocalCalendar.floorMod(-offset, Self.dayWidth)
                for row in try consoleRows(
                    """
                    SELECT bucket_ms, count, good_ms, first_ms, last_ms FROM rollups
                    WHERE point = ? AND width_ms = ? AND bucket_ms >= ? AND bucket_ms < ?
                    """, [.integer(point), .integer(Self.dayWidth), .integer(from), .integer(lastWholeDay)],
                    { s in (start: s.int64(0), count: s.int64(1), good: s.int64(2), first: s.int64(3), last: s.int64(4))
                    })
                {
                    tally.readings += row.count
                    tally.goodMilliseconds += row.good
                    guard row.count > 0 else { continue }
                    let split = row.start + midnight
                    if midnight == 0 || row.first < split { tally.days.insert(calendar.dayNumber(row.start)) }
                    if midnight != 0 && row.last >= split { tally.days.insert(calendar.dayNumber(split)) }
                }
                hourRanges = [range.lowerBound..<from, lastWholeDay..<range.upperBound]
            }
        }
        for hours in hourRanges where !hours.isEmpty {
            let day = calendar.dayExpression("bucket_ms", from: hours.lowerBound, to: hours.upperBound)
            for row in try consoleRows(
                """
                SELECT \(day) AS day, sum(count), sum(good_ms) FROM rollups
                WHERE point = ? AND width_ms = 3600000 AND bucket_ms >= ? AND bucket_ms < ? GROUP BY day
                """, [.integer(point), .integer(hours.lowerBound), .integer(hours.upperBound)],
                { s in (day: s.int64(0), count: s.int64(1), good: s.int64(2)) })
            {
                tally.readings += row.count
                tally.goodMilliseconds += row.good
                if row.count > 0 { tally.days.insert(row.day) }
            }
        }
        return tally
    }
}
