import Foundation
@testable import TramCollectorStore

/// A store in a temporary file, filled row by row with SQL the way the ingest side fills it (readings, point_latest,
/// rollups built from the readings by the shared rollup rule, ingest_hours, relay_held), so each test states its data.
final class ConsoleFixture {
    let path: String
    let store: CollectorStore

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString).sqlite").path
        store = try CollectorStore(path: path, durability: .normal)
    }

    deinit {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func execute(_ sql: String) throws { try store.db.execute(sql) }

    func scalar(_ sql: String, _ values: [SQLiteStatement.Value] = []) throws -> Int64 {
        try store.db.prepare(sql).first(values) { $0.int64(0) } ?? 0
    }

    /// A gateway as ingest leaves it: enrolled in `site`, last seen, with a batch age and a clock state.
    @discardableResult
    func gateway(
        _ name: String, site: String = "north", lastSeen: Int64? = nil, batchAge: Int64? = nil, clock: Int64? = nil,
        clockSince: Int64? = nil, now: Int64 = 0
    ) throws -> Int64 {
        _ = try store.addGateway(name, site: site, now: now)
        try store.db.prepare(
            "UPDATE gateways SET last_seen_ms = ?, batch_age_ms = ?, clock = ?, clock_since_ms = ? WHERE name = ?"
        )
        .run([optional(lastSeen), optional(batchAge), optional(clock), optional(clockSince), .text(name)])
        return try scalar("SELECT id FROM gateways WHERE name = ?", [.text(name)])
    }

    @discardableResult
    func device(_ gateway: Int64, _ name: String) throws -> Int64 {
        try store.db.prepare("INSERT INTO devices(gateway, name) VALUES (?, ?)").run([.integer(gateway), .text(name)])
        return store.db.lastInsertRowID
    }

    @discardableResult
    func point(
        _ device: Int64, _ name: String, unit: String = "V", type: Int64 = 9, counter: Bool = false,
        interval: Int64? = 60_000
    ) throws -> Int64 {
        try store.db.prepare(
            "INSERT INTO points(device, name, unit, type, kind, interval_ms) VALUES (?, ?, ?, ?, ?, ?)"
        )
        .run([
            .integer(device), .text(name), .text(unit), .integer(type), .integer(counter ? 1 : 0), optional(interval),
        ])
        return store.db.lastInsertRowID
    }

    struct Reading {
        var time: Int64
        var value: Double?
        var quality: Int64 = 0
        var exception: Int64? = nil
        var rawInt: Int64? = nil
        var rawText: String? = nil
        var type: Int64 = 9
        var clock: Int64 = 1
    }

    /// Inserts readings and sets the point's latest to the newest of them (quality_since: the start of its run).
    func readings(_ point: Int64, _ rows: [Reading]) throws {
        try store.db.transaction {
            let insert = try store.db.prepare(
                "INSERT INTO readings(point, time_ms, value, raw_int, raw_text, type, quality, exception, clock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            for r in rows {
                try insert.run([
                    .integer(point), .integer(r.time), r.value.map { .real($0) } ?? .null, optional(r.rawInt),
                    r.rawText.map { .text($0) } ?? .null, .integer(r.type), .integer(r.quality), optional(r.exception),
                    .integer(r.clock),
                ])
            }
        }
        let sorted = rows.sorted { $0.time < $1.time }
        guard let newest = sorted.last else { return }
        let since = sorted.reversed().prefix { $0.quality == newest.quality }.last?.time ?? newest.time
        try latest(point, newest, qualitySince: since)
    }

    func latest(_ point: Int64, _ r: Reading, qualitySince: Int64) throws {
        try store.db.prepare(
            """
            INSERT OR REPLACE INTO point_latest(point, time_ms, value, raw_int, raw_text, type, quality, exception, clock,
              quality_since_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        ).run([
            .integer(point), .integer(r.time), r.value.map { .real($0) } ?? .null, optional(r.rawInt),
            r.rawText.map { .text($0) } ?? .null, .integer(r.type), .integer(r.quality), optional(r.exception),
            .integer(r.clock), .integer(qualitySince),
        ])
    }

    /// Minute, hour and (with `days`) day rollups of every reading, by the shared rule: count, good, numeric
    /// (readings with a value: the engineering value, a bool's 0/1), sum, min, max, first and last reading time;
    /// good_ms as each good reading holding `heldMilliseconds`.
    func buildRollups(heldMilliseconds: Int64 = 60_000, days: Bool = true) throws {
        try execute("DELETE FROM rollups")
        for width in [60_000, 3_600_000] + (days ? [86_400_000] : []) {
            try execute(
                """
                INSERT INTO rollups(point, width_ms, bucket_ms, count, good, numeric, sum, min, max, first_ms, last_ms,
                  last_value, increase, good_ms)
                SELECT point, \(width), (time_ms / \(width)) * \(width), count(*), sum(quality = 0), count(v), total(v),
                  min(v), max(v), min(time_ms), max(time_ms), NULL, 0, sum(quality = 0) * \(heldMilliseconds)
                FROM (SELECT point, time_ms, quality, CASE WHEN type = 1 THEN raw_int ELSE value END AS v FROM readings)
                GROUP BY point, time_ms / \(width)
                """)
        }
    }

    func ingestHour(_ gateway: Int64, hour: Int64, bytes: Int64, readings: Int64, batches: Int64 = 1) throws {
        try store.db.prepare(
            """
            INSERT INTO ingest_hours(gateway, hour, bytes, batches, duplicates, readings) VALUES (?1, ?2, ?3, ?4, 0, ?5)
            ON CONFLICT (gateway, hour) DO UPDATE SET bytes = bytes + ?3, batches = batches + ?4, readings = readings + ?5
            """
        ).run([.integer(gateway), .integer(hour), .integer(bytes), .integer(batches), .integer(readings)])
    }

    func held(_ gateway: Int64, relay: String = "vm", unsynchronised: Int64, synchronised: Int64 = 0, first: Int64)
        throws
    {
        try store.db.prepare(
            "INSERT INTO relay_held(relay, gateway, unsynchronised, synchronised, first_ms, last_ms) VALUES (?, ?, ?, ?, ?, ?)"
        ).run([
            .text(relay), .integer(gateway), .integer(unsynchronised), .integer(synchronised), .integer(first),
            .integer(first),
        ])
    }

    private func optional(_ value: Int64?) -> SQLiteStatement.Value { value.map { .integer($0) } ?? .null }
}
