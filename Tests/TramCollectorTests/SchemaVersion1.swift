/// The version-1 layout, exactly as the collector before schema 2 created it (`git show b146cc6:Sources/
/// TramCollectorStore/Schema.swift`): the migration tests build an old file with it.
enum SchemaVersion1 {
    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS gateways(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            revoked_ms INTEGER,
            last_seen_ms INTEGER)
        """,
        """
        CREATE TABLE IF NOT EXISTS tokens(
            hash TEXT PRIMARY KEY,
            scope TEXT NOT NULL CHECK (scope IN ('ingest', 'read')),
            gateway INTEGER REFERENCES gateways(id),
            reader TEXT,
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER,
            revoked_ms INTEGER) WITHOUT ROWID
        """,
        "CREATE INDEX IF NOT EXISTS tokens_gateway ON tokens(gateway)",
        """
        CREATE TABLE IF NOT EXISTS schemas(
            id INTEGER PRIMARY KEY,
            gateway INTEGER NOT NULL REFERENCES gateways(id),
            schema_id INTEGER NOT NULL,
            frame BLOB NOT NULL,
            received_ms INTEGER NOT NULL,
            UNIQUE (gateway, schema_id))
        """,
        """
        CREATE TABLE IF NOT EXISTS devices(
            id INTEGER PRIMARY KEY,
            gateway INTEGER NOT NULL REFERENCES gateways(id),
            name TEXT NOT NULL,
            UNIQUE (gateway, name))
        """,
        """
        CREATE TABLE IF NOT EXISTS points(
            id INTEGER PRIMARY KEY,
            device INTEGER NOT NULL REFERENCES devices(id),
            name TEXT NOT NULL,
            unit TEXT NOT NULL,
            type INTEGER NOT NULL,
            UNIQUE (device, name))
        """,
        """
        CREATE TABLE IF NOT EXISTS schema_points(
            schema INTEGER NOT NULL REFERENCES schemas(id),
            alias INTEGER NOT NULL,
            point INTEGER NOT NULL REFERENCES points(id),
            unit TEXT NOT NULL,
            type INTEGER NOT NULL,
            scale REAL NOT NULL,
            "offset" REAL NOT NULL,
            exponent_alias INTEGER,
            PRIMARY KEY (schema, alias)) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS readings(
            point INTEGER NOT NULL REFERENCES points(id),
            time_ms INTEGER NOT NULL,
            value REAL,
            raw_int INTEGER,
            raw_text TEXT,
            type INTEGER NOT NULL,
            quality INTEGER NOT NULL,
            exception INTEGER,
            clock INTEGER NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS readings_point_time ON readings(point, time_ms)",
        """
        CREATE TABLE IF NOT EXISTS dedupe_epochs(
            gateway INTEGER NOT NULL REFERENCES gateways(id),
            epoch INTEGER NOT NULL,
            watermark INTEGER NOT NULL,
            PRIMARY KEY (gateway, epoch)) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS ingest_days(
            gateway INTEGER NOT NULL REFERENCES gateways(id),
            day INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            batches INTEGER NOT NULL,
            duplicates INTEGER NOT NULL,
            readings INTEGER NOT NULL,
            PRIMARY KEY (gateway, day)) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS dedupe_runs(
            gateway INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (gateway, epoch, first)) WITHOUT ROWID
        """,
        // The relay's durable position (RelayStore.swift): the last readings rowid the target acknowledged, and totals.
        """
        CREATE TABLE IF NOT EXISTS relay_positions(
            name TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            sent INTEGER NOT NULL DEFAULT 0,
            held_unsynchronised INTEGER NOT NULL DEFAULT 0,
            held_synchronised INTEGER NOT NULL DEFAULT 0,
            unsynchronised_sent INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            updated_ms INTEGER NOT NULL) WITHOUT ROWID
        """,
        // Relay positions are readings rowids, so rowids must never be reused: SQLite gives a new row max(rowid)+1,
        // and deleting the newest row (retention, by reading time, can pick it: a 1970-stamped reading) or every row
        // would hand out rowids the relays have already passed. Any DELETE silently keeps the row with the highest rowid.
        """
        CREATE TRIGGER IF NOT EXISTS readings_keep_newest_rowid BEFORE DELETE ON readings
        WHEN old.rowid = (SELECT max(rowid) FROM readings)
        BEGIN SELECT RAISE(IGNORE); END
        """,
    ]
}
