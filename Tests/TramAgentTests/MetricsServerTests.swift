import Foundation
import Glibc
import Synchronization
import Testing
@testable import TramAgent
import TramCore

/// A plain TCP client for the server: Foundation's URLSession is unreliable on Linux for this, and a raw socket
/// can also misbehave on purpose (send half a request, or nothing).
private final class RawClient {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`; reads give up after `timeoutSeconds`, so a broken server fails a test, not hangs it.
    init(port: UInt16, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the server closes (or the timeout: then nil).
    func readToEnd() -> [UInt8]? {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return all }
            if count < 0 { return errno == ECONNRESET ? all : nil }
            all += buffer[..<count]
        }
    }
}

/// A parsed HTTP/1.1 answer.
private struct Answer {
    var status: Int
    var headers: [String: String]
    var body: String

    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else { return nil }
        self.status = status
        headers = Dictionary(
            lines.dropFirst().compactMap { line in
                line.firstIndex(of: ":").map {
                    (line[..<$0].lowercased(), line[line.index(after: $0)...].trimmingCharacters(in: .whitespaces))
                }
            }, uniquingKeysWith: { a, _ in a })
        body = String(text[split.upperBound...])
    }
}

private func request(_ port: UInt16, _ head: String) throws -> Answer {
    let client = try RawClient(port: port)
    client.send(head)
    return try #require(client.readToEnd().flatMap(Answer.init))
}

private func get(_ port: UInt16, _ path: String, method: String = "GET") throws -> Answer {
    try request(
        port, "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: tram-test\r\nAccept: */*\r\n\r\n")
}

private func monotonicSeconds() -> Double { Double(TramClock.system.monotonicNanoseconds()) / 1e9 }

/// What the health closure answers, changed by the test while the server runs.
private final class HealthProblem: Sendable {
    private let text = Mutex<String?>(nil)
    var current: String? { text.withLock { $0 } }
    func set(_ problem: String?) { text.withLock { $0 = problem } }
}

@Suite("MetricsServer")
struct MetricsServerTests {
    @Test("GET /metrics serves the agent's exposition, which parses and holds what was recorded")
    func metrics() throws {
        let metrics = AgentMetrics()
        metrics.record(
            AgentMetricsFixtures.deviceCycle("sdm630", points: 40, requests: 2, failed: 1, state: .degraded),
            latencySeconds: 0.042)
        metrics.update(
            spool: AgentMetricsFixtures.spoolStatus(delivered: 120, buffered: 40, dropped: [.age: 2], diskBytes: 8192),
            uplinks: [AgentMetricsFixtures.uplinkStatus("collector", .delivering, bytes: 4321, uploads: 3, failed: 1)])
        let server = try MetricsServer(exposition: { metrics.exposition() }, health: { nil })
        server.start()
        defer { server.stop() }
        #expect(server.port != 0, "port 0 asks the kernel for a free one")

        let answer = try get(server.port, "/metrics")
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(answer.headers["connection"] == "close")
        #expect(answer.headers["content-length"] == "\(answer.body.utf8.count)")
        let samples = try ScrapedSamples(answer.body)
        #expect(samples["tram_readings_produced_total"] == 40)
        #expect(samples[#"tram_poll_duration_seconds_count{device="sdm630"}"#] == 1)
        #expect(samples[#"tram_poll_duration_seconds_sum{device="sdm630"}"#] == 0.042)
        #expect(samples[#"tram_poll_errors_total{device="sdm630"}"#] == 1)
        #expect(samples[#"tram_device_healthy{device="sdm630"}"#] == 0)
        #expect(samples["tram_readings_delivered_total"] == 120)
        #expect(samples["tram_readings_buffered"] == 40)
        #expect(samples[#"tram_readings_dropped_total{cause="age"}"#] == 2)
        #expect(samples["tram_spool_size_bytes"] == 8192)
        #expect(samples[#"tram_uplink_state{sink="collector",state="delivering"}"#] == 1)
        #expect(samples[#"tram_uplink_bytes_total{sink="collector"}"#] == 4321)
        #expect(samples[#"tram_uplink_failed_uploads_total{sink="collector"}"#] == 1)

        // Each scrape is made fresh: a later record shows in the next answer. A query string is ignored.
        metrics.record(AgentMetricsFixtures.deviceCycle("sdm630", points: 40, state: .online), latencySeconds: 0.01)
        let again = try ScrapedSamples(try get(server.port, "/metrics?format=text").body)
        #expect(again["tram_readings_produced_total"] == 80)
        #expect(again[#"tram_device_healthy{device="sdm630"}"#] == 1)
    }

    @Test("GET /health: 200 ok while healthy, 503 with the reason while not")
    func health() throws {
        let problem = HealthProblem()
        let server = try MetricsServer(exposition: { [] }, health: { problem.current })
        server.start()
        defer { server.stop() }

        var answer = try get(server.port, "/health")
        #expect(answer.status == 200)
        #expect(answer.body == "ok\n")

        problem.set("uplink loop stuck for 95 s")
        answer = try get(server.port, "/health")
        #expect(answer.status == 503)
        #expect(answer.body == "uplink loop stuck for 95 s\n")
    }

    @Test("other paths 404, other methods 405, HEAD has no body, garbage 400")
    func otherRequests() throws {
        let server = try MetricsServer(exposition: { Array("tram_up 1\n".utf8) }, health: { nil })
        server.start()
        defer { server.stop() }

        #expect(try get(server.port, "/").status == 404)
        #expect(try get(server.port, "/metricsx").status == 404)
        let post = try get(server.port, "/metrics", method: "POST")
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let head = try get(server.port, "/metrics", method: "HEAD")
        #expect(head.status == 200)
        #expect(head.headers["content-length"] == "10")
        #expect(head.body.isEmpty)
        #expect(try request(server.port, "hello\r\n\r\n").status == 400)
        #expect(try request(server.port, "GET /metrics SPDY/3\r\n\r\n").status == 400)
        // A head larger than the server takes is refused, not buffered without end.
        let huge = try request(
            server.port, "GET /metrics HTTP/1.1\r\nX-Filler: \(String(repeating: "a", count: 9000))\r\n\r\n")
        #expect(huge.status == 431)
    }

    @Test("a client that sends nothing, or half a request, is cut off after the receive timeout; others are served")
    func slowClients() throws {
        let server = try MetricsServer(
            receiveTimeout: .milliseconds(300), exposition: { Array("tram_up 1\n".utf8) }, health: { nil })
        server.start()
        defer { server.stop() }

        let silent = try RawClient(port: server.port)
        let dribbling = try RawClient(port: server.port)
        dribbling.send("GET /metr")
        let started = monotonicSeconds()
        // Served after the two stalled clients have had their 300 ms each, not never.
        let answer = try get(server.port, "/metrics")
        let waited = monotonicSeconds() - started
        #expect(answer.status == 200)
        #expect(waited < 3, "waited \(waited) s")

        // Both stalled connections were closed by the server without an answer.
        #expect(silent.readToEnd() == [])
        #expect(dribbling.readToEnd() == [])
    }

    @Test("stop() returns promptly even with a client mid-request, and the port is closed after")
    func stopIsPrompt() throws {
        let server = try MetricsServer(receiveTimeout: .seconds(60), exposition: { [] }, health: { nil })
        server.start()
        #expect(try get(server.port, "/health").status == 200)

        let stalled = try RawClient(port: server.port)
        stalled.send("GET /health HTTP/1.1\r\n")
        // Let the server take the stalled connection: once it has, a second client queues behind it.
        let queued = try RawClient(port: server.port, timeoutSeconds: 1)
        queued.send("GET /health HTTP/1.1\r\n\r\n")
        #expect(queued.readToEnd() == nil, "the server is busy with the stalled client")

        let started = monotonicSeconds()
        server.stop()
        let took = monotonicSeconds() - started
        #expect(took < 1, "stop took \(took) s with a 60 s receive timeout")
        #expect(stalled.readToEnd() == [])
        #expect(throws: POSIXError.self) { try RawClient(port: server.port) }
        server.stop()  // a second stop is harmless
    }

    @Test("a port already in use is an error at init")
    func portInUse() throws {
        let first = try MetricsServer(exposition: { [] }, health: { nil })
        #expect(throws: MetricsServerError.self) {
            try MetricsServer(port: first.port, exposition: { [] }, health: { nil })
        }
        #expect(throws: MetricsServerError.self) {
            try MetricsServer(host: "localhost", exposition: { [] }, health: { nil })
        }
    }

    @Test(
        "curl, a real HTTP client, gets the metrics page",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")))
    func curl() throws {
        let metrics = AgentMetrics()
        metrics.record(AgentMetricsFixtures.deviceCycle("meter", points: 7, state: .online), latencySeconds: 0.003)
        let server = try MetricsServer(exposition: { metrics.exposition() }, health: { nil })
        server.start()
        defer { server.stop() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = [
            "--silent", "--show-error", "--fail", "--max-time", "5", "http://127.0.0.1:\(server.port)/metrics",
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let body = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let samples = try ScrapedSamples(Array(body))
        #expect(samples["tram_readings_produced_total"] == 7)
        #expect(samples[#"tram_device_healthy{device="meter"}"#] == 1)
    }
}
