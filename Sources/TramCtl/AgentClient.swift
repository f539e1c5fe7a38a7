import ArgumentParser
import TramConfig
import TramControlProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Talks to the running agent over its control socket: one request line, one JSON answer.
enum AgentClient {
    static let defaultSocket = ControlSettings.defaultSocket

    struct Unreachable: Error, CustomStringConvertible {
        var description: String
    }

    static func request(_ line: String, socket path: String) throws -> [UInt8] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Unreachable(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = ControlSocketAddress.make(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = errno
            var hint = "is tram-agent running? (systemctl status tram-agent)"
            if reason == EACCES { hint = "permission denied: run as root or as a member of the agent's group (tram)" }
            if reason == ENOENT { hint = "no socket there: is tram-agent running, and is its control.socket \(path)?" }
            throw Unreachable(
                description: "cannot reach the agent at \(path): \(String(cString: strerror(reason))); \(hint)")
        }
        // A write waits for its link's turn between poll cycles and for the device: up to the agent's 15 s.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            answer.append(contentsOf: chunk[..<count])
        }
        guard !answer.isEmpty else {
            throw Unreachable(description: "the agent at \(path) closed the connection without an answer")
        }
        return answer
    }

    /// Whether an agent answers on `socket` (its `version`).
    static func isRunning(socket: String) -> Bool {
        (try? request(ControlRequest.version.line, socket: socket)) != nil
    }

    /// Asks the agent and reads its answer with the control protocol's own types (TramControlProtocol).
    /// Devices a `status` page carries: 100 devices of 30 points are about 250 KB of JSON, which the agent builds
    /// in a few milliseconds; the whole of 100,000 points at once was 8.2 MB and 57 MB of the agent's memory.
    static let statusPageDevices = 100

    /// The agent's whole status, asked a page at a time and put together. An agent that does not page (older than
    /// `status <from> <count>`) answers everything in its first answer, which is then all there is.
    static func status(socket: String) throws -> ControlStatus {
        var whole = try ask(.statusPage(from: 0, count: statusPageDevices), ControlStatus.self, socket: socket)
        var next = whole.page?.next(after: whole.devices.count)
        while let from = next {
            let page = try ask(.statusPage(from: from, count: statusPageDevices), ControlStatus.self, socket: socket)
            whole.devices += page.devices
            // The agent's devices may change between pages (a reload): a page that starts elsewhere ends the walk.
            guard let position = page.page, position.from == from, !page.devices.isEmpty else { break }
            next = position.next(after: page.devices.count)
        }
        whole.page = nil
        return whole
    }

    static func ask<Answer: ControlMessage>(_ request: ControlRequest, _ answer: Answer.Type, socket: String) throws
        -> Answer
    {
        let bytes = try self.request(request.line, socket: socket)
        do {
            return try Answer.decode(bytes)
        } catch .refused(let failure) {
            throw ValidationError("the agent says: \(failure.message)")
        }
    }
}

extension ControlPoint.Value {
    /// The value as `status`, `top` and `tail` show it: whole numbers without a fraction, others to three decimals.
    var display: String {
        switch self {
        case .number(let v): v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\((v * 1000).rounded() / 1000)"
        case .text(let t): t
        }
    }
}
