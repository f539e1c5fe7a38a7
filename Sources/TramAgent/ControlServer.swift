internal import CLinux
import Logging
import Synchronization
import TramControlProtocol
import TramThreads
#if canImport(Glibc)
import Glibc
#endif

/// The agent's local control socket: one request line in, one JSON answer out, then the connection closes.
///
/// A Unix stream socket, mode 0660, so root and the agent's group (technicians in group `tram`) may ask and
/// nobody else can; each request comes with the client's credentials (writes check them). It runs on its own thread, answers one client at a time, and gives a slow client two
/// seconds, so a stuck `tramctl` cannot wedge it.
public final class ControlServer: @unchecked Sendable {
    public let path: String
    private let listener: Int32
    private let handle: @Sendable (String, ControlPeer?) -> [UInt8]
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private var thread: OwnedThread?

    public enum Failure: Error, CustomStringConvertible {
        case socket(String)
        public var description: String {
            switch self {
            case .socket(let text): text
            }
        }
    }

    /// Binds the socket (replacing a stale one left by a crash, refusing one a live agent answers on).
    public init(
        path: String, logger: Logger, handle: @escaping @Sendable (String, ControlPeer?) -> [UInt8]
    ) throws(Failure) {
        self.path = path
        self.logger = logger
        self.handle = handle
        guard path.utf8.count < 108 else { throw .socket("control socket path too long (at most 107 bytes): \(path)") }
        if Self.isAnswering(path) { throw .socket("another agent answers on \(path)") }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket("socket: \(String(cString: strerror(errno)))") }
        var address = ControlSocketAddress.make(path)
        let previous = umask(0o117)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previous)
        guard bound == 0, listen(fd, 16) == 0 else {
            let text = String(cString: strerror(errno))
            close(fd)
            throw .socket("cannot listen on \(path): \(text) (does its directory exist and belong to the agent?)")
        }
        chmod(path, 0o660)
        listener = fd
    }

    public func start() {
        thread = OwnedThread(name: "tram-control") { [self] in run() }
    }

    public func stop() {
        stopping.store(true, ordering: .releasing)
        thread?.join()
        close(listener)
        unlink(path)
    }

    private func run() {
        while !stopping.load(ordering: .acquiring) {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 250) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            serve(client)
            close(client)
            // An answer is built as a value tree first (TramControlProtocol, then TramJSON): `status` for 15,000
            // points peaks at several MB of small blocks. Freed, they would stay in the arena as RSS for good
            // (+6.6 MB anonymous at 500 devices after one `tramctl status`, measured by agent-footprint.sh); requests
            // come from people, seconds apart, so handing the heap back after each costs nothing that matters.
            FreedMemory.returnToKernel()
        }
    }

    private func serve(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while request.count < 4096, !request.contains(UInt8(ascii: "\n")) {
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            request += chunk[..<count]
        }
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        var answer = handle(line, ControlPeer.of(socket: client))
        answer.append(UInt8(ascii: "\n"))
        var sent = 0
        while sent < answer.count {
            let count = answer[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// The `sockaddr_un` for a socket path (at most 107 bytes); shared with `tramctl`'s client.
    /// Whether something accepts connections on `path` (a live agent, not a stale file).
    static func isAnswering(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = ControlSocketAddress.make(path)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}
