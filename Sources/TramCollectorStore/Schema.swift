/// The collector's SQLite layout (docs/collector.md describes every table).
public enum StoreSchema {
    /// 2: sites, point kinds and intervals, each point's latest state, rollups, hourly ingest tallies, per-gateway
    /// relay hold-backs and console sessions (docs/collector.md, "Store"). A version-1 file is migrated on open.
    /// 3: the modem's signal readings in 1 dB bins and its time on each radio technology (`signal_bins`,
    /// `state_time`), for the console's coverage and telecom report. A version-2 file gains the empty tables on open.
    /// 4: report by exception: each point's deadband and heartbeat, each batch's time span (`batch_spans`) and the
    /// batches a gateway reported dropped (`losses`), so a held value ends at a loss. A version-3 file gains the
    /// columns (NULL: not by exception) and the empty tables on open.
    static let version = 4

    /// Public for the collector benchmark, whose raw-SQLite baseline creates the same `readings` table.
    public static let statements = [
        """
        CREATE TABLE IF NOT EXISTS gateways(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            revoked_ms INTEGER,
            last_seen_ms INTEGER,
            -- set by `gateway add --site` / `gateway set-site`, never by what a gateway sends
            site TEXT NOT NULL DEFAULT '',
            -- from the newest dictionary: the agent's batch max age (silence is judged against it)
            batch_age_ms INTEGER,
            -- the newest reading's clock flag (1 synchronised), and since when it has had that value
            clock INTEGER,
            clock_since_ms INTEGER)
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
            -- 0 gauge, 1 counter (from the dictionary's point kinds)
            kind INTEGER NOT NULL DEFAULT 0,
            -- the agent's poll interval for the point (from the dictionary), bounding how long a reading is held
            interval_ms INTEGER,
            -- report by exception (from the dictionary, version 4): the deadband in engineering units (NULL: every
            -- poll is sent) and the heartbeat, the longest time between two sends (NULL: none); with either set the
            -- point's series is sparse, and a reading holds for its heartbeat (RollupRules.holdLimit)
            deadband REAL,
            heartbeat_ms INTEGER,
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
        CREATE TABLE IF NOT EXISTS ingest_hours(
            gateway INTEGER NOT NULL REFERENCES gateways(id),
            hour INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            batches INTEGER NOT NULL,
            duplicates INTEGER NOT NULL,
            readings INTEGER NOT NULL,
            PRIMARY KEY (gateway, hour)) WITHOUT ROWID
        """,
        // Each point's newest reading (by reading time) and since when its quality has been what it is now: the
        // console's latest values, device states and problems, without a search per point in `readings`, and kept
        // when retention has deleted the raw row.
        """
        CREATE TABLE IF NOT EXISTS point_latest(
            point INTEGER PRIMARY KEY REFERENCES points(id),
            time_ms INTEGER NOT NULL,
            value REAL,
            raw_int INTEGER,
            raw_text TEXT,
            type INTEGER NOT NULL,
            quality INTEGER NOT NULL,
            exception INTEGER,
            clock INTEGER NOT NULL,
            quality_since_ms INTEGER NOT NULL,
            -- the newest rollup value among the point's in-order readings: the next reading's increase is measured
            -- from it (so a counter's rise across readings without a value, a timeout say, is not lost)
            increase_base REAL) WITHOUT ROWID
        """,
        // Per point and time bucket (width 60,000 ms or 3,600,000 ms, aligned to 1970 UTC), written in the same
        // transaction as the readings they summarise. `numeric` counts readings with a value (engineering value, or a
        // bool's 0/1): the mean is sum / numeric. `good_ms` is time-weighted: each reading holds until its point's
        // next reading, at most twice the point's interval, and the part of that hold spent good is split over the
        // buckets it covers. `increase` is for counters: the sum of rises between consecutive readings, a fall counted
        // as a reset from zero. Later per-point histograms and time-in-state go in tables of their own keyed the same
        // way (point, width_ms, bucket_ms, …), so they never rewrite this one or the readings.
        """
        CREATE TABLE IF NOT EXISTS rollups(
            point INTEGER NOT NULL,
            width_ms INTEGER NOT NULL,
            bucket_ms INTEGER NOT NULL,
            count INTEGER NOT NULL,
            good INTEGER NOT NULL,
            numeric INTEGER NOT NULL,
            sum REAL NOT NULL,
            min REAL,
            max REAL,
            first_ms INTEGER NOT NULL,
            last_ms INTEGER NOT NULL,
            last_value REAL,
            increase REAL NOT NULL,
            good_ms INTEGER NOT NULL,
            PRIMARY KEY (point, width_ms, bucket_ms)) WITHOUT ROWID
        """,
        // The built-in modem's signal readings (BuiltinPoints.binned: lte_rsrp, lte_snr, nr_rsrp, nr_snr) counted per
        // point, hour or UTC day (width_ms 3,600,000 or 86,400,000), operator (the operator_code of the same poll; 0:
        // the poll had none) and 1 dB bin (SignalBins: the value rounded down), written in the ingest transaction.
        // Percentiles read from it are exact to the bin. Keyed like the rollups, so a site's period is a key search.
        """
        CREATE TABLE IF NOT EXISTS signal_bins(
            point INTEGER NOT NULL,
            width_ms INTEGER NOT NULL,
            bucket_ms INTEGER NOT NULL,
            operator INTEGER NOT NULL,
            bin INTEGER NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (point, width_ms, bucket_ms, operator, bin)) WITHOUT ROWID
        """,
        // Time on each value of a state point (the modem's `technology`), per hour or UTC day: along the point's chain
        // a good reading holds its value until the next reading, at most the hold limit, as `good_ms` in the rollups
        // (so the sum over values equals the point's good_ms).
        """
        CREATE TABLE IF NOT EXISTS state_time(
            point INTEGER NOT NULL,
            width_ms INTEGER NOT NULL,
            bucket_ms INTEGER NOT NULL,
            value INTEGER NOT NULL,
            ms INTEGER NOT NULL,
            PRIMARY KEY (point, width_ms, bucket_ms, value)) WITHOUT ROWID
        """,
        // What each relay held back (implausible timestamps), per gateway: the console's "held back" problem.
        """
        CREATE TABLE IF NOT EXISTS relay_held(
            relay TEXT NOT NULL,
            gateway INTEGER NOT NULL,
            unsynchronised INTEGER NOT NULL,
            synchronised INTEGER NOT NULL,
            first_ms INTEGER NOT NULL,
            last_ms INTEGER NOT NULL,
            PRIMARY KEY (relay, gateway)) WITHOUT ROWID
        """,
        // Console sign-ins: the SHA-256 of the session cookie, the read token it was opened with (revoking the token
        // ends its sessions at once: every check joins `tokens`), and when it expires.
        """
        CREATE TABLE IF NOT EXISTS sessions(
            hash TEXT PRIMARY KEY,
            token TEXT NOT NULL REFERENCES tokens(hash),
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL) WITHOUT ROWID
        """,
        "CREATE INDEX IF NOT EXISTS sessions_token ON sessions(token)",
        """
        CREATE TABLE IF NOT EXISTS dedupe_runs(
            gateway INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (gateway, epoch, first)) WITHOUT ROWID
        """,
        // Each stored batch's identity and the times of its oldest and newest group: where a dropped range of
        // sequences lies in time (`losses`). One row per batch, beside its thousands of readings; retention deletes
        // it with them.
        """
        CREATE TABLE IF NOT EXISTS batch_spans(
            gateway INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            sequence INTEGER NOT NULL,
            first_ms INTEGER NOT NULL,
            last_ms INTEGER NOT NULL,
            PRIMARY KEY (gateway, epoch, sequence)) WITHOUT ROWID
        """,
        // Loss marks: the sequences `first`…`last` of an epoch that a gateway reported dropped (a version-2 batch's
        // dropped ranges), and the time window they cover as best known: from the newest group of the nearest stored
        // batch before them (`before_sequence`; NULL: none of that epoch was stored, the gateway's newest batch before
        // the report) to the oldest group of the nearest stored batch after them (`after_sequence`). A nearer batch
        // arriving later narrows the window. A value held between sends ends at `from_ms` (LossMarks.swift).
        """
        CREATE TABLE IF NOT EXISTS losses(
            gateway INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            from_ms INTEGER NOT NULL,
            to_ms INTEGER NOT NULL,
            before_sequence INTEGER,
            after_sequence INTEGER NOT NULL,
            reported_ms INTEGER NOT NULL,
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
