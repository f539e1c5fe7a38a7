import Dispatch
import Foundation
import TramCollectorRelay
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client over a POSIX socket, for the collector benchmark and the tests (loopback only,
/// one request per connection); the async form runs it off the cooperative pool.
extension HTTPReply {
    public static func request(_ method: String, port: Int, path: String, headers: [(String, String)], body: [UInt8])
        async throws -> HTTPReply
    {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result { try blockingRequest(method, port: port, path: path, headers: headers, body: body) })
            }
        }
    }

    public static func blockingRequest(
        _ method: String, port: Int, path: String, headers: [(String, String)], body: [UInt8]
    ) throws -> HTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(what: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(what: "connect: \(errno)") }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head =
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let request = Array(head.utf8) + body
        var sent = 0
        // A server may answer (413) and close before reading the whole body: a failed send is not an error yet.
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += chunk[..<n]
            if let parsed = parse(response), parsed.complete { return parsed.reply }
        }
        guard let parsed = parse(response) else {
            throw Failure(what: "no HTTP response (\(response.count) bytes, errno \(errno))")
        }
        return parsed.reply
    }

    /// POST /v1/ingest with a gateway token, as an agent would.
    public static func ingest(port: Int, token: String, body: [UInt8]) throws -> HTTPReply {
        try blockingRequest(
            "POST", port: port, path: "/v1/ingest",
            headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/x-tram-frames")], body: body)
    }
}
