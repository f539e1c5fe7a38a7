import CSQLite
import Foundation
import Logging
import Testing
import TramCollector
import TramCollectorRelay
import TramCollectorTestSupport
import TramCompression
import TramSchema

#if canImport(Glibc)
import Glibc
#endif

/// A real collector on a loopback ephemeral port, over a database in a fresh temporary directory.
final class LiveCollector: @unchecked Sendable {
    let databasePath: String
    let port: Int
    let server: CollectorServer
    private let task: Task<Void, any Error>

    private init(databasePath: String, port: Int, server: CollectorServer, task: Task<Void, any Error>) {
        self.databasePath = databasePath
        self.port = port
        self.server = server
        self.task = task
    }

    static func temporaryDatabase() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tram-collector-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("collector.db").path
    }

    static func start(
        database: String? = nil, limits: IngestLimits = .init(), rate: Double = 0, burst: Double = 1,
        wireVersions: ClosedRange<UInt8> = Frame.versions, logger custom: Logger? = nil
    ) async throws -> LiveCollector {
        let path = database ?? temporaryDatabase()
        var logger = Logger(label: "tram-collector-test")
        logger.logLevel = ProcessInfo.processInfo.environment["TRAM_COLLECTOR_TEST_LOG"] == nil ? .critical : .debug
        if let custom { logger = custom }
        var configuration = CollectorServer.Configuration(
            databasePath: path, host: "127.0.0.1", port: 0, limits: limits, rate: rate, burst: burst)
        configuration.wireVersions = wireVersions
        let server = try CollectorServer(configuration, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task { try await server.run { port in continuation.yield(port) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw HTTPReply.Failure(what: "the server did not start") }
        return LiveCollector(databasePath: path, port: port, server: server, task: task)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    func post(
        _ body: [UInt8], token: String?, gateway: String? = nil, contentType: String = "application/x-tram-frames"
    ) async throws -> HTTPReply {
        var headers = [("Content-Type", contentType)]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        if let gateway { headers.append(("Tram-Gateway", gateway)) }
        return try await HTTPReply.request("POST", port: port, path: "/v1/ingest", headers: headers, body: body)
    }

    func get(_ path: String, token: String?) async throws -> HTTPReply {
        try await HTTPReply.request(
            "GET", port: port, path: path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [], body: [])
    }
}

extension HTTPReply {
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
}

/// Frames made by the real encoder.
enum Frames {
    static func batch(
        _ dictionary: SchemaDictionary, epoch: UInt64, sequence: UInt64,
        groups: [(time: Int64, clock: ClockFlags, first: Int, values: [WireValue])], compressed: Bool = false
    ) throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        encoder.begin(epoch: epoch, sequence: sequence, baseTimeMilliseconds: groups.first?.time ?? 0)
        for group in groups {
            try group.values.withUnsafeBufferPointer {
                try encoder.append(
                    timeMilliseconds: group.time, clock: group.clock, firstAlias: group.first, values: $0)
            }
        }
        let frame = try encoder.seal()
        guard compressed else { return Array(frame) }
        let compressor = FrameCompressor(capacity: 1 << 20)
        return Array(try compressor.compress(frame))
    }

    /// The committed golden vectors of the wire format (Tests/TramSchemaTests/vectors).
    static func vector(_ name: String) throws -> [UInt8] {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let url = here.deletingLastPathComponent().appendingPathComponent("TramSchemaTests/vectors/\(name)")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
    }
}

/// Reads the collector's database directly, through SQLite's C API (a second connection, as an operator would).
final class Peek {
    private var db: OpaquePointer?

    init(_ path: String) throws {
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            throw HTTPReply.Failure(what: "open \(path)")
        }
    }

    deinit { sqlite3_close_v2(db) }

    /// Every row of `sql`, each column as Int64, Double, String or nil.
    func rows(_ sql: String) throws -> [[AnyHashable?]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else {
            throw HTTPReply.Failure(what: String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(statement) }
        var result: [[AnyHashable?]] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            var row: [AnyHashable?] = []
            for column in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(sqlite3_column_int64(statement, column))
                case SQLITE_FLOAT: row.append(sqlite3_column_double(statement, column))
                case SQLITE_TEXT: row.append(String(cString: sqlite3_column_text(statement, column)))
                default: row.append(nil)
                }
            }
            result.append(row)
        }
        return result
    }

    func count(_ sql: String) throws -> Int64 { try rows(sql).first?.first as? Int64 ?? -1 }

    /// Runs one statement on a read-write connection of its own.
    static func write(_ path: String, _ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else {
            throw HTTPReply.Failure(what: "open \(path)")
        }
        defer { sqlite3_close_v2(db) }
        sqlite3_busy_timeout(db, 5000)
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw HTTPReply.Failure(what: String(cString: sqlite3_errmsg(db)))
        }
    }
}
