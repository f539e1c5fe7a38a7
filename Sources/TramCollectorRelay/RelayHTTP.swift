#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 POST to a host by name (getaddrinfo), one request per connection, with timeouts.
enum RelayHTTP {
    static let timeoutSeconds = 15

    static func post(_ target: RelayTarget, body: [UInt8]) throws -> HTTPReply {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard rc == 0, let list else {
            throw HTTPReply.Failure(what: "resolve \(target.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var fd: Int32 = -1
        var lastErrno: Int32 = 0
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let info = cursor {
            let s = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if s >= 0 {
                var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                // On Linux SO_SNDTIMEO also bounds connect().
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                if connect(s, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { fd = s; break }
                lastErrno = errno
                close(s)
            }
            cursor = info.pointee.ai_next
        }
        guard fd >= 0 else {
            throw HTTPReply.Failure(
                what: "connect \(target.host):\(target.port): \(String(cString: strerror(lastErrno)))")
        }
        defer { close(fd) }
        var head = "POST \(target.path) HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\nConnection: close\r\n"
        head +=
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\nUser-Agent: tram-collector\r\n"
        if let authorization = target.authorization { head += "Authorization: \(authorization)\r\n" }
        head += "\r\n"
        let request = Array(head.utf8) + body
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HTTPReply.Failure(what: "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw HTTPReply.Failure(what: "recv: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            response += chunk[..<n]
            if let parsed = HTTPReply.parse(response), parsed.complete { return parsed.reply }
        }
        // Connection: close: the reply ends with the connection (a 204 carries no Content-Length).
        guard let parsed = HTTPReply.parse(response) else {
            throw HTTPReply.Failure(what: "no HTTP response from \(target.host):\(target.port)")
        }
        return parsed.reply
    }
}
