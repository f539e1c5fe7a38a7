import TramLineProtocol
import TramSchema

/// What one ingest request did.
public struct IngestSummary: Sendable, Equatable {
    public struct Batch: Sendable, Equatable {
        public var epoch: UInt64
        public var sequence: UInt64
        public var duplicate: Bool
    }
    public var batches: [Batch] = []
    public var readings = 0
    public var dictionaries = 0
    /// Loss marks recorded: dropped ranges the request's batches reported (``LossMark``).
    public var losses = 0
}

/// Ingest writes: the dictionaries a gateway sends, its batches' readings, and the dedupe state that keeps each batch once.
extension CollectorStore {
    /// A dictionary this gateway has sent before, by schema id.
    public func dictionary(gateway: Int64, schemaID: UInt64) throws -> SchemaDictionary? {
        try knownSchemas(gateway)[schemaID]?.dictionary
    }

    private func knownSchemas(_ gateway: Int64) throws -> [UInt64: KnownSchema] {
        if let known = schemas[gateway] { return known }
        var known: [UInt64: KnownSchema] = [:]
        let rows = try statement("SELECT id, schema_id, frame FROM schemas WHERE gateway = ?").rows([.integer(gateway)])
        { s in
            (row: s.int64(0), id: UInt64(bitPattern: s.int64(1)), frame: s.blob(2))
        }
        for row in rows {
            guard
                case .dictionary(let dictionary, _)? = try? FrameDecoder.decode(row.frame, dictionary: { _ in nil })
                    .frame
            else { continue }
            let ids = try statement("SELECT point FROM schema_points WHERE schema = ? ORDER BY alias").rows([
                .integer(row.row)
            ]) { $0.int64(0) }
            known[row.id] = KnownSchema(row: row.row, dictionary: dictionary, pointIDs: ids)
        }
        schemas[gateway] = known
        return known
    }

    private func storeDictionary(
        _ dictionary: SchemaDictionary, schemaID: UInt64, frame: [UInt8], gateway: Int64, now: Int64
    ) throws -> KnownSchema {
        try statement("INSERT INTO schemas(gateway, schema_id, frame, received_ms) VALUES (?, ?, ?, ?)")
            .run([.integer(gateway), .integer(Int64(bitPattern: schemaID)), .blob(frame), .integer(now)])
        let row = db.lastInsertRowID
        var pointIDs: [Int64] = []
        var devices: [String: Int64] = [:]
        for (alias, point) in dictionary.points.enumerated() {
            let device: Int64
            if let known = devices[point.device] {
                device = known
            } else {
                try statement("INSERT INTO devices(gateway, name) VALUES (?, ?) ON CONFLICT DO NOTHING").run([
                    .integer(gateway), .text(point.device),
                ])
                device = try statement("SELECT id FROM devices WHERE gateway = ? AND name = ?").first([
                    .integer(gateway), .text(point.device),
                ]) { $0.int64(0) }!
                devices[point.device] = device
            }
            // The point keeps the unit, type, kind, interval, deadband and heartbeat of the newest dictionary that
            // names it; each reading keeps its own type.
            try statement(
                """
                INSERT INTO points(device, name, unit, type, kind, interval_ms, deadband, heartbeat_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (device, name) DO UPDATE SET unit = excluded.unit, type = excluded.type,
                  kind = excluded.kind, interval_ms = excluded.interval_ms, deadband = excluded.deadband,
                  heartbeat_ms = excluded.heartbeat_ms
                """
            ).run([
                .integer(device), .text(point.name), .text(point.unit), .integer(Int64(point.type.rawValue)),
                .integer(DictionaryExtras.kind(of: point)),
                DictionaryExtras.intervalMilliseconds(of: point).map { .integer(Int64(clamping: $0)) } ?? .null,
                DictionaryExtras.deadband(of: point).map { .real($0) } ?? .null,
                DictionaryExtras.heartbeatMilliseconds(of: point).map { .integer(Int64(clamping: $0)) } ?? .null,
            ])
            let id = try statement("SELECT id FROM points WHERE device = ? AND name = ?").first([
                .integer(device), .text(point.name),
            ]) { $0.int64(0) }!
            pointIDs.append(id)
            try statement(
                """
                INSERT INTO schema_points(schema, alias, point, unit, type, scale, "offset", exponent_alias) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
            ).run([
                .integer(row), .integer(Int64(alias)), .integer(id), .text(point.unit),
                .integer(Int64(point.type.rawValue)),
                .real(point.scale), .real(point.offset), point.exponentAlias.map { .integer(Int64($0)) } ?? .null,
            ])
        }
        // The gateway's batch age is the newest dictionary's (silence is judged against it).
        try statement("UPDATE gateways SET batch_age_ms = ? WHERE id = ?").run([
            DictionaryExtras.batchAgeMilliseconds(of: dictionary).map { .integer(Int64(clamping: $0)) } ?? .null,
            .integer(gateway),
        ])
        return KnownSchema(row: row, dictionary: dictionary, pointIDs: pointIDs)
    }

    // MARK: Ingest

    /// Stores what a parsed request holds, in one transaction: new dictionaries, then each batch that is not a
    /// duplicate (its span and the losses it reports, its readings, its sequence number in the dedupe state, and what
    /// its readings add to the rollups,
    /// `point_latest` and the gateway's clock state), then the hour's tally. A duplicate touches none of them.
    /// Returns only after the commit.
    /// - Parameters:
    ///   - dictionaries: the request's dictionary frames, decoded, each with its schema id and its plain frame.
    ///   - batches: the request's batches, decoded; every one's schema is among `dictionaries` or already stored.
    ///   - bytes: the request's body size, for the hour's tally.
    public func store(
        dictionaries: [(dictionary: SchemaDictionary, schemaID: UInt64, frame: [UInt8])], batches: [DecodedBatch],
        gateway: Int64, bytes: Int = 0, now: Int64
    ) throws -> IngestSummary {
        var known = try knownSchemas(gateway)
        var added: [UInt64: KnownSchema] = [:]
        let summary: IngestSummary = try db.transaction {
            var summary = IngestSummary()
            for entry in dictionaries where known[entry.schemaID] == nil && added[entry.schemaID] == nil {
                added[entry.schemaID] = try storeDictionary(
                    entry.dictionary, schemaID: entry.schemaID, frame: entry.frame, gateway: gateway, now: now)
                summary.dictionaries += 1
            }
            var epochs: [UInt64: EpochDedupe] = [:]
            var aggregate = IngestAggregate()
            for batch in batches {
                if epochs[batch.epoch] == nil {
                    epochs[batch.epoch] = try loadDedupe(gateway: gateway, epoch: batch.epoch)
                }
                let fresh = epochs[batch.epoch]!.insert(batch.sequence)
                summary.batches.append(.init(epoch: batch.epoch, sequence: batch.sequence, duplicate: !fresh))
                guard fresh else { continue }
                guard let schema = added[batch.schemaID] ?? known[batch.schemaID] else {
                    // The parser resolved every batch's schema; reaching here is a bug, not a client error.
                    throw SQLiteError(code: -1, message: "schema 0x\(String(batch.schemaID, radix: 16)) vanished")
                }
                // Its span and dropped ranges first, so a loss it reports cuts the holds its own readings end.
                let marks = try recordSpanAndLosses(batch, gateway: gateway, now: now)
                summary.losses += marks
                if maintainsRollups && (marks > 0 || !aggregate.lossesLoaded) {
                    aggregate.losses = try lossWindows(gateway: gateway)
                    aggregate.lossesLoaded = true
                }
                summary.readings += try insertReadings(batch, schema: schema, into: &aggregate)
            }
            if maintainsRollups { try write(&aggregate, gateway: gateway, now: now) }
            for (epoch, state) in epochs { try saveDedupe(state, gateway: gateway, epoch: epoch) }
            try statement("UPDATE gateways SET last_seen_ms = ? WHERE id = ?").run([.integer(now), .integer(gateway)])
            let duplicates = summary.batches.count { $0.duplicate }
            try statement(
                """
                INSERT INTO ingest_hours(gateway, hour, bytes, batches, duplicates, readings) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT (gateway, hour) DO UPDATE SET bytes = bytes + ?3, batches = batches + ?4,
                  duplicates = duplicates + ?5, readings = readings + ?6
                """
            ).run([
                .integer(gateway), .integer(RollupRules.bucket(now, width: RollupRules.hourMilliseconds) / 3_600_000),
                .integer(Int64(bytes)),
                .integer(Int64(summary.batches.count - duplicates)), .integer(Int64(duplicates)),
                .integer(Int64(summary.readings)),
            ])
            return summary
        }
        for (id, schema) in added { known[id] = schema }
        schemas[gateway] = known
        return summary
    }

    func loadDedupe(gateway: Int64, epoch: UInt64) throws -> EpochDedupe {
        let key: [SQLiteStatement.Value] = [.integer(gateway), .integer(Int64(bitPattern: epoch))]
        let watermark = try statement("SELECT watermark FROM dedupe_epochs WHERE gateway = ? AND epoch = ?").first(key)
        { UInt64(bitPattern: $0.int64(0)) }
        let runs = try statement("SELECT first, last FROM dedupe_runs WHERE gateway = ? AND epoch = ?").rows(key) {
            UInt64(bitPattern: $0.int64(0))...UInt64(bitPattern: $0.int64(1))
        }
        return EpochDedupe(watermark: watermark ?? 0, runs: runs)
    }

    private func saveDedupe(_ state: EpochDedupe, gateway: Int64, epoch: UInt64) throws {
        let key: [SQLiteStatement.Value] = [.integer(gateway), .integer(Int64(bitPattern: epoch))]
        try statement(
            """
            INSERT INTO dedupe_epochs(gateway, epoch, watermark) VALUES (?, ?, ?)
            ON CONFLICT (gateway, epoch) DO UPDATE SET watermark = excluded.watermark
            """
        ).run(key + [.integer(Int64(bitPattern: state.watermark))])
        try statement("DELETE FROM dedupe_runs WHERE gateway = ? AND epoch = ?").run(key)
        for run in state.runs {
            try statement("INSERT INTO dedupe_runs(gateway, epoch, first, last) VALUES (?, ?, ?, ?)")
                .run(key + [.integer(Int64(bitPattern: run.lowerBound)), .integer(Int64(bitPattern: run.upperBound))])
        }
    }

    private func insertReadings(_ batch: DecodedBatch, schema: KnownSchema, into aggregate: inout IngestAggregate)
        throws -> Int
    {
        let insert = try statement(
            """
            INSERT INTO readings(point, time_ms, value, raw_int, raw_text, type, quality, exception, clock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let points = schema.dictionary.points
        let rollups = maintainsRollups
        // Each alias's slot in the aggregate, found the first time the batch meets it.
        var slots = [Int](repeating: -1, count: rollups ? points.count : 0)
        var count = 0
        for group in batch.groups {
            if rollups { aggregate.addGroup(time: group.timeMilliseconds, clock: group.clock.rawValue) }
            // The operator the modem's signal readings of this poll count under (the poll's own operator_code, or the
            // newest known before it when the group does not hold it).
            var operatorCode: Int64 = 0
            if rollups && schema.hasBinned, let alias = schema.operatorAlias {
                operatorCode = try self.operatorCode(in: group, alias: alias, schema: schema, aggregate: &aggregate)
            }
            for (offset, value) in group.values.enumerated() {
                let alias = group.alias(at: offset)
                let descriptor = points[alias]
                let stored = ReadingValue(
                    value, descriptor: descriptor, exponent: ReadingValue.exponent(of: descriptor, in: group))
                let point = schema.pointIDs[alias]
                insert.bindInt(1, point)
                insert.bindInt(2, group.timeMilliseconds)
                insert.bindDouble(3, stored.engineering)
                insert.bindInt(4, stored.rawInt)
                insert.bindText(5, stored.rawText)
                insert.bindInt(6, Int64(descriptor.type.rawValue))
                insert.bindInt(7, Int64(stored.quality))
                insert.bindInt(8, stored.exception.map { Int64($0) })
                insert.bindInt(9, Int64(group.clock.rawValue))
                try insert.execute()
                count += 1
                guard rollups else { continue }
                if slots[alias] < 0 {
                    slots[alias] = try aggregate.slot(
                        for: point, tracksState: schema.roles[alias] == .technology, previous: loadLatest)
                }
                // NaN is stored as NULL (bindDouble), so the aggregate sees what the row holds.
                aggregate.add(
                    slot: slots[alias], time: group.timeMilliseconds,
                    engineering: stored.engineering.flatMap { $0.isNaN ? nil : $0 }, rawInt: stored.rawInt,
                    rawText: stored.rawText, type: descriptor.type.rawValue, quality: stored.quality,
                    exception: stored.exception, clock: group.clock.rawValue, holdLimit: schema.holdLimits[alias])
                if schema.roles[alias] == .binned, stored.quality == 0, let signal = stored.engineering,
                    signal.isFinite
                {
                    aggregate.addSignal(
                        point: point, time: group.timeMilliseconds, operatorCode: operatorCode,
                        bin: SignalBins.bin(signal))
                }
            }
        }
        return count
    }

    /// The modem's operator for a group: its good `operator_code` reading (which also becomes the modem's current
    /// one), else the current one (the newest good reading the request has seen, or `point_latest`'s), else 0.
    private func operatorCode(
        in group: DecodedGroup, alias: Int, schema: KnownSchema, aggregate: inout IngestAggregate
    ) throws -> Int64 {
        let point = schema.pointIDs[alias]
        if let offset = group.offset(of: alias) {
            let descriptor = schema.dictionary.points[alias]
            let stored = ReadingValue(
                group.values[offset], descriptor: descriptor, exponent: ReadingValue.exponent(of: descriptor, in: group)
            )
            if stored.quality == 0, let code = stored.engineering.flatMap(IngestAggregate.stateValue) {
                aggregate.operators[point] = code
                return code
            }
        }
        if let known = aggregate.operators[point] { return known }
        let latest = try loadLatest(point)
        let code = latest.flatMap { $0.quality == 0 ? $0.value.flatMap(IngestAggregate.stateValue) : nil } ?? 0
        aggregate.operators[point] = code
        return code
    }
}
