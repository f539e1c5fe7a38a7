import CSQLite
import TramCollectorStore

/// The console benchmark's year before the loaded week, written straight into the store: per point an hour rollup for
/// every hour and the day rollups they add up to, and per gateway its hourly ingest tallies. That is what the
/// collector holds for a plant that reported all year (rollups are kept 13 months), without spending hours of ingest
/// on it. Minute rollups are left out: they are kept 45 days and neither the report nor a 7-day plot reads them from
/// before the week.
///
/// The values are synthetic but shaped: a daily cycle per gauge, a steady rise per counter, and one hour in 97 with
/// a quarter of its readings bad, so that availability is not 100 %.
enum ConsoleYear {
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    /// Adds the history of every point and gateway in the store at `path` for [from, to) (`from` and `to` on whole
    /// hours); returns the rollup rows written.
    static func add(path: String, from: Int64, to: Int64, bytesPerHour: Int64) throws -> Int64 {
        let db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA synchronous=NORMAL")
        var points: [(id: Int64, counter: Bool)] = []
        try db.benchRows("SELECT id, kind FROM points ORDER BY id") {
            points.append((sqlite3_column_int64($0, 0), sqlite3_column_int64($0, 1) == 1))
        }
        var gateways: [Int64] = []
        try db.benchRows("SELECT id FROM gateways ORDER BY id") { gateways.append(sqlite3_column_int64($0, 0)) }

        var written: Int64 = 0
        for chunk in stride(from: 0, to: points.count, by: 100) {
            try db.execute("BEGIN")
            for point in points[chunk..<min(chunk + 100, points.count)] {
                let base = 20 + point.id % 50
                try db.benchRows(
                    """
                    WITH RECURSIVE h(b) AS (SELECT ?2 UNION ALL SELECT b + 3600000 FROM h WHERE b + 3600000 < ?3)
                    INSERT INTO rollups(point, width_ms, bucket_ms, count, good, numeric, sum, min, max, first_ms,
                                        last_ms, last_value, increase, good_ms)
                    SELECT ?1, 3600000, b, 60, g, 60, 60 * v, v - 1, v + 1, b, b + 3540000, v, ?5, g * 60000
                    FROM (SELECT b, ?4 + (b / 3600000) % 24 AS v,
                            CASE WHEN (b / 3600000) % 97 = 0 THEN 45 ELSE 60 END AS g FROM h)
                    """,
                    [
                        .integer(point.id), .integer(from), .integer(to), .integer(base),
                        .integer(point.counter ? 300 : 0),
                    ])
                // The day rollups are the hours' sums; a day the loaded week also touches adds to its row.
                try db.benchRows(
                    """
                    INSERT INTO rollups(point, width_ms, bucket_ms, count, good, numeric, sum, min, max, first_ms,
                                        last_ms, last_value, increase, good_ms)
                    SELECT point, 86400000, bucket_ms / 86400000 * 86400000, sum(count), sum(good), sum(numeric),
                      sum(sum), min(min), max(max), min(first_ms), max(last_ms), max(last_value), sum(increase),
                      sum(good_ms)
                    FROM rollups WHERE point = ?1 AND width_ms = 3600000 AND bucket_ms >= ?2 AND bucket_ms < ?3
                    GROUP BY bucket_ms / 86400000
                    ON CONFLICT (point, width_ms, bucket_ms) DO UPDATE SET count = count + excluded.count,
                      good = good + excluded.good, numeric = numeric + excluded.numeric, sum = sum + excluded.sum,
                      min = min(min, excluded.min), max = max(max, excluded.max),
                      first_ms = min(first_ms, excluded.first_ms), increase = increase + excluded.increase,
                      good_ms = good_ms + excluded.good_ms
                    """, [.integer(point.id), .integer(from), .integer(to)])
                written += (to - from) / hour + (to - from + day - 1) / day
            }
            try db.execute("COMMIT")
        }
        try db.execute("BEGIN")
        for gateway in gateways {
            try db.benchRows(
                """
                WITH RECURSIVE h(x) AS (SELECT ?2 UNION ALL SELECT x + 1 FROM h WHERE x + 1 < ?3)
                INSERT INTO ingest_hours(gateway, hour, bytes, batches, duplicates, readings)
                SELECT ?1, x, ?4, 6, 0, 1800 FROM h
                """, [.integer(gateway), .integer(from / hour), .integer(to / hour), .integer(bytesPerHour)])
        }
        try db.execute("COMMIT")
        return written
    }
}
