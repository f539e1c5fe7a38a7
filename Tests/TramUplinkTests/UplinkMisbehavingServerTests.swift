import Foundation
import Logging
import Testing
import TramIngestProtocol
import TramSchema
import TramSpool
@testable import TramUplink
import TramCore

/// `Tests/integration/peers/misbehaving_http.py` on a loopback ephemeral port: an HTTP server that answers each
/// request by the next step of a script (500, 429 with Retry-After, 413 over a size, slow, reset, black hole), can
/// stop completing TCP handshakes (`hole on`), and records every request and every body it accepted.
final class MisbehavingPeer {
    /// One line of the peer's `requests.jsonl`.
    struct Request: Decodable {
        var n: Int
        var step: String
        /// accepted | answered | reset | abandoned | blackholed
        var outcome: String
        var status: Int?
        var length: Int
        var received: Int?
        var tram_batches: String?
        var tram_gateway: String?
        var authorization: Bool
        /// The peer's monotonic clock, seconds: headers read, and answer sent (or outcome known).
        var start: Double
        var end: Double
    }

    let process = Process()
    private(set) var port = 0
    let record: URL
    private let input = Pipe()
    private let output = Pipe()
    private var pending: [UInt8] = []

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("integration/peers/misbehaving_http.py")
    }

    init(script: String) throws {
        record = FileManager.default.temporaryDirectory.appendingPathComponent("tram-misbehaving-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: record, withIntermediateDirectories: true)
        let python =
            FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "/usr/bin/env"
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments =
            (python.hasSuffix("env") ? ["python3"] : [])
            + [Self.script.path, "--listen", "127.0.0.1:0", "--record", record.path, "--script", script]
            + (ProcessInfo.processInfo.environment["TRAM_UPLINK_TEST_LOG"] == nil ? [] : ["--verbose"])
        process.standardInput = input
        process.standardOutput = output
        if ProcessInfo.processInfo.environment["TRAM_UPLINK_TEST_LOG"] == nil {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        while port == 0 {
            let line = try readLine()
            if line.hasPrefix("PORT ") { port = Int(line.dropFirst(5)) ?? 0 }
        }
        guard try readLine() == "READY" else { throw PeerError("the peer did not start") }
    }

    deinit {
        try? input.fileHandleForWriting.close()  // EOF on stdin: the peer exits
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: record)
    }

    struct PeerError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    var url: String { "http://127.0.0.1:\(port)/v1/ingest" }

    private func readLine() throws -> String {
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw PeerError("the peer closed its output") }
            pending += chunk
        }
    }

    /// Sends a control command (`hole on`, `script …`) and waits for its `OK`.
    func control(_ command: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
        let reply = try readLine()
        guard reply.hasPrefix("OK") else { throw PeerError("\(command): \(reply)") }
    }

    /// Every request the peer has an outcome for, in the order it read them.
    func requests() throws -> [Request] {
        let file = record.appendingPathComponent("requests.jsonl")
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        let text = try String(contentsOf: file, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
            .sorted { $0.n < $1.n }
    }

    /// Polls the record until `condition` holds (outcomes such as `blackholed` are written when the client leaves).
    func requests(within seconds: Double = 5, until condition: ([Request]) -> Bool) throws -> [Request] {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            let seen = try requests()
            if condition(seen) || ContinuousClock.now > deadline { return seen }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    func acceptedBody(_ n: Int) throws -> [UInt8] {
        Array(try Data(contentsOf: record.appendingPathComponent("accepted-\(n).bin")))
    }
}

/// One `deliverOnce` and how long it took.
struct Attempt {
    var report: DeliveryReport
    var seconds: Double
}

func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try body()
    let took = ContinuousClock.now - start
    return (value, Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
}

extension FilledSpool {
    /// Every batch frame the spool holds for the collector sink, by identity (taken and handed back: nothing changes).
    func frames() -> [BatchIdentity: [UInt8]] {
        let all = spool.nextBatches(for: "collector")
        spool.release(sink: "collector", all.map(\.identity))
        return Dictionary(uniqueKeysWithValues: all.map { ($0.identity, $0.frame) })
    }
}

@Suite("Uplink against a misbehaving server", .serialized)
struct UplinkMisbehavingServerTests {
    /// Short limits for the cases about timeouts: a request is given up after 3 s, a connect after 2 s.
    static func fastOptions(_ url: String, connect: Int = 2, request: Int = 3) -> TransportOptions {
        var options = TransportOptions(url: url, gateway: "gw-m", token: "tramgw_misbehaving-token")
        options.connectTimeoutSeconds = connect
        options.requestTimeoutSeconds = request
        options.lowSpeedTimeSeconds = request
        return options
    }

    static func uplink(_ options: TransportOptions) throws -> Uplink {
        let uplink = Uplink(transport: try CurlTransport(options, logger: quietLogger("t")), logger: quietLogger("u"))
        uplink.backoff = Backoff(baseMilliseconds: 40, capMilliseconds: 1000)
        return uplink
    }

    /// Delivers until the spool has nothing left for the sink, waiting what each report asks (as the agent's loop
    /// does). Stops at the deadline or after `attempts` uploads.
    static func drive(_ uplink: Uplink, _ filled: FilledSpool, seconds: Double = 30, attempts limit: Int = 50)
        -> [Attempt]
    {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var attempts: [Attempt] = []
        while ContinuousClock.now < deadline, attempts.count < limit {
            let (report, took) = timed { uplink.deliverOnce(spool: filled.spool) }
            if report.batches.isEmpty { break }
            attempts.append(Attempt(report: report, seconds: took))
            if report.waitMilliseconds > 0 { Thread.sleep(forTimeInterval: Double(report.waitMilliseconds) / 1000) }
        }
        return attempts
    }

    /// The batches in one accepted body: the body must be whole frames of the spool, back to back, nothing else.
    static func batches(in body: [UInt8], frames: [BatchIdentity: [UInt8]]) -> [BatchIdentity]? {
        var offset = 0
        var found: [BatchIdentity] = []
        while offset < body.count {
            let matching = frames.filter {
                offset + $0.value.count <= body.count && body[offset..<offset + $0.value.count].elementsEqual($0.value)
            }
            guard matching.count == 1, let match = matching.first else { return nil }
            found.append(match.key)
            offset += match.value.count
        }
        return found
    }

    /// Nothing lost, nothing twice: the bodies the server accepted hold every appended batch exactly once, each
    /// request's `Tram-Batches` names what its body held, and the spool's books say delivered == appended.
    static func expectDeliveredExactlyOnce(
        _ peer: MisbehavingPeer, _ filled: FilledSpool, _ frames: [BatchIdentity: [UInt8]],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        var arrived: [BatchIdentity] = []
        for request in try peer.requests() where request.outcome == "accepted" {
            let body = try peer.acceptedBody(request.n)
            #expect(body.count == request.length, sourceLocation: sourceLocation)
            guard let batches = batches(in: body, frames: frames) else {
                Issue.record("accepted body \(request.n) is not whole spool frames", sourceLocation: sourceLocation)
                continue
            }
            #expect(request.tram_batches == BatchRuns.encode(batches), sourceLocation: sourceLocation)
            #expect(request.tram_gateway == "gw-m" && request.authorization, sourceLocation: sourceLocation)
            arrived += batches
        }
        #expect(
            arrived.sorted() == frames.keys.sorted(), "every batch accepted exactly once",
            sourceLocation: sourceLocation)
        let counters = filled.spool.counters
        #expect(
            counters.appended == Tally(readings: filled.readings, batches: frames.count), sourceLocation: sourceLocation
        )
        #expect(counters.delivered == counters.appended, sourceLocation: sourceLocation)
        #expect(counters.buffered == Tally() && counters.droppedTotal == Tally(), sourceLocation: sourceLocation)
        #expect(counters.balances, sourceLocation: sourceLocation)
    }

    @Test("500, 503 and 429: the same upload is retried with growing backoff, Retry-After is honoured, nothing is lost")
    func serverErrorsAndRateLimit() throws {
        let peer = try MisbehavingPeer(script: "500,503,429:2,ok")
        let filled = try FilledSpool(gateway: "gw-m")
        try filled.append(6)
        let frames = filled.frames()
        let uplink = try Self.uplink(Self.fastOptions(peer.url))

        let attempts = Self.drive(uplink, filled)
        #expect(attempts.map(\.report.status) == [500, 503, 429, 200])
        #expect(
            attempts.map(\.report.action) == [
                .retry(retryAfterSeconds: nil), .retry(retryAfterSeconds: nil),
                .retry(retryAfterSeconds: 2), .acknowledge,
            ])
        #expect(attempts.allSatisfy { $0.report.batches == frames.keys.sorted() }, "the same six batches each time")
        guard attempts.count == 4 else { return }
        // Exponential with jitter: base 40 ms, then 80 ms (half fixed, half random).
        #expect((20..<40).contains(attempts[0].report.waitMilliseconds), "\(attempts[0].report.waitMilliseconds)")
        #expect((40..<80).contains(attempts[1].report.waitMilliseconds), "\(attempts[1].report.waitMilliseconds)")
        #expect(attempts[2].report.waitMilliseconds >= 2000)
        #expect(uplink.state == .delivering && uplink.backoff.failures == 0)

        // The server's own clock: the next request came no sooner than Retry-After after the 429.
        let requests = try peer.requests()
        #expect(requests.map(\.status) == [500, 503, 429, 200])
        if requests.count == 4 {
            #expect(requests[3].start - requests[2].end >= 2.0, "\(requests[3].start - requests[2].end) s")
        }
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test("413 over a body limit halves the batches per upload until they fit; every accepted body is under the limit")
    func tooLargeSplits() throws {
        let filled = try FilledSpool(gateway: "gw-m")
        try filled.append(8, groups: 20)
        let frames = filled.frames()
        let sizes = frames.values.map(\.count).sorted()
        // Any two batches fit, no four do: 8 → 413, 4 → 413, then 2 at a time.
        let limit = sizes[sizes.count - 1] + sizes[sizes.count - 2]
        try #require(sizes[0] + sizes[1] + sizes[2] + sizes[3] > limit)
        let peer = try MisbehavingPeer(script: "413>\(limit)*")
        let uplink = try Self.uplink(Self.fastOptions(peer.url))

        let attempts = Self.drive(uplink, filled)
        #expect(attempts.map(\.report.batches.count) == [8, 4, 2, 2, 2, 2])
        #expect(
            attempts.map(\.report.action) == [.split, .split, .acknowledge, .acknowledge, .acknowledge, .acknowledge])
        #expect(uplink.maximumBatches == 2)
        let requests = try peer.requests()
        #expect(requests.filter { $0.status == 413 }.allSatisfy { $0.length > limit })
        #expect(requests.filter { $0.outcome == "accepted" }.allSatisfy { $0.length <= limit })
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test(
        "413 for a single batch: never split, the whole batch is kept and delivery pauses; it resumes once the limit is lifted"
    )
    func singleBatchTooLargePauses() throws {
        let filled = try FilledSpool(gateway: "gw-m")
        try filled.append(1, groups: 20)
        let frames = filled.frames()
        let peer = try MisbehavingPeer(script: "413>64*")
        let uplink = try Self.uplink(Self.fastOptions(peer.url))

        for _ in 0..<2 {
            let report = uplink.deliverOnce(spool: filled.spool)
            #expect(report.status == 413)
            #expect(report.batches == Array(frames.keys))
            guard case .pause(let why)? = report.action, case .paused = uplink.state else {
                Issue.record("not paused: \(report)"); return
            }
            #expect(why.contains("413"))
            #expect(report.waitMilliseconds == uplink.pauseMilliseconds)
            #expect(filled.spool.counters.buffered == Tally(readings: filled.readings, batches: 1))
        }
        #expect(uplink.maximumBatches >= 1)
        // The whole frame went each time: never a piece of a batch.
        #expect(try peer.requests().map(\.length) == [frames.values.first!.count, frames.values.first!.count])

        try peer.control("script ok")
        #expect(uplink.deliverOnce(spool: filled.spool).action == .acknowledge)
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test("a slow answer within the timeout is delivered; one beyond it times out, is retried, and arrives once")
    func slowAnswers() throws {
        let peer = try MisbehavingPeer(script: "slow:1,slow:6,ok")
        let filled = try FilledSpool(gateway: "gw-m")
        let uplink = try Self.uplink(Self.fastOptions(peer.url))  // 3 s per request
        try filled.append(3)
        var frames = filled.frames()

        let (first, firstTook) = timed { uplink.deliverOnce(spool: filled.spool) }
        #expect(first.action == .acknowledge && first.batches.count == 3)
        #expect(firstTook >= 1.0 && firstTook < 3, "\(firstTook) s")

        try filled.append(3)
        frames.merge(filled.frames()) { old, _ in old }
        let (second, secondTook) = timed { uplink.deliverOnce(spool: filled.spool) }
        #expect(second.action == .retry(retryAfterSeconds: nil) && second.status == nil)
        #expect(second.batches.count == 3)
        #expect(secondTook >= 2.9 && secondTook < 4.5, "given up after \(secondTook) s; the request timeout is 3 s")
        #expect(filled.spool.counters.buffered == Tally(readings: 36, batches: 3))
        // The server saw the client leave while it was still waiting to answer: nothing of it was accepted.
        let seen = try peer.requests { $0.count >= 2 }
        #expect(seen.map(\.outcome) == ["accepted", "abandoned"])

        Thread.sleep(forTimeInterval: Double(second.waitMilliseconds) / 1000)
        let third = uplink.deliverOnce(spool: filled.spool)
        #expect(third.action == .acknowledge && third.batches == second.batches)
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test("a connection reset mid-request is a link failure: retried with backoff, nothing lost")
    func resetMidRequest() throws {
        let peer = try MisbehavingPeer(script: "reset,reset,reset,ok")
        let filled = try FilledSpool(gateway: "gw-m")
        try filled.append(5, groups: 20)
        let frames = filled.frames()
        let uplink = try Self.uplink(Self.fastOptions(peer.url))

        let direct = uplink.transport.post(Array(frames.values.first!), batches: "0/0-0")
        guard case .failure(.connection) = direct else {
            Issue.record("a reset must be a connection failure, got \(direct)"); return
        }
        let attempts = Self.drive(uplink, filled)
        #expect(
            attempts.map(\.report.action) == [
                .retry(retryAfterSeconds: nil), .retry(retryAfterSeconds: nil), .acknowledge,
            ])
        #expect(attempts.map(\.report.status) == [nil, nil, 200])
        #expect(attempts.allSatisfy { $0.seconds < 1 }, "a reset is noticed at once")
        let requests = try peer.requests()
        #expect(requests.map(\.outcome) == ["reset", "reset", "reset", "accepted"])
        #expect(requests.prefix(3).allSatisfy { ($0.received ?? 0) >= $0.length / 2 })
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test("a server that accepts and never answers: timed out at the request timeout, retried, delivered once")
    func blackHoleAfterAccept() throws {
        let peer = try MisbehavingPeer(script: "blackhole,blackhole,ok")
        let filled = try FilledSpool(gateway: "gw-m")
        try filled.append(4)
        let frames = filled.frames()
        let uplink = try Self.uplink(Self.fastOptions(peer.url))  // 3 s per request

        let (direct, directTook) = timed { uplink.transport.post(Array(frames.values.first!), batches: "0/0-0") }
        guard case .failure(.timeout) = direct else {
            Issue.record("a black hole must end in a timeout, got \(direct)"); return
        }
        #expect(directTook >= 2.9 && directTook < 4.5, "\(directTook) s")

        let attempts = Self.drive(uplink, filled)
        #expect(attempts.map(\.report.action) == [.retry(retryAfterSeconds: nil), .acknowledge])
        if let first = attempts.first { #expect(first.seconds >= 2.9 && first.seconds < 4.5, "\(first.seconds) s") }
        let requests = try peer.requests { $0.count >= 3 }
        #expect(requests.map(\.outcome) == ["blackholed", "blackholed", "accepted"])
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test("a black hole before the handshake (no SYN-ACK) ends in a connect timeout; delivery resumes when it lifts")
    func blackHoleBeforeHandshake() throws {
        let peer = try MisbehavingPeer(script: "")
        let filled = try FilledSpool(gateway: "gw-m")
        // Connect 2 s, request 6 s: a failure after 2 s is the connect timeout.
        let uplink = try Self.uplink(Self.fastOptions(peer.url, connect: 2, request: 6))
        try filled.append(1)
        var frames = filled.frames()
        // A kept-alive connection the hole must not let through (the peer closes it).
        #expect(uplink.deliverOnce(spool: filled.spool).action == .acknowledge)
        try filled.append(3)
        frames.merge(filled.frames()) { old, _ in old }

        try peer.control("hole on")
        let (direct, directTook) = timed { uplink.transport.post([1, 2, 3], batches: "0/0-0") }
        guard case .failure(.timeout) = direct else {
            Issue.record("no SYN-ACK must end in a timeout, got \(direct)"); return
        }
        #expect(directTook >= 1.9 && directTook < 3, "\(directTook) s")
        let (report, took) = timed { uplink.deliverOnce(spool: filled.spool) }
        #expect(report.action == .retry(retryAfterSeconds: nil) && report.status == nil)
        #expect(took >= 1.9 && took < 3, "\(took) s")
        #expect(filled.spool.counters.buffered.batches == 3)
        #expect(try peer.requests().count == 1, "no request reached the server through the hole")

        try peer.control("hole off")
        Thread.sleep(forTimeInterval: Double(report.waitMilliseconds) / 1000)
        #expect(Self.drive(uplink, filled).map(\.report.action) == [.acknowledge])
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test(
        "with the default limits a black hole before the handshake is detected within 30 s and no request runs over 20 s"
    )
    func blackHoleBeforeHandshakeDefaultLimits() throws {
        let peer = try MisbehavingPeer(script: "")
        let filled = try FilledSpool(gateway: "gw-m")
        try filled.append(2)
        let frames = filled.frames()
        let options = TransportOptions(url: peer.url, gateway: "gw-m", token: "tramgw_misbehaving-token")
        let uplink = try Self.uplink(options)

        try peer.control("hole on")
        let (report, took) = timed { uplink.deliverOnce(spool: filled.spool) }
        print(
            "black hole before the handshake detected after \(took) s (connect timeout \(options.connectTimeoutSeconds) s)"
        )
        #expect(report.action == .retry(retryAfterSeconds: nil) && report.status == nil)
        // The connect timeout is what fired: not sooner, and well inside both goals.
        #expect(took >= Double(options.connectTimeoutSeconds) - 0.1, "\(took) s")
        #expect(took < 30 && took <= Double(options.requestTimeoutSeconds), "\(took) s")
        #expect(filled.spool.counters.buffered == Tally(readings: 24, batches: 2))
        #expect(try peer.requests().isEmpty)

        try peer.control("hole off")
        Thread.sleep(forTimeInterval: Double(report.waitMilliseconds) / 1000)
        #expect(uplink.deliverOnce(spool: filled.spool).action == .acknowledge)
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }

    @Test("the whole repertoire in one run, batches sealed meanwhile: every batch arrives exactly once")
    func scriptedSequence() throws {
        // Two resets: curl itself resends once, on a fresh connection, a request whose kept-alive connection died
        // before any answer (the first reset follows the 429 on the same connection); the second reaches the uplink.
        let peer = try MisbehavingPeer(script: "500,429:1,reset,reset,slow:0.5,blackhole")
        let filled = try FilledSpool(gateway: "gw-m")
        try filled.append(3, groups: 20)
        var frames = filled.frames()
        let uplink = try Self.uplink(Self.fastOptions(peer.url))

        var attempts = Self.drive(uplink, filled)
        #expect(
            attempts.map(\.report.action) == [
                .retry(retryAfterSeconds: nil), .retry(retryAfterSeconds: 1),
                .retry(retryAfterSeconds: nil), .acknowledge,
            ])
        if attempts.count == 4 { #expect(attempts[1].report.waitMilliseconds >= 1000) }

        // Two more batches sealed; then a black hole, and a server that takes one batch but not two.
        try filled.append(2, groups: 20)
        let fresh = filled.frames().values.map(\.count)
        frames.merge(filled.frames()) { old, _ in old }
        let limit = fresh.max()!
        try #require(fresh.count == 2 && fresh.reduce(0, +) > limit)
        try peer.control("script blackhole,413>\(limit)*")
        attempts = Self.drive(uplink, filled)
        #expect(attempts.map(\.report.action) == [.retry(retryAfterSeconds: nil), .split, .acknowledge, .acknowledge])
        #expect(attempts.map(\.report.batches.count) == [2, 2, 1, 1])

        let requests = try peer.requests { $0.count >= 9 }
        #expect(
            requests.map(\.outcome) == [
                "answered", "answered", "reset", "reset", "accepted", "blackholed", "answered", "accepted", "accepted",
            ])
        #expect(filled.frames().isEmpty, "nothing left in the spool")
        try Self.expectDeliveredExactlyOnce(peer, filled, frames)
    }
}
