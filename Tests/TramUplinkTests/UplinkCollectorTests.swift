import Foundation
import Logging
import SystemPackage
import Testing
import TramCompression
import TramSchema
import TramSpool
@testable import TramUplink

/// The real `tram-collector` binary, built next to the test bundle, on a loopback ephemeral port.
final class CollectorProcess {
    let directory: URL
    let database: String
    let process = Process()
    let arguments: [String]
    private(set) var port = 0

    static var binary: URL {
        let exe = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0])
        return exe.deletingLastPathComponent().appendingPathComponent("tram-collector")
    }

    /// - Parameters:
    ///   - database: another collector's database (a restart on the same store); nil: a fresh one.
    ///   - listen: where to listen (a restart on the same port); ephemeral by default.
    init(extra: [String] = [], start: Bool = true, database: String? = nil, listen: String = "127.0.0.1:0") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tram-uplink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.database = database ?? directory.appendingPathComponent("collector.db").path
        arguments = ["serve", "--db", self.database, "--listen", listen] + extra
        if start { try self.start() }
    }

    /// Stops the server (SIGTERM) and waits for it.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Starts the server (later than `init` when a test needs its database before it listens).
    func start() throws {
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while !text.contains("\n"), Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("LISTENING ") }),
            let port = Int(line.split(separator: ":").last ?? "")
        else {
            process.terminate()
            throw CocoaError(.fileReadUnknown, userInfo: [NSDebugDescriptionErrorKey: "no LISTENING line: \(text)"])
        }
        self.port = port
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    var url: String { "http://127.0.0.1:\(port)/v1/ingest" }

    func run(_ executable: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Enrolls a gateway through the collector's CLI; returns its token.
    func enroll(_ name: String) throws -> String {
        try run(Self.binary.path, ["gateway", "add", name, "--db", database])
    }

    /// One value from the collector's SQLite store, through the `sqlite3` CLI.
    func query(_ sql: String) throws -> String {
        try run("/usr/bin/sqlite3", [database, sql])
    }
}

/// A spool in a temporary directory, filled with real frames from the real encoder.
final class FilledSpool {
    let directory: URL
    let spool: Spool
    let dictionary: SchemaDictionary
    private(set) var readings = 0

    init(gateway: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tram-uplink-spool-\(UUID().uuidString)")
        var logger = Logger(label: "test.spool")
        logger.logLevel = .critical
        spool = try Spool(options: SpoolOptions(directory: FilePath(directory.path)), logger: logger)
        dictionary = SchemaDictionary(
            gateway: gateway,
            points: [
                PointDescriptor(device: "meter", name: "voltage", unit: "V", type: .float32),
                PointDescriptor(device: "meter", name: "energy", unit: "kWh", type: .uint32, scale: 0.1),
                PointDescriptor(device: "meter", name: "status", unit: "", type: .string),
            ])
        let frame = dictionary.frame()
        _ = frame.withUnsafeBytes { spool.appendDictionary($0, schemaID: dictionary.schemaID) }
    }

    deinit {
        try? spool.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Appends `count` batches of `groups` readings groups each (three readings per group). `version2`: the status
    /// point is `absent` in the last group, a version-2 quality, so each batch is a version-2 frame.
    @discardableResult
    func append(_ count: Int, groups: Int = 4, corrupt: Bool = false, version2: Bool = false) throws
        -> [BatchIdentity]
    {
        var identities: [BatchIdentity] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        let compressor = FrameCompressor(capacity: 1 << 20)
        for _ in 0..<count {
            let identity = spool.nextIdentity
            let t0: Int64 = 1_764_000_000_000 + Int64(identity.sequence) * 10_000
            encoder.begin(epoch: identity.epoch, sequence: identity.sequence, baseTimeMilliseconds: t0)
            for g in 0..<groups {
                let values: [WireValue] = [
                    .float32(bits: Float(230 + Float(g) / 10).bitPattern), .uint(identity.sequence * 100 + UInt64(g)),
                    version2 && g == groups - 1 ? .missing(.absent) : .string("ok-\(identity.sequence)-\(g)"),
                ]
                try values.withUnsafeBufferPointer {
                    try encoder.append(
                        timeMilliseconds: t0 + Int64(g) * 1000, clock: .synchronised, firstAlias: 0, values: $0)
                }
            }
            var frame = Array(try compressor.compress(try encoder.seal()))
            if corrupt { frame[frame.count - 1] ^= 0xFF }
            let outcome = frame.withUnsafeBytes {
                spool.appendBatch($0, identity: identity, readings: groups * 3, schemaID: dictionary.schemaID)
            }
            #expect(outcome == .stored)
            readings += groups * 3
            identities.append(identity)
        }
        return identities
    }
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["TRAM_UPLINK_TEST_LOG"] == nil ? .critical : .debug
    return logger
}

@Suite("Uplink against the real collector", .serialized)
struct UplinkCollectorTests {
    @Test("first upload without its dictionary: 409, the dictionary is sent, then 200; the connection is reused")
    func deliversThroughSchemaUnknown() throws {
        let collector = try CollectorProcess()
        let token = try collector.enroll("gw-u")
        #expect(token.hasPrefix("tramgw_"))
        let filled = try FilledSpool(gateway: "gw-u")
        try filled.append(5)
        let transport = try CurlTransport(
            TransportOptions(url: collector.url, gateway: "gw-u", token: token), logger: quietLogger("t"))
        let uplink = Uplink(transport: transport, logger: quietLogger("u"))

        let first = uplink.deliverOnce(spool: filled.spool)
        #expect(first.batches.count == 5)
        #expect(first.dictionariesSent == 1)
        #expect(first.status == 200)
        #expect(first.action == .acknowledge)
        #expect(uplink.state == .delivering)
        let counters = filled.spool.counters
        #expect(counters.delivered == Tally(readings: 60, batches: 5))
        #expect(counters.buffered == Tally())
        #expect(try collector.query("SELECT count(*) FROM readings") == "60")
        #expect(try collector.query("SELECT count(*) FROM schemas") == "1")
        #expect(uplink.deliverOnce(spool: filled.spool).batches.isEmpty)

        // The collector now has the dictionary: no 409, and the same connection carries the upload.
        try filled.append(3)
        let second = uplink.deliverOnce(spool: filled.spool)
        #expect(second.batches.count == 3)
        #expect(second.dictionariesSent == 0)
        #expect(second.action == .acknowledge)
        #expect(second.newConnections == 0)
        #expect(filled.spool.counters.delivered == Tally(readings: 96, batches: 8))
        #expect(try collector.query("SELECT count(*) FROM readings") == "96")
        #expect(
            try collector.query(
                "SELECT group_concat(raw_text) FROM (SELECT raw_text FROM readings WHERE raw_text LIKE 'ok-7-%' ORDER BY time_ms)"
            )
                == "ok-7-0,ok-7-1,ok-7-2,ok-7-3")
    }

    @Test("a wrong token pauses delivery and keeps every batch; the right one resumes it")
    func wrongTokenPauses() throws {
        let collector = try CollectorProcess()
        let token = try collector.enroll("gw-u")
        let filled = try FilledSpool(gateway: "gw-u")
        try filled.append(4)
        let wrong = try CurlTransport(
            TransportOptions(url: collector.url, gateway: "gw-u", token: "tramgw_wrong"), logger: quietLogger("t"))
        let paused = Uplink(transport: wrong, logger: quietLogger("u"))
        for _ in 0..<2 {
            let report = paused.deliverOnce(spool: filled.spool)
            #expect(report.status == 401)
            #expect(report.batches.count == 4)
            guard case .pause? = report.action, case .paused = paused.state else {
                Issue.record("not paused: \(report)"); return
            }
            #expect(report.waitMilliseconds == paused.pauseMilliseconds)
        }
        #expect(filled.spool.counters.buffered == Tally(readings: 48, batches: 4))
        #expect(filled.spool.counters.delivered == Tally())
        #expect(try collector.query("SELECT count(*) FROM readings") == "0")

        let right = try CurlTransport(
            TransportOptions(url: collector.url, gateway: "gw-u", token: token), logger: quietLogger("t"))
        let resumed = Uplink(transport: right, logger: quietLogger("u"))
        let report = resumed.deliverOnce(spool: filled.spool)
        #expect(report.action == .acknowledge)
        #expect(filled.spool.counters.delivered == Tally(readings: 48, batches: 4))
        #expect(try collector.query("SELECT count(*) FROM readings") == "48")
    }

    @Test(
        "version 2 waits for a collector that takes it: the version-1 batches before it go, it pauses, none is set aside; after the upgrade it goes"
    )
    func versionNegotiation() throws {
        let old = try CollectorProcess(extra: ["--wire-versions", "1"])
        let token = try old.enroll("gw-u")
        let filled = try FilledSpool(gateway: "gw-u")
        try filled.append(2)
        try filled.append(2, version2: true)
        try filled.append(1)
        let transport = try CurlTransport(
            TransportOptions(url: old.url, gateway: "gw-u", token: token), logger: quietLogger("t"))
        let uplink = Uplink(transport: transport, logger: quietLogger("u"))

        let first = uplink.deliverOnce(spool: filled.spool)
        #expect(first.action == .acknowledge && first.batches.count == 2, "\(first)")
        #expect(uplink.sinkWireVersions == [1])
        for _ in 0..<2 {
            let held = uplink.deliverOnce(spool: filled.spool)
            guard case .pause(let why)? = held.action, case .paused = uplink.state else {
                Issue.record("not paused: \(held)"); return
            }
            #expect(why.contains("version 2") && why.contains("upgrade the collector"))
            #expect(held.deadLettered.isEmpty && held.status == nil)
        }
        #expect(filled.spool.counters.buffered.batches == 3)
        #expect(try old.query("SELECT count(*) FROM readings") == "24")

        // Upgraded: the same store and port, every version taken. The uplink asks again and delivers the rest.
        let port = old.port
        old.stop()
        let upgraded = try CollectorProcess(database: old.database, listen: "127.0.0.1:\(port)")
        let resumed = uplink.deliverOnce(spool: filled.spool)
        #expect(resumed.action == .acknowledge && resumed.batches.count == 3, "\(resumed)")
        #expect(uplink.sinkWireVersions == [1, 2])
        #expect(filled.spool.counters.buffered == Tally())
        #expect(try upgraded.query("SELECT count(*) FROM readings") == "60")
        #expect(try upgraded.query("SELECT count(*) FROM readings WHERE quality = 9") == "2")
    }

    @Test("413 splits the upload between batches; nothing is lost")
    func tooLargeSplits() throws {
        let filled = try FilledSpool(gateway: "gw-u")
        try filled.append(8, groups: 20)
        let all = filled.spool.nextBatches(for: "collector")
        filled.spool.release(sink: "collector", all.map(\.identity))
        let largest = all.map(\.frame.count).max()!
        // Room for the dictionary and two batches, not three.
        let collector = try CollectorProcess(extra: [
            "--max-body", "\(filled.dictionary.frame().count + largest * 2 + largest / 2)",
        ])
        let token = try collector.enroll("gw-u")
        let transport = try CurlTransport(
            TransportOptions(url: collector.url, gateway: "gw-u", token: token), logger: quietLogger("t"))
        let uplink = Uplink(transport: transport, logger: quietLogger("u"))
        var actions: [DeliveryAction?] = []
        for _ in 0..<20 {
            let report = uplink.deliverOnce(spool: filled.spool)
            if report.batches.isEmpty { break }
            actions.append(report.action)
        }
        #expect(actions.contains(.split))
        #expect(uplink.maximumBatches == 2)
        #expect(filled.spool.counters.delivered == Tally(readings: 8 * 60, batches: 8))
        #expect(try collector.query("SELECT count(*) FROM readings") == "\(8 * 60)")
    }

    @Test("422: only the malformed batch is set aside, in the dead-letter file; the others are delivered")
    func malformedIsDeadLettered() throws {
        let collector = try CollectorProcess()
        let token = try collector.enroll("gw-u")
        let filled = try FilledSpool(gateway: "gw-u")
        try filled.append(2)
        let bad = try filled.append(1, corrupt: true)
        try filled.append(2)
        let transport = try CurlTransport(
            TransportOptions(url: collector.url, gateway: "gw-u", token: token), logger: quietLogger("t"))
        let deadLetters = collector.directory.appendingPathComponent("dead-letter.frames").path
        let uplink = Uplink(transport: transport, deadLetterPath: FilePath(deadLetters), logger: quietLogger("u"))
        var dead: [BatchIdentity] = []
        for _ in 0..<10 {
            let report = uplink.deliverOnce(spool: filled.spool)
            if report.batches.isEmpty { break }
            dead += report.deadLettered
        }
        #expect(dead == bad)
        #expect(filled.spool.counters.delivered == Tally(readings: 48, batches: 4))
        #expect(filled.spool.counters.dropped[.rejected]?.batches == 1 && filled.spool.counters.buffered.batches == 0)
        #expect(filled.spool.counters.balances)
        #expect(try collector.query("SELECT count(*) FROM readings") == "48")
        #expect(FileManager.default.fileExists(atPath: deadLetters))
    }

    @Test("a refused connection is retried with backoff, and the batches are kept")
    func connectionRefusedRetries() throws {
        let filled = try FilledSpool(gateway: "gw-u")
        try filled.append(2)
        // Port 9 on loopback: nothing listens (discard service off).
        let transport = try CurlTransport(
            TransportOptions(url: "http://127.0.0.1:9/v1/ingest", gateway: "gw-u", token: "x"), logger: quietLogger("t")
        )
        let uplink = Uplink(transport: transport, logger: quietLogger("u"))
        let report = uplink.deliverOnce(spool: filled.spool)
        #expect(report.action == .retry(retryAfterSeconds: nil))
        #expect(report.waitMilliseconds > 0)
        #expect(filled.spool.counters.buffered == Tally(readings: 24, batches: 2))
        #expect(uplink.deliverOnce(spool: filled.spool).batches.count == 2)  // released: offered again
    }
}

/// Collects log lines (message and metadata) in memory.
final class CapturedLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }

    func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
            function: String, line: UInt
        ) {
            sink.append("\(level) \(message) \(metadata ?? [:])")
        }
    }
}

@Suite("Uplink against the real collector: rate limits and secrets", .serialized)
struct UplinkRetryAfterTests {
    @Test("429 from the collector: Retry-After is read from the header and honoured; the token never reaches the logs")
    func rateLimited() throws {
        let collector = try CollectorProcess(extra: ["--rate", "0.01", "--burst", "1"])
        let token = try collector.enroll("gw-u")
        let filled = try FilledSpool(gateway: "gw-u")
        try filled.append(2)
        let logs = CapturedLogs()
        let transport = try CurlTransport(
            TransportOptions(url: collector.url, gateway: "gw-u", token: token), logger: logs.logger("t"))
        let uplink = Uplink(transport: transport, logger: logs.logger("u"))
        // The first request (409: no dictionary yet) spends the burst; the resend with the dictionary is refused.
        let report = uplink.deliverOnce(spool: filled.spool)
        #expect(report.status == 429)
        guard case .retry(let seconds?)? = report.action else { Issue.record("no Retry-After: \(report)"); return }
        #expect(seconds >= 1)
        #expect(report.waitMilliseconds >= Int64(seconds) * 1000)
        #expect(filled.spool.counters.buffered == Tally(readings: 24, batches: 2))

        let wrong = Uplink(
            transport: try CurlTransport(
                TransportOptions(url: collector.url, gateway: "gw-u", token: "tramgw_secret-never-logged"),
                logger: logs.logger("t")), logger: logs.logger("u"))
        _ = wrong.deliverOnce(spool: filled.spool)
        #expect(!logs.text.isEmpty)
        #expect(!logs.text.contains(token))
        #expect(!logs.text.contains("secret-never-logged"))
    }
}
