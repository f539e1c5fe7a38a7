import Foundation
import Testing
import TramCollectorStore

/// A version-1 file opened by this collector: its new columns and tables, the back-fill from the raw rows, and ingest
/// carrying on from it exactly as if the file had been version 2 all along.
@Suite("Store migration: a version-1 file opens as version 2")
struct MigrationTests {
    /// The tables both versions have, with the columns version 1 had.
    static let versionOneTables: [(table: String, columns: String)] = [
        ("gateways", "id, name, created_ms, revoked_ms, last_seen_ms"),
        ("tokens", "hash, scope, gateway, reader, created_ms, expires_ms, revoked_ms"),
        ("schemas", "id, gateway, schema_id, frame, received_ms"),
        ("devices", "id, gateway, name"),
        ("points", "id, device, name, unit, type"),
        ("schema_points", #"schema, alias, point, unit, type, scale, "offset", exponent_alias"#),
        ("readings", "rowid, point, time_ms, value, raw_int, raw_text, type, quality, exception, clock"),
        ("dedupe_epochs", "gateway, epoch, watermark"),
        ("dedupe_runs", "gateway, epoch, first, last"),
        (
            "relay_positions",
            "name, position, sent, held_unsynchronised, held_synchronised, unsynchronised_sent, skipped, updated_ms"
        ),
    ]

    /// A version-1 file (the old DDL, user_version 1) holding what the version-2 file at `source` holds, as the old
    /// collector would have stored it: the same rows in the old columns, the hour tallies as day tallies.
    static func versionOne(from source: String) throws -> String {
        let path = LiveCollector.temporaryDatabase()
        var script = SchemaVersion1.statements.joined(separator: ";\n") + ";\n"
        script += "ATTACH '\(source)' AS source;\n"
        for (table, columns) in versionOneTables {
            script += "INSERT INTO \(table)(\(columns)) SELECT \(columns) FROM source.\(table);\n"
        }
        script += """
            INSERT INTO ingest_days(gateway, day, bytes, batches, duplicates, readings)
              SELECT gateway, hour / 24, sum(bytes), sum(batches), sum(duplicates), sum(readings)
              FROM source.ingest_hours GROUP BY gateway, hour / 24;
            PRAGMA user_version = 1;
            """
        try SQLiteDatabase(path: path).execute(script)
        return path
    }

    static func rows(_ path: String, _ sql: String) throws -> [[AnyHashable?]] { try Peek(path).rows(sql) }

    /// Everything the two files must agree on.
    /// `clock`: compare the gateways' clock state too (the back-fill takes it from the newest reading, ingest from the
    /// newest group of the last request, which differ after an out-of-order request; they agree once both ingest).
    static func expectSame(
        _ a: String, _ b: String, clock: Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for (table, columns) in versionOneTables where table != "gateways" {
            #expect(
                try rows(a, "SELECT \(columns) FROM \(table) ORDER BY 1, 2, 3")
                    == rows(b, "SELECT \(columns) FROM \(table) ORDER BY 1, 2, 3"), "\(table)",
                sourceLocation: sourceLocation)
        }
        for table in ["rollups", "point_latest"] {
            #expect(
                try rows(a, "SELECT * FROM \(table) ORDER BY 1, 2, 3")
                    == rows(b, "SELECT * FROM \(table) ORDER BY 1, 2, 3"),
                "\(table)", sourceLocation: sourceLocation)
        }
        let tallies =
            "SELECT gateway, hour / 24, sum(bytes), sum(batches), sum(duplicates), sum(readings) FROM ingest_hours GROUP BY 1, 2"
        #expect(try rows(a, tallies) == rows(b, tallies), sourceLocation: sourceLocation)
        let gateways =
            "SELECT id, name, created_ms, revoked_ms, last_seen_ms, site\(clock ? ", clock" : "") FROM gateways ORDER BY id"
        #expect(try rows(a, gateways) == rows(b, gateways), sourceLocation: sourceLocation)
    }

    @Test("nothing is lost, the rollups and latest states are what ingest would have made, and ingest carries on")
    func migratesVersionOne() throws {
        var (source, random) = try RollupExactnessTests.ingest(seed: 5, requests: 60)
        let old = try Self.versionOne(from: source)
        #expect(try Peek(old).count("PRAGMA user_version") == 1)
        #expect(try Peek(old).count("SELECT count(*) FROM readings") > 500)
        let readings = try Self.rows(old, "SELECT rowid, * FROM readings ORDER BY rowid")

        let migrated = try CollectorStore(path: old)
        #expect(try Peek(old).count("PRAGMA user_version") == 4)
        #expect(try Peek(old).count("SELECT count(*) FROM sqlite_master WHERE name = 'ingest_days'") == 0)
        #expect(try Self.rows(old, "SELECT rowid, * FROM readings ORDER BY rowid") == readings)
        #expect(try Self.rows(old, "SELECT DISTINCT site, batch_age_ms FROM gateways") == [["", nil]])
        #expect(try Self.rows(old, "SELECT DISTINCT kind, interval_ms FROM points") == [[Int64(0), nil]])
        try Self.expectSame(source, old, clock: false)
        try RollupExactnessTests.expectExact(old)

        // More requests into both, from the same generator state: the files stay the same.
        let fresh = try CollectorStore(path: source)
        for index in 0..<20 {
            let now = RollupExactnessTests.now + 86_400_000 + Int64(index) * 60_000
            let frames = try random.request()
            _ = try random.store(frames, in: fresh, gateway: 1, now: now)
            _ = try random.store(frames, in: migrated, gateway: 1, now: now)
        }
        try Self.expectSame(source, old, clock: true)
        try RollupExactnessTests.expectExact(old)
        // Opening it again changes nothing.
        let before = try Self.rows(old, "SELECT * FROM rollups ORDER BY 1, 2, 3")
        _ = try CollectorStore(path: old)
        #expect(try Self.rows(old, "SELECT * FROM rollups ORDER BY 1, 2, 3") == before)
    }

    @Test("a new file is version 4; a file from a newer collector is refused, not changed")
    func versions() throws {
        let path = LiveCollector.temporaryDatabase()
        _ = try CollectorStore(path: path)
        #expect(try Peek(path).count("PRAGMA user_version") == 4)
        try Peek.write(path, "PRAGMA user_version = 5")
        #expect(throws: (any Error).self) { try CollectorStore(path: path) }
        #expect(try Peek(path).count("PRAGMA user_version") == 5)
    }

    /// Version 2 → 3: the modem's tables are added, empty; nothing else changes.
    @Test("a version-2 file gains signal_bins and state_time")
    func versionTwo() throws {
        let path = LiveCollector.temporaryDatabase()
        var random = RandomIngest(seed: 11)
        do {
            let store = try CollectorStore(path: path)
            _ = try store.addGateway("gw-random", now: 0)
            for index in 0..<5 {
                _ = try random.store(
                    try random.request(), in: store, gateway: 1, now: RollupExactnessTests.now + Int64(index))
            }
        }
        try Peek.write(path, "DROP TABLE signal_bins; DROP TABLE state_time; PRAGMA user_version = 2")
        let rollups = try Self.rows(path, "SELECT * FROM rollups ORDER BY 1, 2, 3")
        _ = try CollectorStore(path: path)
        #expect(try Peek(path).count("PRAGMA user_version") == 4)
        #expect(try Peek(path).count("SELECT count(*) FROM signal_bins") == 0)
        #expect(try Peek(path).count("SELECT count(*) FROM state_time") == 0)
        #expect(try Self.rows(path, "SELECT * FROM rollups ORDER BY 1, 2, 3") == rollups)
    }
}
