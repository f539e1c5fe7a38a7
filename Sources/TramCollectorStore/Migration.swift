/// Opening a file: creates the tables of a new one, or brings an older collector's file to ``StoreSchema/version``.
///
/// Keyed on `PRAGMA user_version`, read and changed in the same `BEGIN IMMEDIATE` transaction as the tables, so two
/// processes opening one file (a `serve` and a `gateway add`) migrate it once, and a crash leaves the old version
/// whole. `CREATE TABLE IF NOT EXISTS` adds the new tables; the new columns of old tables need `ALTER TABLE`.
enum StoreMigration {
    struct NewerFile: Error, CustomStringConvertible {
        var version: Int64
        var description: String {
            "the database has schema version \(version), newer than this tram-collector's \(StoreSchema.version)"
        }
    }

    static func open(_ db: SQLiteDatabase) throws {
        try db.transaction {
            let version = try db.prepare("PRAGMA user_version").first { $0.int64(0) } ?? 0
            guard version <= StoreSchema.version else { throw NewerFile(version: version) }
            if version == 1 { try addVersion2Columns(db) }
            if version >= 1 && version < 4 { try addVersion4Columns(db) }
            for statement in StoreSchema.statements { try db.execute(statement) }
            if version == 1 { try backfillVersion2(db) }
            // Version 2 → 3 adds `signal_bins` and `state_time` (created above, empty): readings stored before the
            // upgrade are not counted in them (docs/console.md, "How the telecom report counts").
            // Version 3 → 4 adds the points' deadband and heartbeat (NULL until a dictionary names them) and the
            // empty `batch_spans` and `losses`: batches stored before the upgrade have no span, so a loss reported
            // after it starts at the gateway's newest batch before the report (LossMarks.swift).
            try db.execute("PRAGMA user_version=\(StoreSchema.version)")
        }
    }

    /// Version 1 → 2, the columns: a gateway's site, batch age and clock state; a point's kind and interval.
    private static func addVersion2Columns(_ db: SQLiteDatabase) throws {
        for statement in [
            "ALTER TABLE gateways ADD COLUMN site TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE gateways ADD COLUMN batch_age_ms INTEGER",
            "ALTER TABLE gateways ADD COLUMN clock INTEGER",
            "ALTER TABLE gateways ADD COLUMN clock_since_ms INTEGER",
            "ALTER TABLE points ADD COLUMN kind INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE points ADD COLUMN interval_ms INTEGER",
        ] { try db.execute(statement) }
    }

    /// Version 3 → 4: a point's report-by-exception settings (NULL: not by exception, as every point before). Each
    /// column is added only when the table lacks it (a file whose version was set back by hand has them).
    private static func addVersion4Columns(_ db: SQLiteDatabase) throws {
        let columns = Set(try db.prepare("PRAGMA table_info(points)").rows { $0.text(1) })
        for (column, type) in [("deadband", "REAL"), ("heartbeat_ms", "INTEGER")] where !columns.contains(column) {
            try db.execute("ALTER TABLE points ADD COLUMN \(column) \(type)")
        }
    }

    /// Version 1 → 2, the data, in SQL from the raw rows, by the rules ingest follows (``RollupRules``): the day
    /// tallies become hour tallies (a day's counts on its first hour), and `point_latest`, the rollups and each
    /// gateway's clock state are computed from `readings`. Version-1 points have no interval: the default hold limit.
    private static func backfillVersion2(_ db: SQLiteDatabase) throws {
        try db.execute(
            """
            INSERT INTO ingest_hours(gateway, hour, bytes, batches, duplicates, readings)
              SELECT gateway, day * 24, bytes, batches, duplicates, readings FROM ingest_days;
            DROP TABLE ingest_days;
            """)
        // Each point's chain: its readings in the order stored, less those older than the newest before them.
        try db.execute(
            """
            CREATE TEMP TABLE migration_chain(
              point INTEGER NOT NULL, id INTEGER NOT NULL, t INTEGER NOT NULL, q INTEGER NOT NULL, v REAL,
              PRIMARY KEY (point, id)) WITHOUT ROWID;
            INSERT INTO migration_chain SELECT point, id, t, q, v FROM (
              SELECT point, rowid AS id, time_ms AS t, quality AS q, \(value) AS v,
                max(time_ms) OVER (PARTITION BY point ORDER BY rowid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                  AS prior
              FROM readings)
            WHERE prior IS NULL OR t >= prior;
            """)
        for width in RollupRules.widths { try db.execute(rollups(width: width)) }
        try db.execute(
            """
            INSERT INTO point_latest(point, time_ms, value, raw_int, raw_text, type, quality, exception, clock,
                                     quality_since_ms, increase_base)
            SELECT r.point, r.time_ms, r.value, r.raw_int, r.raw_text, r.type, r.quality, r.exception, r.clock,
              (SELECT c.t FROM migration_chain c WHERE c.point = l.point AND c.id > coalesce(
                 (SELECT max(x.id) FROM migration_chain x WHERE x.point = l.point AND x.q != r.quality), 0)
               ORDER BY c.id LIMIT 1),
              (SELECT c.v FROM migration_chain c WHERE c.point = l.point AND c.v IS NOT NULL ORDER BY c.id DESC LIMIT 1)
            FROM (SELECT point, max(id) AS id FROM migration_chain GROUP BY point) l JOIN readings r ON r.rowid = l.id;
            DROP TABLE migration_chain;
            """)
        // A gateway's clock: its newest reading's synchronised bit, since the start of the run of readings (by time)
        // that ends there with that bit.
        try db.execute(
            """
            WITH g AS (
              SELECT d.gateway AS gw, r.time_ms AS t, r.rowid AS id, r.clock & 1 AS c
              FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device),
            marked AS (
              SELECT gw, t, c, lag(c) OVER (PARTITION BY gw ORDER BY t, id) AS pc,
                row_number() OVER (PARTITION BY gw ORDER BY t DESC, id DESC) AS n
              FROM g),
            state AS (
              SELECT gw, max(CASE WHEN n = 1 THEN c END) AS c,
                max(CASE WHEN pc IS NULL OR pc != c THEN t END) AS since
              FROM marked GROUP BY gw)
            UPDATE gateways SET clock = state.c, clock_since_ms = state.since FROM state WHERE gateways.id = state.gw
            """)
    }

    /// A reading's rollup value in SQL (``RollupRules/value(engineering:rawInt:type:)``): a bool's 0/1, else a
    /// finite engineering value.
    static let value =
        "CASE WHEN type = 1 THEN raw_int WHEN value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308 THEN value END"

    /// The start of `column`'s bucket of `width`, floored (SQLite's `%` truncates towards zero).
    private static func bucket(_ column: String, _ width: Int64) -> String {
        "(\(column) - ((\(column) % \(width)) + \(width)) % \(width))"
    }

    /// The rollups of one width from the raw rows and the chain: per bucket, the readings' aggregate, the chain's
    /// increases, and the good time each good reading of the chain holds, split over the buckets it covers.
    private static func rollups(width: Int64) -> String {
        let limit = RollupRules.defaultHoldLimitMilliseconds
        return """
            WITH RECURSIVE
            raw AS (
              SELECT point, \(bucket("time_ms", width)) AS bucket, time_ms AS t, quality AS q, \(value) AS v,
                first_value(\(value)) OVER (
                  PARTITION BY point, \(bucket("time_ms", width)) ORDER BY time_ms DESC, rowid DESC) AS lv
              FROM readings),
            counted AS (
              SELECT point, bucket, count(*) AS n, sum(q = 0) AS good, count(v) AS numeric, total(v) AS sum,
                min(v) AS lo, max(v) AS hi, min(t) AS first, max(t) AS last, max(lv) AS lv
              FROM raw GROUP BY point, bucket),
            steps AS (
              SELECT point, t, v, lag(v) OVER (PARTITION BY point ORDER BY id) AS prev
              FROM migration_chain WHERE v IS NOT NULL),
            increases AS (
              SELECT point, \(bucket("t", width)) AS bucket, total(CASE WHEN v >= prev THEN v - prev ELSE v END) AS inc
              FROM steps WHERE prev IS NOT NULL GROUP BY point, bucket),
            holds AS (
              SELECT point, t AS s, min(next, t + \(limit)) AS e FROM (
                SELECT point, t, q, lead(t) OVER (PARTITION BY point ORDER BY id) AS next FROM migration_chain)
              WHERE q = 0 AND next IS NOT NULL AND next > t),
            pieces(point, s, e) AS (
              SELECT point, s, e FROM holds
              UNION ALL
              SELECT point, \(bucket("s", width)) + \(width), e FROM pieces WHERE \(bucket("s", width)) + \(width) < e),
            held AS (
              SELECT point, \(bucket("s", width)) AS bucket, sum(min(e, \(bucket("s", width)) + \(width)) - s) AS ms
              FROM pieces GROUP BY point, bucket)
            INSERT INTO rollups(point, width_ms, bucket_ms, count, good, numeric, sum, min, max, first_ms, last_ms,
                                last_value, increase, good_ms)
            SELECT point, \(width), bucket, sum(n), sum(good), sum(numeric), total(sum), min(lo), max(hi),
              coalesce(min(first), bucket), coalesce(max(last), bucket), max(lv), total(inc), sum(ms)
            FROM (
              SELECT point, bucket, n, good, numeric, sum, lo, hi, first, last, lv, 0 AS inc, 0 AS ms FROM counted
              UNION ALL
              SELECT point, bucket, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, inc, 0 FROM increases
              UNION ALL
              SELECT point, bucket, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 0, ms FROM held)
            GROUP BY point, bucket
            """
    }
}
