import Foundation
import Logging
import Testing
@testable import TramUplink

/// Cellular links fail by going silent, not by refusing: the transport must notice within its limits.
@Suite("Uplink on a silent link", .serialized)
struct UplinkLinkFailureTests {
    /// A peer that accepts the connection and then says nothing, ever: a black hole past the TCP handshake.
    final class SilentPeer {
        let fd: Int32
        let port: Int
        private let thread: Thread

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
            }
            guard bound == 0, listen(listener, 4) == 0 else { throw CocoaError(.fileWriteUnknown) }
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
            }
            fd = listener
            port = Int(UInt16(bigEndian: address.sin_port))
            thread = Thread {
                // Accept and hold connections without reading or answering, until the listener closes.
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { return }
                }
            }
            thread.start()
        }

        deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    @Test("with the default limits, a server that accepts and then never answers is given up within 20 s")
    func silentServerTimesOut() throws {
        let peer = try SilentPeer()
        let options = TransportOptions(url: "http://127.0.0.1:\(peer.port)/v1/ingest", gateway: "gw-u", token: "t")
        let transport = try CurlTransport(options, logger: quietLogger("t"))
        let started = Date()
        let result = transport.post(Array(repeating: 7, count: 2048), batches: "1/0-0")
        let took = Date().timeIntervalSince(started)
        guard case .failure(.timeout) = result else {
            Issue.record("a silent server must end in a timeout, got \(result)")
            return
        }
        // The low-speed limit (64 B/s averaged over 10 s) fires first; the overall 20 s limit is the backstop.
        // The body itself fills the socket buffers at once, so the average falls below the limit only later.
        print("silent server given up after \(took) s")
        #expect(took >= 9 && took < 21, "took \(took) s")
    }

    @Test("the defaults bound every request: black hole detected within 30 s, no request longer than 20 s")
    func defaultsMeetTheGoals() {
        let options = TransportOptions(url: "https://collector.example/v1/ingest", gateway: "gw", token: nil)
        #expect(options.connectTimeoutSeconds + options.lowSpeedTimeSeconds <= 30)
        #expect(options.requestTimeoutSeconds <= 20)
        #expect(options.verifyTLS)
    }

    @Test("the token file is read and trimmed; a file others can read is warned about, without the token")
    func tokenFile() throws {
        let path = NSTemporaryDirectory() + "tram-token-\(getpid())"
        defer { unlink(path) }
        try "  tramgw_secret123\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        let open = CapturedLogs()
        #expect(try TokenFile.read(path, logger: open.logger("token")) == "tramgw_secret123")
        #expect(open.text.contains("can be read by every user"))
        #expect(!open.text.contains("secret123"))
        chmod(path, 0o600)
        let closed = CapturedLogs()
        _ = try TokenFile.read(path, logger: closed.logger("token"))
        #expect(closed.text.isEmpty)
        #expect(throws: TokenFile.Problem.self) {
            try TokenFile.read(path + ".missing", logger: closed.logger("token"))
        }
    }
}
