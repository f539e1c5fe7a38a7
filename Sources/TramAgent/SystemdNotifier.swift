import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd how the agent is doing, over the `sd_notify` datagram protocol, without linking libsystemd.
///
/// systemd passes `NOTIFY_SOCKET` (a file system path, or `@name` for an abstract socket) to a service with
/// `Type=notify`; each message is one `AF_UNIX` datagram of newline-separated `KEY=value` assignments. Outside
/// systemd (no `NOTIFY_SOCKET`, or an address family this does not speak, such as `vsock:`) every call is a
/// no-op that returns `false`, so the agent calls it unconditionally.
///
/// The watchdog interval is half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises, so one late ping
/// never costs a restart. `WATCHDOG_PID`, when set, names the process the watchdog is meant for: the
/// interval is only reported if it is this one, so a child that inherited the environment stays quiet.
///
/// Sending opens a socket per message, as libsystemd does: messages are rare (a watchdog ping every few
/// seconds), the notifier keeps no state, and any thread may call it. `sendto` on a datagram socket does
/// not block on a live systemd, so calling it from a Swift task is fine.
public struct SystemdNotifier: Sendable {
    /// Where the datagrams go: `sockaddr_un.sun_path` bytes (a leading NUL for an abstract name), or nil.
    private let address: [UInt8]?
    /// How often to send `WATCHDOG=1`, or nil when systemd does not watch this process.
    public let watchdogInterval: Duration?

    /// Whether there is a notify socket to talk to.
    public var isEnabled: Bool { address != nil }

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from this process's environment.
    public init() {
        self.init(environment: Self.processEnvironment(), processID: getpid())
    }

    /// - Parameters:
    ///   - environment: the variables systemd set (tests pass their own instead of calling `setenv`).
    ///   - processID: this process's id, compared with `WATCHDOG_PID`.
    public init(environment: [String: String], processID: pid_t = getpid()) {
        address = environment["NOTIFY_SOCKET"].flatMap(Self.socketAddress)
        watchdogInterval = Self.watchdogInterval(environment: environment, processID: processID)
    }

    /// The interval at which to ping: half of `WATCHDOG_USEC`, if it is meant for `processID`.
    static func watchdogInterval(environment: [String: String], processID: pid_t) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else {
            return nil
        }
        if let owner = environment["WATCHDOG_PID"] {
            guard let pid = pid_t(owner), pid == processID else { return nil }
        }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    /// The `sun_path` bytes for a `NOTIFY_SOCKET` value: an absolute path, or `@name` for the abstract namespace.
    static func socketAddress(_ value: String) -> [UInt8]? {
        var bytes = Array(value.utf8)
        switch bytes.first {
        case UInt8(ascii: "/"): break
        case UInt8(ascii: "@"): bytes[0] = 0
        default: return nil  // empty, relative, or `vsock:`: not a socket this speaks
        }
        guard bytes.count >= 2, bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return nil }
        return bytes
    }

    // MARK: The messages

    /// Start-up (or a reload) is finished: systemd moves the unit to `active` and starts the watchdog.
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send(["READY=1"] + Self.statusLine(status))
    }

    /// A line of free text `systemctl status` shows.
    @discardableResult
    public func status(_ text: String) -> Bool {
        send(Self.statusLine(text))
    }

    /// Every stage is alive: resets the watchdog timer. Send it every `watchdogInterval`.
    @discardableResult
    public func watchdog() -> Bool {
        send(["WATCHDOG=1"])
    }

    /// Shutdown has begun; systemd waits for the exit rather than counting it as a crash.
    @discardableResult
    public func stopping(status: String? = nil) -> Bool {
        send(["STOPPING=1"] + Self.statusLine(status))
    }

    /// A reload has begun; send `ready()` when it is done. systemd 253 and later (`Type=notify-reload`) need
    /// `MONOTONIC_USEC` beside `RELOADING=1` to tell this reload from an earlier one, so it is always sent.
    @discardableResult
    public func reloading(status: String? = nil) -> Bool {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"] + Self.statusLine(status))
    }

    /// Asks for more time than `TimeoutStartSec`/`TimeoutStopSec` (or the watchdog) allows, counted from now:
    /// for a start-up that replays a long spool, or a shutdown that syncs a large one.
    @discardableResult
    public func extendTimeout(by duration: Duration) -> Bool {
        send(["EXTEND_TIMEOUT_USEC=\(max(0, duration.microseconds))"])
    }

    /// Sends one datagram of `assignments`, one per line. Returns false when not under systemd or when the
    /// send failed (systemd gone, a full socket buffer): a notification is advice, never a reason to stop.
    @discardableResult
    public func send(_ assignments: [String]) -> Bool {
        guard let address, !assignments.isEmpty else { return false }
        let message = Array(assignments.joined(separator: "\n").utf8)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }

        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &target.sun_path) { path in
            path.copyBytes(from: address)  // zero-filled after: a path ends with NUL, an abstract name needs none
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        // An abstract name is exactly its bytes long; a path includes its terminating NUL.
        let length = socklen_t(pathOffset + address.count + (address[0] == 0 ? 0 : 1))
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        return sent == message.count
    }

    // MARK: Helpers

    private static func statusLine(_ status: String?) -> [String] {
        // A newline would start a new assignment: a status is one line.
        guard let status else { return [] }
        return ["STATUS=" + String(status.map { $0.isNewline ? " " : $0 })]
    }

    private static func monotonicMicroseconds() -> UInt64 { TramClock.system.monotonicNanoseconds() / 1000 }

    private static func processEnvironment() -> [String: String] {
        var environment: [String: String] = [:]
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return environment
    }
}
