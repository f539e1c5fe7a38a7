import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Talks to the running agent over its control socket: one request line, one JSON answer.
enum AgentClient {
    static let defaultSocket = "/run/tram/agent.sock"

    struct Unreachable: Error, CustomStringConvertible {
        var description: String
    }

    // TODO(merge): the control-socket address belongs with the shared control protocol.
    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(107).enumerated() { raw[index] = byte }
        }
        return address
    }

    static func request(_ line: String, socket path: String) throws -> Data {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Unreachable(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = Self.address(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = errno
            var hint = "is tram-agent running? (systemctl status tram-agent)"
            if reason == EACCES { hint = "permission denied: run as root or as a member of the agent's group (tram)" }
            if reason == ENOENT { hint = "no socket there: is tram-agent running, and is its control.socket \(path)?" }
            throw Unreachable(description: "cannot reach the agent at \(path): \(String(cString: strerror(reason))); \(hint)")
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            answer.append(contentsOf: chunk[..<count])
        }
        guard !answer.isEmpty else { throw Unreachable(description: "the agent at \(path) closed the connection without an answer") }
        return answer
    }

    static func decode<T: Decodable>(_ type: T.Type, _ line: String, socket: String) throws -> T {
        let data = try request(line, socket: socket)
        if let failure = try? JSONDecoder().decode(AgentError.self, from: data) { throw ValidationError("the agent says: \(failure.error)") }
        return try JSONDecoder().decode(T.self, from: data)
    }

    struct AgentError: Decodable { var error: String }
}

/// The control socket's `status` answer (Sources/TramAgent/ControlProtocol.swift).
struct AgentStatus: Decodable {
    struct Agent: Decodable {
        var version: String
        var pid: Int
        var uptime_ms: Int64
        var config: String
        var gateway: String
        var reloads: Int
        var last_reload_error: String?
        var alive: Bool
    }

    struct Clock: Decodable {
        var synchronised: Bool
        var stepped: Bool
    }

    struct PointValue: Decodable {
        var name: String
        var value: Value?
        var unit: String
        var quality: String
        var time_ms: Int64

        enum Value: Decodable {
            case number(Double)
            case text(String)

            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
            }

            var display: String {
                switch self {
                case .number(let v): v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format3(v))
                case .text(let t): t
                }
            }

            private func format3(_ v: Double) -> String {
                let scaled = (v * 1000).rounded() / 1000
                return "\(scaled)"
            }
        }
    }

    struct Device: Decodable {
        var name: String
        var link: String
        var unit: Int
        var health: String
        var last_error: String?
        var latency_ms: Double
        var cycles: Int
        var failed_cycles: Int
        var poll_interval_ms: Int64
        var points: [PointValue]
    }

    struct Tally: Decodable {
        var readings: Int
        var batches: Int
    }

    struct Spool: Decodable {
        var directory: String
        var disk_bytes: Int
        var max_bytes: Int
        var segments: Int
        var oldest_buffered_ms: Int64?
        var held_in_memory: Int
        var appended: Tally
        var delivered: Tally
        var buffered: Tally
        var dropped: [String: Tally]
    }

    struct Writer: Decodable {
        var readings_produced: Int
        var batches_sealed: Int
        var readings_dropped_queue_full: Int
        var readings_dropped_unencodable: Int
    }

    struct Uplink: Decodable {
        var sink: String
        var url: String
        var state: String
        var problem: String?
        var uploads: Int
        var failed_uploads: Int
        var batches_delivered: Int
        var batches_rejected: Int
        var bytes_on_wire: Int
        var budget_used_today: Int
        var budget_limit: Int?
        var last_delivery_ms: Int64?
    }

    var agent: Agent
    var clock: Clock
    var devices: [Device]
    var writer: Writer
    var spool: Spool
    var uplinks: [Uplink]
}

/// The control socket's `cycles` answer.
struct AgentCycles: Decodable {
    struct Cycle: Decodable {
        var device: String
        var health: String
        var points: [AgentStatus.PointValue]
    }

    var cursor: Int
    var missed: Int
    var cycles: [Cycle]
}
