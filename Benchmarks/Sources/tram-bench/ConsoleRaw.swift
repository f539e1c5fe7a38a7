import CSQLite
import TramCollectorStore

/// What each console page would cost computed from the raw readings alone: no `point_latest`, no rollups. Each query
/// is the best one the `readings_point_time` index allows (one search per point, never a table scan), answering the
/// page's numbers: the side-by-side half of `tram-bench console`. Bytes received are not in the readings; those come
/// from the hourly ingest tallies either way, and are left out here.
struct ConsoleRaw {
    let db: SQLiteDatabase

    /// Fleet: every point's newest quality (the device states) and every gateway's readings since local midnight.
    func fleet(since midnight: Int64) throws -> Int {
        try db.benchRows(
            """
            SELECT d.gateway, count(*), sum(today), sum(quality != 0) FROM (
              SELECT p.device AS device,
                (SELECT count(*) FROM readings r WHERE r.point = p.id AND r.time_ms >= ?1) AS today,
                (SELECT quality FROM readings r WHERE r.point = p.id ORDER BY time_ms DESC LIMIT 1) AS quality
              FROM points p) JOIN devices d ON d.id = device GROUP BY d.gateway
            """, [.integer(midnight)])
    }

    /// Problems: every point's newest quality and since when it has had it (the newest reading of another quality).
    func problems() throws -> Int {
        try db.benchRows(
            """
            SELECT point, quality, (SELECT max(time_ms) FROM readings x WHERE x.point = l.point AND x.quality != l.quality)
            FROM (SELECT p.id AS point,
                    (SELECT quality FROM readings r WHERE r.point = p.id ORDER BY time_ms DESC LIMIT 1) AS quality
                  FROM points p) l
            WHERE quality IS NOT NULL
            """)
    }

    /// A device page's plots: each point's readings in [from, to) grouped into buckets of `width`.
    func device(points: [Int64], from: Int64, to: Int64, width: Int64) throws -> Int {
        var buckets = 0
        for point in points {
            buckets += try db.benchRows(
                """
                SELECT (time_ms - ?2) / ?4 AS i, count(*), min(v), max(v), sum(v), count(v)
                FROM (SELECT time_ms, CASE WHEN type = 1 THEN raw_int ELSE value END AS v
                      FROM readings WHERE point = ?1 AND time_ms >= ?2 AND time_ms < ?3)
                GROUP BY i
                """, [.integer(point), .integer(from), .integer(to), .integer(width)])
        }
        return buckets
    }

    /// A site's report: per device its readings, good readings and days with data in [from, to), days counted in the
    /// console's time zone (`offset` milliseconds east of UTC; Asia/Ho_Chi_Minh has no daylight saving).
    func report(site: String, from: Int64, to: Int64, offset: Int64) throws -> Int {
        try db.benchRows(
            """
            SELECT p.device, count(*), sum(r.quality = 0), count(DISTINCT (r.time_ms + ?4) / 86400000)
            FROM gateways g JOIN devices d ON d.gateway = g.id JOIN points p ON p.device = d.id
            JOIN readings r ON r.point = p.id AND r.time_ms >= ?2 AND r.time_ms < ?3
            WHERE g.site = ?1 GROUP BY p.device
            """, [.text(site), .integer(from), .integer(to), .integer(offset)])
    }
}
