import Foundation
import TramSchema

public enum StoreError: Error, CustomStringConvertible, Equatable {
    case gatewayExists(String)
    case noSuchGateway(String)
    case invalidName(String)
    case noSuchReader(String)

    public var description: String {
        switch self {
        case .gatewayExists(let name): "gateway '\(name)' already exists"
        case .noSuchGateway(let name): "no gateway named '\(name)'"
        case .noSuchReader(let name): "no unrevoked read token named '\(name)'"
        case .invalidName(let name):
            "invalid name '\(name)': use 1–128 characters, none of them control characters or '/'"
        }
    }
}

/// The collector's SQLite store. One connection; not thread-safe: ``StoreExecutor`` serialises every call.
///
/// Its calls are extensions, a file per concern: enrollment, authentication, ingest, reads and retention here, and
/// the relay's durable position in TramCollectorRelay (which is why the connection and the statement cache are `package`).
public final class CollectorStore {
    package let db: SQLiteDatabase
    private var statements: [String: SQLiteStatement] = [:]
    /// Dictionaries by gateway row, then schema id (loaded lazily; updated only after a commit).
    var schemas: [Int64: [UInt64: KnownSchema]] = [:]

    /// Whether ingest writes the rollups, `point_latest` and the gateways' clock state (true). Off only in the collector
    /// benchmark, which measures what they cost in the same run.
    @_spi(Benchmark) public var maintainsRollups = true

    struct KnownSchema {
        var row: Int64
        var dictionary: SchemaDictionary
        var pointIDs: [Int64]
        /// Per alias, how long a reading holds (``RollupRules/holdLimit(intervalMilliseconds:heartbeatMilliseconds:)``).
        var holdLimits: [Int64]
        /// Per alias, what ingest keeps for it beyond the rollups (the built-in modem's points).
        var roles: [BuiltinPoints.Role]
        /// The modem's `operator_code` alias, when the dictionary has a modem with binned points.
        var operatorAlias: Int?
        var hasBinned: Bool

        init(row: Int64, dictionary: SchemaDictionary, pointIDs: [Int64]) {
            self.row = row
            self.dictionary = dictionary
            self.pointIDs = pointIDs
            holdLimits = dictionary.points.map {
                RollupRules.holdLimit(
                    intervalMilliseconds: DictionaryExtras.intervalMilliseconds(of: $0),
                    heartbeatMilliseconds: DictionaryExtras.heartbeatMilliseconds(of: $0))
            }
            roles = dictionary.points.map { BuiltinPoints.role(device: $0.device, point: $0.name) }
            operatorAlias = roles.firstIndex(of: .operatorCode)
            hasBinned = roles.contains(.binned)
        }
    }

    public init(path: String, durability: Durability = .normal) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA journal_mode=WAL")
        try db.execute("PRAGMA synchronous=\(durability == .full ? "FULL" : "NORMAL")")
        // 32 MiB of page cache instead of SQLite's 2 MB default: one 1 MiB upload of a few hundred thousand readings
        // touches more index pages than 2 MB holds, and the spill (to the WAL, and back) cost 3× the throughput
        // in the uplink benchmark (README, "Uplink").
        try db.execute("PRAGMA cache_size=-32768")
        try StoreMigration.open(db)
    }

    /// The prepared statement for `sql`, prepared once and kept for the connection's life.
    package func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let prepared = try db.prepare(sql)
        statements[sql] = prepared
        return prepared
    }
}
