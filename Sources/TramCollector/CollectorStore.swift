import CSQLite
import Foundation
import TramLineProtocol
import TramSchema

/// How hard a commit is pushed to disk. See docs/collector.md, "Durability".
public enum Durability: String, Sendable, CaseIterable {
    /// WAL with synchronous=NORMAL: a committed transaction survives the collector's crash (kill -9);
    /// a power loss or kernel panic may lose the last transactions before a checkpoint.
    case normal
    /// WAL with synchronous=FULL: every commit is fsynced, so it also survives power loss.
    case full
}

public enum StoreError: Error, CustomStringConvertible, Equatable {
    case gatewayExists(String)
    case noSuchGateway(String)
    case invalidName(String)

    public var description: String {
        switch self {
        case .gatewayExists(let name): "gateway '\(name)' already exists"
        case .noSuchGateway(let name): "no gateway named '\(name)'"
        case .invalidName(let name): "invalid name '\(name)': use 1–128 characters, none of them control characters or '/'"
        }
    }
}

/// Who a bearer token belongs to.
public enum Principal: Equatable, Sendable {
    case gateway(id: Int64, name: String)
    case reader(name: String)
}

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
}

/// The collector's SQLite store. One connection; not thread-safe: ``StoreExecutor`` serialises every call.
public final class CollectorStore {
    let db: SQLiteDatabase
    private var statements: [String: SQLiteStatement] = [:]
    /// Dictionaries by gateway row, then schema id (loaded lazily; updated only after a commit).
    private var schemas: [Int64: [UInt64: KnownSchema]] = [:]

    struct KnownSchema {
        var row: Int64
        var dictionary: SchemaDictionary
        var pointIDs: [Int64]
    }

    public init(path: String, durability: Durability = .normal) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA journal_mode=WAL")
        try db.execute("PRAGMA synchronous=\(durability == .full ? "FULL" : "NORMAL")")
        // 32 MiB of page cache instead of SQLite's 2 MB default: one 1 MiB upload of a few hundred thousand readings
        // touches more index pages than 2 MB holds, and the spill (to the WAL, and back) cost 3× the throughput
        // in the uplink benchmark (README, "Uplink").
        try db.execute("PRAGMA cache_size=-32768")
        try db.transaction {
            for statement in StoreSchema.statements { try db.execute(statement) }
            try db.execute("PRAGMA user_version=\(StoreSchema.version)")
        }
    }

    func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let prepared = try db.prepare(sql)
        statements[sql] = prepared
        return prepared
    }

    // MARK: Enrollment

    static func validate(_ name: String) throws {
        guard (1...128).contains(name.count), !name.contains("/"),
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw StoreError.invalidName(name)
        }
    }

    /// Creates a gateway; returns its token (the only time it exists in clear).
    public func addGateway(_ name: String, now: Int64) throws -> String {
        try Self.validate(name)
        return try db.transaction {
            if try statement("SELECT id FROM gateways WHERE name = ?").first([.text(name)], { $0.int64(0) }) != nil {
                throw StoreError.gatewayExists(name)
            }
            try statement("INSERT INTO gateways(name, created_ms) VALUES (?, ?)").run([.text(name), .integer(now)])
            let id = db.lastInsertRowID
            let token = Tokens.generate(prefix: "tramgw")
            try insertToken(token, scope: "ingest", gateway: id, reader: nil, now: now)
            return token
        }
    }

    /// A new token for a gateway; its current tokens stay valid for `grace` milliseconds more.
    public func rotateGateway(_ name: String, graceMilliseconds: Int64, now: Int64) throws -> String {
        try db.transaction {
            let id = try gatewayID(name)
            try statement("""
                UPDATE tokens SET expires_ms = ?1 WHERE gateway = ?2 AND scope = 'ingest' AND revoked_ms IS NULL
                  AND (expires_ms IS NULL OR expires_ms > ?1)
                """).run([.integer(now + graceMilliseconds), .integer(id)])
            let token = Tokens.generate(prefix: "tramgw")
            try insertToken(token, scope: "ingest", gateway: id, reader: nil, now: now)
            return token
        }
    }

    /// Revokes a gateway and every token it has: its requests get 401 from now on. Its data stays.
    public func revokeGateway(_ name: String, now: Int64) throws {
        try db.transaction {
            let id = try gatewayID(name)
            try statement("UPDATE gateways SET revoked_ms = ? WHERE id = ?").run([.integer(now), .integer(id)])
            try statement("UPDATE tokens SET revoked_ms = ? WHERE gateway = ? AND revoked_ms IS NULL").run([.integer(now), .integer(id)])
        }
    }

    /// A token for the read API (read scope only: it cannot ingest).
    public func addReader(_ name: String, now: Int64) throws -> String {
        try Self.validate(name)
        return try db.transaction {
            let token = Tokens.generate(prefix: "tramrd")
            try insertToken(token, scope: "read", gateway: nil, reader: name, now: now)
            return token
        }
    }

    private func insertToken(_ token: String, scope: String, gateway: Int64?, reader: String?, now: Int64) throws {
        try statement("INSERT INTO tokens(hash, scope, gateway, reader, created_ms) VALUES (?, ?, ?, ?, ?)")
            .run([.text(Tokens.hash(token)), .text(scope), gateway.map { .integer($0) } ?? .null, reader.map { .text($0) } ?? .null, .integer(now)])
    }

    private func gatewayID(_ name: String) throws -> Int64 {
        guard let id = try statement("SELECT id FROM gateways WHERE name = ?").first([.text(name)], { $0.int64(0) }) else {
            throw StoreError.noSuchGateway(name)
        }
        return id
    }

    public struct GatewayInfo: Sendable, Equatable {
        public var name: String
        public var createdMilliseconds: Int64
        public var revoked: Bool
        public var lastSeenMilliseconds: Int64?
        public var activeTokens: Int
    }

    public func gateways(now: Int64) throws -> [GatewayInfo] {
        try statement("""
            SELECT g.name, g.created_ms, g.revoked_ms IS NOT NULL, g.last_seen_ms,
              (SELECT count(*) FROM tokens t WHERE t.gateway = g.id AND t.revoked_ms IS NULL AND (t.expires_ms IS NULL OR t.expires_ms > ?))
            FROM gateways g ORDER BY g.name
            """).rows([.integer(now)]) {
            GatewayInfo(name: $0.text(0), createdMilliseconds: $0.int64(1), revoked: $0.int64(2) != 0,
                        lastSeenMilliseconds: $0.optionalInt64(3), activeTokens: Int($0.int64(4)))
        }
    }

    // MARK: Authentication

    public enum AuthFailure: Error, Equatable, Sendable {
        case unknown
        case expired
        case revoked
    }

    public func authenticate(token: String, now: Int64) throws -> Result<Principal, AuthFailure> {
        let row = try statement("""
            SELECT t.scope, t.expires_ms, t.revoked_ms, t.reader, g.id, g.name, g.revoked_ms
            FROM tokens t LEFT JOIN gateways g ON g.id = t.gateway WHERE t.hash = ?
            """).first([.text(Tokens.hash(token))]) { s in
            (scope: s.text(0), expires: s.optionalInt64(1), revoked: s.optionalInt64(2), reader: s.optionalText(3),
             gateway: s.optionalInt64(4), name: s.optionalText(5), gatewayRevoked: s.optionalInt64(6))
        }
        guard let row else { return .failure(.unknown) }
        if row.revoked != nil || row.gatewayRevoked != nil { return .failure(.revoked) }
        if let expires = row.expires, expires <= now { return .failure(.expired) }
        if row.scope == "read", let reader = row.reader { return .success(.reader(name: reader)) }
        if row.scope == "ingest", let id = row.gateway, let name = row.name { return .success(.gateway(id: id, name: name)) }
        return .failure(.unknown)
    }

    // MARK: Dictionaries

    /// A dictionary this gateway has sent before, by schema id.
    public func dictionary(gateway: Int64, schemaID: UInt64) throws -> SchemaDictionary? {
        try knownSchemas(gateway)[schemaID]?.dictionary
    }

    private func knownSchemas(_ gateway: Int64) throws -> [UInt64: KnownSchema] {
        if let known = schemas[gateway] { return known }
        var known: [UInt64: KnownSchema] = [:]
        let rows = try statement("SELECT id, schema_id, frame FROM schemas WHERE gateway = ?").rows([.integer(gateway)]) { s in
            (row: s.int64(0), id: UInt64(bitPattern: s.int64(1)), frame: s.blob(2))
        }
        for row in rows {
            guard case .dictionary(let dictionary, _)? = try? FrameDecoder.decode(row.frame, dictionary: { _ in nil }).frame else { continue }
            let ids = try statement("SELECT point FROM schema_points WHERE schema = ? ORDER BY alias").rows([.integer(row.row)]) { $0.int64(0) }
            known[row.id] = KnownSchema(row: row.row, dictionary: dictionary, pointIDs: ids)
        }
        schemas[gateway] = known
        return known
    }

    private func storeDictionary(_ dictionary: SchemaDictionary, schemaID: UInt64, frame: [UInt8], gateway: Int64, now: Int64) throws -> KnownSchema {
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
                try statement("INSERT INTO devices(gateway, name) VALUES (?, ?) ON CONFLICT DO NOTHING").run([.integer(gateway), .text(point.device)])
                device = try statement("SELECT id FROM devices WHERE gateway = ? AND name = ?").first([.integer(gateway), .text(point.device)]) { $0.int64(0) }!
                devices[point.device] = device
            }
            // The point keeps the unit and type of the newest dictionary that names it; each reading keeps its own type.
            try statement("""
                INSERT INTO points(device, name, unit, type) VALUES (?, ?, ?, ?)
                ON CONFLICT (device, name) DO UPDATE SET unit = excluded.unit, type = excluded.type
                """).run([.integer(device), .text(point.name), .text(point.unit), .integer(Int64(point.type.rawValue))])
            let id = try statement("SELECT id FROM points WHERE device = ? AND name = ?").first([.integer(device), .text(point.name)]) { $0.int64(0) }!
            pointIDs.append(id)
            try statement("""
                INSERT INTO schema_points(schema, alias, point, unit, type, scale, "offset", exponent_alias) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).run([.integer(row), .integer(Int64(alias)), .integer(id), .text(point.unit), .integer(Int64(point.type.rawValue)),
                          .real(point.scale), .real(point.offset), point.exponentAlias.map { .integer(Int64($0)) } ?? .null])
        }
        return KnownSchema(row: row, dictionary: dictionary, pointIDs: pointIDs)
    }

    // MARK: Ingest

    /// Stores what a parsed request holds, in one transaction: new dictionaries, then each batch that is not a
    /// duplicate (its readings and its sequence number in the dedupe state). Returns only after the commit.
    /// - Parameter bytes: the request's body size, for the per-day tally.
    public func store(_ parsed: IngestParser.Parsed, gateway: Int64, bytes: Int = 0, now: Int64) throws -> IngestSummary {
        var known = try knownSchemas(gateway)
        var added: [UInt64: KnownSchema] = [:]
        let summary: IngestSummary = try db.transaction {
            var summary = IngestSummary()
            for entry in parsed.dictionaries where known[entry.schemaID] == nil && added[entry.schemaID] == nil {
                added[entry.schemaID] = try storeDictionary(entry.dictionary, schemaID: entry.schemaID, frame: entry.frame, gateway: gateway, now: now)
                summary.dictionaries += 1
            }
            var epochs: [UInt64: EpochDedupe] = [:]
            for batch in parsed.batches {
                if epochs[batch.epoch] == nil { epochs[batch.epoch] = try loadDedupe(gateway: gateway, epoch: batch.epoch) }
                let fresh = epochs[batch.epoch]!.insert(batch.sequence)
                summary.batches.append(.init(epoch: batch.epoch, sequence: batch.sequence, duplicate: !fresh))
                guard fresh else { continue }
                guard let schema = added[batch.schemaID] ?? known[batch.schemaID] else {
                    // The parser resolved every batch's schema; reaching here is a bug, not a client error.
                    throw SQLiteError(code: -1, message: "schema 0x\(String(batch.schemaID, radix: 16)) vanished")
                }
                summary.readings += try insertReadings(batch, schema: schema)
            }
            for (epoch, state) in epochs { try saveDedupe(state, gateway: gateway, epoch: epoch) }
            try statement("UPDATE gateways SET last_seen_ms = ? WHERE id = ?").run([.integer(now), .integer(gateway)])
            let duplicates = summary.batches.count { $0.duplicate }
            try statement("""
                INSERT INTO ingest_days(gateway, day, bytes, batches, duplicates, readings) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT (gateway, day) DO UPDATE SET bytes = bytes + ?3, batches = batches + ?4, duplicates = duplicates + ?5,
                  readings = readings + ?6
                """).run([.integer(gateway), .integer(now / 86_400_000), .integer(Int64(bytes)),
                          .integer(Int64(summary.batches.count - duplicates)), .integer(Int64(duplicates)), .integer(Int64(summary.readings))])
            return summary
        }
        for (id, schema) in added { known[id] = schema }
        schemas[gateway] = known
        return summary
    }

    func loadDedupe(gateway: Int64, epoch: UInt64) throws -> EpochDedupe {
        let key: [SQLiteStatement.Value] = [.integer(gateway), .integer(Int64(bitPattern: epoch))]
        let watermark = try statement("SELECT watermark FROM dedupe_epochs WHERE gateway = ? AND epoch = ?").first(key) { UInt64(bitPattern: $0.int64(0)) }
        let runs = try statement("SELECT first, last FROM dedupe_runs WHERE gateway = ? AND epoch = ?").rows(key) {
            UInt64(bitPattern: $0.int64(0))...UInt64(bitPattern: $0.int64(1))
        }
        return EpochDedupe(watermark: watermark ?? 0, runs: runs)
    }

    private func saveDedupe(_ state: EpochDedupe, gateway: Int64, epoch: UInt64) throws {
        let key: [SQLiteStatement.Value] = [.integer(gateway), .integer(Int64(bitPattern: epoch))]
        try statement("""
            INSERT INTO dedupe_epochs(gateway, epoch, watermark) VALUES (?, ?, ?)
            ON CONFLICT (gateway, epoch) DO UPDATE SET watermark = excluded.watermark
            """).run(key + [.integer(Int64(bitPattern: state.watermark))])
        try statement("DELETE FROM dedupe_runs WHERE gateway = ? AND epoch = ?").run(key)
        for run in state.runs {
            try statement("INSERT INTO dedupe_runs(gateway, epoch, first, last) VALUES (?, ?, ?, ?)")
                .run(key + [.integer(Int64(bitPattern: run.lowerBound)), .integer(Int64(bitPattern: run.upperBound))])
        }
    }

    private func insertReadings(_ batch: DecodedBatch, schema: KnownSchema) throws -> Int {
        let insert = try statement("""
            INSERT INTO readings(point, time_ms, value, raw_int, raw_text, type, quality, exception, clock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let points = schema.dictionary.points
        var count = 0
        for group in batch.groups {
            for (offset, value) in group.values.enumerated() {
                let alias = group.firstAlias + offset
                let descriptor = points[alias]
                let stored = ReadingValue(value, descriptor: descriptor, exponent: ReadingValue.exponent(of: descriptor, in: group))
                insert.bindInt(1, schema.pointIDs[alias])
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
            }
        }
        return count
    }

    // MARK: Reads

    public struct ReadingRow: Sendable, Equatable {
        public var gateway: String
        public var device: String
        public var point: String
        public var unit: String
        public var type: UInt8
        public var timeMilliseconds: Int64
        public var value: Double?
        public var rawInt: Int64?
        public var rawText: String?
        public var quality: Int
        public var exception: Int?
        public var clock: UInt8

        public init(gateway: String, device: String, point: String, unit: String = "", type: UInt8, timeMilliseconds: Int64,
                    value: Double?, rawInt: Int64? = nil, rawText: String? = nil, quality: Int = 0, exception: Int? = nil, clock: UInt8) {
            self.gateway = gateway
            self.device = device
            self.point = point
            self.unit = unit
            self.type = type
            self.timeMilliseconds = timeMilliseconds
            self.value = value
            self.rawInt = rawInt
            self.rawText = rawText
            self.quality = quality
            self.exception = exception
            self.clock = clock
        }
    }

    /// The columns every reading query selects, in `readingRow`'s order.
    static let readingColumns = "g.name, d.name, p.name, p.unit, r.type, r.time_ms, r.value, r.raw_int, r.raw_text, r.quality, r.exception, r.clock"

    static func readingRow(_ s: SQLiteStatement) -> ReadingRow {
        ReadingRow(gateway: s.text(0), device: s.text(1), point: s.text(2), unit: s.text(3), type: UInt8(truncatingIfNeeded: s.int64(4)),
                   timeMilliseconds: s.int64(5), value: s.optionalDouble(6), rawInt: s.optionalInt64(7), rawText: s.optionalText(8),
                   quality: Int(s.int64(9)), exception: s.optionalInt64(10).map { Int($0) }, clock: UInt8(truncatingIfNeeded: s.int64(11)))
    }

    /// The newest reading of every point (of one gateway, or of all), by reading time.
    public func latest(gateway: String?) throws -> [ReadingRow] {
        try statement("""
            SELECT \(Self.readingColumns)
            FROM points p JOIN devices d ON d.id = p.device JOIN gateways g ON g.id = d.gateway
            JOIN readings r ON r.rowid = (SELECT rowid FROM readings WHERE point = p.id ORDER BY time_ms DESC, rowid DESC LIMIT 1)
            WHERE ?1 IS NULL OR g.name = ?1
            ORDER BY g.name, d.name, p.name
            """).rows([gateway.map { .text($0) } ?? .null], Self.readingRow)
    }

    /// A point's readings with `from <= time < to`, oldest first, at most `limit`.
    public func range(gateway: String, device: String, point: String, from: Int64, to: Int64, limit: Int) throws -> [ReadingRow] {
        try statement("""
            SELECT \(Self.readingColumns)
            FROM gateways g JOIN devices d ON d.gateway = g.id JOIN points p ON p.device = d.id JOIN readings r ON r.point = p.id
            WHERE g.name = ? AND d.name = ? AND p.name = ? AND r.time_ms >= ? AND r.time_ms < ?
            ORDER BY r.time_ms, r.rowid LIMIT ?
            """).rows([.text(gateway), .text(device), .text(point), .integer(from), .integer(to), .integer(Int64(limit))], Self.readingRow)
    }

    public struct DayTally: Sendable, Equatable {
        public var day: Int64
        public var bytes: Int64
        public var batches: Int64
        public var duplicates: Int64
        public var readings: Int64
    }

    /// What each gateway sent per UTC day (days since 1970), newest first, at most `days` days.
    public func tallies(gateway: String, days: Int) throws -> [DayTally] {
        try statement("""
            SELECT t.day, t.bytes, t.batches, t.duplicates, t.readings FROM ingest_days t JOIN gateways g ON g.id = t.gateway
            WHERE g.name = ? ORDER BY t.day DESC LIMIT ?
            """).rows([.text(gateway), .integer(Int64(days))]) {
            DayTally(day: $0.int64(0), bytes: $0.int64(1), batches: $0.int64(2), duplicates: $0.int64(3), readings: $0.int64(4))
        }
    }

    /// A trivial read, for /health.
    public func ping() throws -> Bool {
        try statement("SELECT 1").first { _ in true } ?? false
    }
}
