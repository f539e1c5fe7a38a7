import TramCore
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import TramThreads

/// A minimal HTTP/1.1 server for `GET /metrics` and `GET /health` on a loopback port, on a thread of its own.
///
/// The agent's footprint rules out SwiftNIO and Foundation for two read-only pages, and a scrape every few
/// seconds needs no concurrency: one owned thread accepts a connection, reads one request, answers it and closes
/// (`Connection: close`). A client gets `receiveTimeout` in all to send its request head (8 KiB at most), and as
/// long again for each send, so a slow or stuck client delays the next scrape by at most that and never wedges the
/// server. `stop()` wakes the thread through a pipe, whatever it is waiting for, and returns once it has exited.
///
/// - `GET /metrics`: the exposition, `text/plain; version=0.0.4`.
/// - `GET /health`: 200 `ok`, or 503 with the reason the `health` closure gives.
/// - `HEAD` of either: the same headers without the body. Another method on them: 405. Any other path: 404.
public final class MetricsServer: Sendable {
    /// The bound port (the kernel's choice when 0 was asked for).
    public let port: UInt16
    public let receiveTimeout: Duration
    private let listener: Int32
    /// A pipe whose read end wakes the thread: written by `stop()`.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let exposition: @Sendable () -> [UInt8]
    private let health: @Sendable () -> String?
    private let logger: Logger
    private let thread = Mutex<OwnedThread?>(nil)
    private let stopped = Atomic<Bool>(false)

    /// The most a request head may take.
    static let maximumHeadBytes = 8192

    /// Binds and listens at once, so a taken port is an error here, not later on the thread. Call `start()` to serve.
    /// - Parameters:
    ///   - host: an IPv4 address; loopback by default, as the pages are for this machine's scraper and technician.
    ///   - port: 0 for a port the kernel picks (see `port`).
    ///   - exposition: the metrics page's body, made per request on the server's thread.
    ///   - health: nil while healthy, otherwise the reason the agent is not.
    public init(
        host: String = "127.0.0.1", port: UInt16 = 0, receiveTimeout: Duration = .seconds(2),
        exposition: @escaping @Sendable () -> [UInt8], health: @escaping @Sendable () -> String?,
        logger: Logger = Logger(label: "tram.metrics")
    ) throws(MetricsServerError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw MetricsServerError(operation: "parse address \(host)", code: EINVAL)
        }

        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw MetricsServerError(operation: "socket", code: errno) }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(listener, address, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, address, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(listener)
            throw MetricsServerError(operation: "listen on \(host):\(port)", code: code)
        }
        var wake: [Int32] = [-1, -1]
        guard pipe(&wake) == 0 else {
            let code = errno
            close(listener)
            throw MetricsServerError(operation: "pipe", code: code)
        }
        for descriptor in wake { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        self.listener = listener
        wakeRead = wake[0]
        wakeWrite = wake[1]
        self.port = UInt16(bigEndian: address.sin_port)
        self.receiveTimeout = receiveTimeout
        self.exposition = exposition
        self.health = health
        var logger = logger
        logger[metadataKey: "port"] = "\(self.port)"
        self.logger = logger
    }

    deinit {
        // The thread holds the server, so by now it has exited (or never started).
        closeDescriptors()
    }

    /// Starts serving on a thread named `tram-metrics`. Does nothing if serving already or stopped.
    public func start() {
        thread.withLock { thread in
            guard thread == nil, !stopped.load(ordering: .acquiring) else { return }
            thread = OwnedThread(name: "tram-metrics") { [self] in serve() }
        }
    }

    /// Stops serving, abandoning a request in progress, and closes the port. Returns once the thread has exited.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        thread.withLock { $0 }?.join()
        closeDescriptors()
    }

    private let descriptorsClosed = Atomic<Bool>(false)

    private func closeDescriptors() {
        guard !descriptorsClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        close(listener)
        close(wakeRead)
        close(wakeWrite)
    }

    // MARK: The thread

    private func serve() {
        logger.debug("serving /metrics and /health")
        while !stopped.load(ordering: .acquiring) {
            guard wait(for: listener, milliseconds: -1) else { return }
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                let code = errno
                if code == EINTR || code == EAGAIN || code == ECONNABORTED { continue }
                // Out of descriptors, say: pause rather than spin on a listener that stays readable.
                logger.warning("accept failed: \(String(cString: strerror(code)))")
                _ = wait(for: -1, milliseconds: 100)
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            answer(client)
            close(client)
        }
    }

    /// Reads one request from `client` within `receiveTimeout` and answers it.
    private func answer(_ client: Int32) {
        let timeoutMilliseconds = Self.milliseconds(receiveTimeout)
        var sendTimeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: timeoutMilliseconds % 1000 * 1000)
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))

        let deadline = Self.monotonicMilliseconds() + timeoutMilliseconds
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while Self.endOfHead(in: head) == nil {
            guard head.count < Self.maximumHeadBytes else {
                return respond(
                    client,
                    HTTPResponse(
                        status: 431, reason: "Request Header Fields Too Large", body: "request head too large\n"))
            }
            let remaining = deadline - Self.monotonicMilliseconds()
            guard remaining > 0, wait(for: client, milliseconds: remaining) else {
                if !stopped.load(ordering: .acquiring) {
                    logger.debug("no complete request within the receive timeout; closed")
                }
                return
            }
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }  // closed, or reset
            head.append(contentsOf: chunk[..<count])
        }
        respond(client, route(head))
    }

    /// Waits until `descriptor` is readable (or just sleeps, for -1); false if woken by `stop()` instead.
    private func wait(for descriptor: Int32, milliseconds: Int) -> Bool {
        var descriptors = [
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(clamping: milliseconds))
            if ready < 0 && errno == EINTR { continue }
            if descriptors[0].revents != 0 || stopped.load(ordering: .acquiring) { return false }
            return ready > 0
        }
    }

    // MARK: HTTP

    private func route(_ head: [UInt8]) -> HTTPResponse {
        guard let lineEnd = head.firstIndex(of: UInt8(ascii: "\r")) else { return .badRequest }
        let parts = head[..<lineEnd].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].starts(with: "HTTP/1.".utf8) else { return .badRequest }
        let method = String(decoding: parts[0], as: UTF8.self)
        let target = parts[1]
        let path = String(decoding: target.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)

        var response: HTTPResponse
        switch path {
        case "/metrics":
            response = HTTPResponse(
                status: 200, reason: "OK", contentType: "text/plain; version=0.0.4; charset=utf-8", body: exposition())
        case "/health":
            if let problem = health() {
                response = HTTPResponse(status: 503, reason: "Service Unavailable", body: problem + "\n")
            } else {
                response = HTTPResponse(status: 200, reason: "OK", body: "ok\n")
            }
        default:
            return HTTPResponse(status: 404, reason: "Not Found", body: "not found: try /metrics or /health\n")
        }
        switch method {
        case "GET": break
        case "HEAD": response.omitsBody = true
        default:
            return HTTPResponse(
                status: 405, reason: "Method Not Allowed", headers: "Allow: GET, HEAD\r\n", body: "method not allowed\n"
            )
        }
        return response
    }

    private func respond(_ client: Int32, _ response: HTTPResponse) {
        var bytes = Array(
            "HTTP/1.1 \(response.status) \(response.reason)\r\nContent-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n\(response.headers)Connection: close\r\n\r\n"
                .utf8)
        if !response.omitsBody { bytes += response.body }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else {
                logger.debug("client stopped reading; answer abandoned")
                return
            }
            offset += sent
        }
        // Say we are done writing, so the client sees the end of the body even before close.
        shutdown(client, Int32(SHUT_WR))
    }

    /// Where the blank line ending the head is, if it has arrived.
    private static func endOfHead(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 {
            return index + 1
        }
        return nil
    }

    private static func milliseconds(_ duration: Duration) -> Int { Int(duration.milliseconds) }

    private static func monotonicMilliseconds() -> Int { Int(TramClock.system.monotonicMilliseconds()) }
}

/// One answer: a status line, a few headers and a body.
private struct HTTPResponse {
    var status: Int
    var reason: String
    var contentType = "text/plain; charset=utf-8"
    /// Extra header lines, each ending in CRLF.
    var headers = ""
    var body: [UInt8]
    /// For HEAD: the headers (Content-Length included) without the body.
    var omitsBody = false

    init(
        status: Int, reason: String, contentType: String = "text/plain; charset=utf-8", headers: String = "",
        body: [UInt8]
    ) {
        self.status = status
        self.reason = reason
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    init(status: Int, reason: String, headers: String = "", body: String) {
        self.init(status: status, reason: reason, headers: headers, body: Array(body.utf8))
    }

    static let badRequest = HTTPResponse(status: 400, reason: "Bad Request", body: "bad request\n")
}

/// The metrics server could not start: the operation that failed and its `errno`.
public struct MetricsServerError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    public var description: String {
        "metrics server: \(operation): \(String(cString: strerror(code)))"
    }
}
