import Foundation
import Logging
import SystemPackage
import Testing
import TramCompression
import TramConfig
import TramSchema
import TramSpool
@testable import TramStageOptions
import TramUplink

/// A free loopback port: bound, read and closed, so a server started later can take it.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits for `condition`, polling, up to `seconds`. Returns whether it came true.
func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return try condition()
}

/// A spool shared between the test (the writer) and an uplink worker, as in the agent.
final class SharedFilledSpool {
    let directory: URL
    let shared: SharedSpool
    let dictionary: SchemaDictionary
    private(set) var appended: [BatchIdentity] = []
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
    private let compressor = FrameCompressor(capacity: 1 << 20)

    init(gateway: String, sinks: [String] = ["collector"]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tram-worker-spool-\(UUID().uuidString)")
        var options = SpoolOptions(directory: FilePath(directory.path))
        options.sinks = sinks
        shared = SharedSpool(try Spool(options: options, logger: quietLogger("spool")))
        dictionary = SchemaDictionary(
            gateway: gateway,
            points: [
                PointDescriptor(device: "meter", name: "voltage", unit: "V", type: .float32),
                PointDescriptor(device: "meter", name: "energy", unit: "kWh", type: .uint32, scale: 0.1),
            ])
        let frame = dictionary.frame(), id = dictionary.schemaID
        _ = shared.withSpool { spool in frame.withUnsafeBytes { spool.appendDictionary($0, schemaID: id) } }
    }

    deinit {
        buffer.deallocate()
        try? shared.withSpool { try $0.close() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// One batch of `groups` readings pairs, timestamped by sequence so the store's order is checkable.
    func appendBatch(groups: Int = 5) throws {
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        let identity = shared.withSpool { $0.nextIdentity }
        let t0: Int64 = 1_764_000_000_000 + Int64(identity.sequence) * 10_000
        encoder.begin(epoch: identity.epoch, sequence: identity.sequence, baseTimeMilliseconds: t0)
        for g in 0..<groups {
            let values: [WireValue] = [
                .float32(bits: Float(230 + Float(g) / 10).bitPattern), .uint(identity.sequence * 100 + UInt64(g)),
            ]
            try values.withUnsafeBufferPointer {
                try encoder.append(
                    timeMilliseconds: t0 + Int64(g) * 1000, clock: .synchronised, firstAlias: 0, values: $0)
            }
        }
        let frame = Array(try compressor.compress(try encoder.seal()))
        let id = dictionary.schemaID
        let outcome = shared.withSpool { spool in
            frame.withUnsafeBytes { spool.appendBatch($0, identity: identity, readings: groups * 2, schemaID: id) }
        }
        #expect(outcome == .stored)
        appended.append(identity)
    }

    var counters: SpoolCounters { shared.withSpool { $0.counters } }
}

@Suite("Uplink worker: the delivery loop on its own thread", .serialized)
struct UplinkWorkerTests {
    @Test(
        "collector down for a while, then up: every reading arrives exactly once, in timestamp order, while appends go on"
    )
    func outageThenRecovery() throws {
        let port = try freeLoopbackPort()
        let filled = try SharedFilledSpool(gateway: "gw-w")
        let tokenFile = filled.directory.appendingPathComponent("token").path
        var settings = SinkSettings(name: "collector", url: "http://127.0.0.1:\(port)/v1/ingest", tokenFile: tokenFile)
        settings.connectTimeout = .seconds(2)
        let worker = UplinkWorker(
            options: SinkOptions(settings: settings, gateway: "gw-w"), queue: filled.shared,
            spoolDirectory: FilePath(filled.directory.path), pauseMilliseconds: 200, logger: quietLogger("w"))
        worker.start()
        // No token file yet: paused, every batch kept.
        for _ in 0..<10 { try filled.appendBatch(); worker.batchesAppended() }
        #expect(eventually(within: 5) { if case .paused = worker.status.state { true } else { false } })
        #expect(worker.status.lastProblem?.contains("token") == true)

        // Token present, collector not running: connection refused, retried with backoff, nothing lost.
        let collector0 = try CollectorProcess(extra: ["--listen", "127.0.0.1:\(port)"], start: false)
        let token = try collector0.enroll("gw-w")
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokenFile)
        #expect(eventually(within: 5) { worker.status.failedUploads >= 2 && worker.status.state != .paused("") })
        if case .backingOff = worker.status.state {
        } else {
            Issue.record("expected backing-off, got \(worker.status.state)")
        }
        for _ in 0..<10 { try filled.appendBatch(); worker.batchesAppended() }
        #expect(filled.counters.delivered == Tally())

        // The collector comes up on the same port and database: the backlog drains while new batches keep coming.
        try collector0.start()
        for _ in 0..<10 {
            try filled.appendBatch(); worker.batchesAppended()
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(eventually(within: 30) { filled.counters.delivered.batches == 30 })
        worker.stop()
        let counters = filled.counters
        #expect(counters.delivered == Tally(readings: 300, batches: 30))
        #expect(counters.buffered == Tally())
        #expect(try collector0.query("SELECT count(*) FROM readings") == "300")
        #expect(try collector0.query("SELECT count(DISTINCT time_ms || '/' || point) FROM readings") == "300")
        // Sequence 7's energies, read back in the store's timestamp order.
        #expect(
            try collector0.query(
                "SELECT group_concat(raw_int) FROM (SELECT raw_int FROM readings WHERE raw_int BETWEEN 700 AND 799 ORDER BY time_ms)"
            )
                == "700,701,702,703,704")
        let status = worker.status
        #expect(status.state == .stopped)
        #expect(status.batchesDelivered == 30)
        #expect(status.bytesOnWire > 0)
        #expect(status.lastDeliveryMilliseconds != nil)
    }

    @Test("stop ends a sleeping loop at once and abandons an upload in flight within the grace period")
    func stopIsPrompt() throws {
        // A peer that accepts and never answers: the upload would otherwise hang for the request timeout.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let filled = try SharedFilledSpool(gateway: "gw-s")
        let worker = UplinkWorker(
            options: SinkOptions(
                settings: SinkSettings(name: "collector", url: "http://127.0.0.1:\(port)/v1/ingest"), gateway: "gw-s"),
            queue: filled.shared, spoolDirectory: FilePath(filled.directory.path), logger: quietLogger("w"))
        worker.start()
        try filled.appendBatch()
        worker.batchesAppended()
        Thread.sleep(forTimeInterval: 1.0)  // the request is now in flight, waiting for an answer that never comes
        let started = Date()
        worker.stop(graceMilliseconds: 500)
        let took = Date().timeIntervalSince(started)
        #expect(took < 2.5, "stop took \(took) s")
        #expect(worker.status.state == .stopped)
        // Abandoned, not lost: the batch is still buffered and goes again later.
        #expect(filled.counters.buffered == Tally(readings: 10, batches: 1))
        #expect(
            filled.shared.nextBatches(for: "collector", limit: 10, maximumBytes: 1 << 20).map(\.identity)
                == filled.appended)
    }

    @Test("a daily budget stops delivery once spent, keeps the batches, and survives a restart")
    func dailyBudget() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tram-budget-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = FilePath(directory.appendingPathComponent("budget").path)
        let day: Int64 = 20_000 * 86_400_000
        var budget = DataBudget(limitBytes: 1000, file: file, nowMilliseconds: day + 5)
        #expect(budget.millisecondsUntilAvailable(nowMilliseconds: day + 10) == nil)
        budget.record(bytes: 999, nowMilliseconds: day + 10)
        #expect(budget.millisecondsUntilAvailable(nowMilliseconds: day + 10) == nil)
        budget.record(bytes: 1, nowMilliseconds: day + 20)
        let wait = budget.millisecondsUntilAvailable(nowMilliseconds: day + 1000)
        #expect(wait == Int64(86_400_000 - 1000))
        // A restart the same day remembers the spent budget; the next day starts afresh.
        var restarted = DataBudget(limitBytes: 1000, file: file, nowMilliseconds: day + 2000)
        #expect(restarted.usedBytes == 1000)
        #expect(restarted.millisecondsUntilAvailable(nowMilliseconds: day + 2000) != nil)
        #expect(restarted.millisecondsUntilAvailable(nowMilliseconds: day + 86_400_000) == nil)
        #expect(restarted.usedBytes == 0)
        // A clock stepped back into yesterday does not grant a fresh budget.
        restarted.record(bytes: 1000, nowMilliseconds: day + 86_400_000 + 5)
        #expect(restarted.millisecondsUntilAvailable(nowMilliseconds: day + 100) != nil)
    }

    @Test(
        "bytes on the wire count each body once, small (sent with the headers) or large", arguments: [10_000, 300_000])
    func bytesOnWireCountsTheBodyOnce(size: Int) throws {
        let collector = try CollectorProcess()
        let transport = try CurlTransport(
            TransportOptions(url: collector.url, gateway: "gw-b", token: "tramgw_unknown"), logger: quietLogger("t"))
        _ = transport.post([UInt8](repeating: 0x41, count: size), batches: "1/1-1")
        // Headers both ways and a short JSON refusal: a few hundred bytes over the body, never a second body.
        #expect(transport.bytesOnWire > size + 100, "\(transport.bytesOnWire)")
        #expect(transport.bytesOnWire < size + 2_000, "\(transport.bytesOnWire)")
    }

    @Test("line-protocol bodies go out gzip-compressed, and gzip itself reads them back exactly")
    func gzipBodies() throws {
        var text = ""
        for i in 0..<2_000 {
            text +=
                "tram,gateway=gw,device=meter voltage=\(230 + Double(i % 50) / 10),energy=\(100_000 + i)i \(1_764_000_000_000 + Int64(i) * 1000)\n"
        }
        let lines = Array(text.utf8)
        let gzip = Gzip()
        let first = gzip.compress(lines)
        #expect(first.prefix(2) == [0x1F, 0x8B])
        #expect(first.count * 5 < lines.count, "\(first.count) of \(lines.count) bytes")
        #expect(gzip.compress(lines) == first, "the reused stream starts afresh for every body")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tram-gzip-\(UUID().uuidString).gz")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(first).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", file.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let decoded = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(Array(decoded) == lines)
    }

    @Test("a bandwidth cap bounds every upload to what the cap can carry within the request timeout")
    func bandwidthBoundsUploadSize() {
        var settings = SinkSettings(name: "c", url: "http://127.0.0.1:1/v1/ingest", maximumUploadBytes: 1 << 20)
        #expect(settings.effectiveMaximumUploadBytes == 1 << 20)
        settings.bandwidthBytesPerSecond = 8_000
        settings.requestTimeout = .seconds(20)
        #expect(settings.effectiveMaximumUploadBytes == 128_000)
        #expect(TransportOptions(settings: settings, gateway: "g", token: nil).maximumSendBytesPerSecond == 8_000)
    }
}
