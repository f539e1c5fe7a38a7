import Foundation
import Testing
@testable import TramAgent

/// A real `AF_UNIX` datagram socket standing in for systemd's notify socket.
private final class NotifySocket {
    let fd: Int32
    /// What to put in `NOTIFY_SOCKET`: a path, or `@name` for an abstract socket.
    let address: String
    private let path: String?

    /// Binds a socket in a fresh temporary directory (or, with `abstract`, under a unique abstract name).
    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        let unique = "tram-notify-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        var pathBytes: [UInt8]
        if abstract {
            address = "@" + unique
            path = nil
            pathBytes = [0] + Array(unique.utf8)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(unique).path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            address = directory + "/notify"
            path = address
            pathBytes = Array(address.utf8) + [0]
        }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + pathBytes.count)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
        // A datagram not there within 2 s is a failure, not a hang.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        if let path {
            unlink(path)
            rmdir((path as NSString).deletingLastPathComponent)
        }
    }

    /// The next datagram, as text (nil if none arrived within the timeout).
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

@Suite("SystemdNotifier")
struct SystemdNotifierTests {
    @Test("sends every message, to a path or an abstract socket", arguments: [false, true])
    func messages(abstract: Bool) throws {
        let socket = try NotifySocket(abstract: abstract)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        #expect(notifier.isEnabled)

        #expect(notifier.ready(status: "polling 3 devices"))
        #expect(socket.receive() == "READY=1\nSTATUS=polling 3 devices")
        #expect(notifier.watchdog())
        #expect(socket.receive() == "WATCHDOG=1")
        #expect(notifier.status("spool 12% full\nuplink down"))
        #expect(socket.receive() == "STATUS=spool 12% full uplink down")
        #expect(notifier.extendTimeout(by: .milliseconds(2500)))
        #expect(socket.receive() == "EXTEND_TIMEOUT_USEC=2500000")
        #expect(notifier.stopping())
        #expect(socket.receive() == "STOPPING=1")
    }

    @Test("RELOADING=1 carries MONOTONIC_USEC read from CLOCK_MONOTONIC")
    func reloading() throws {
        let socket = try NotifySocket(abstract: true)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        var before = timespec()
        clock_gettime(CLOCK_MONOTONIC, &before)
        #expect(notifier.reloading(status: "reloading agent.yaml"))
        var after = timespec()
        clock_gettime(CLOCK_MONOTONIC, &after)

        let lines = try #require(socket.receive()).split(separator: "\n").map(String.init)
        #expect(lines.first == "RELOADING=1")
        #expect(lines.last == "STATUS=reloading agent.yaml")
        let stamp = try #require(lines.first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap { UInt64($0.dropFirst(15)) })
        let microseconds = { (t: timespec) in UInt64(t.tv_sec) * 1_000_000 + UInt64(t.tv_nsec) / 1000 }
        #expect(stamp >= microseconds(before) && stamp <= microseconds(after))
    }

    @Test("without NOTIFY_SOCKET (or with one it cannot speak) every call is a no-op")
    func disabled() {
        for environment in [
            [:], ["NOTIFY_SOCKET": ""], ["NOTIFY_SOCKET": "vsock:2:1234"], ["NOTIFY_SOCKET": "relative/path"],
        ] {
            let notifier = SystemdNotifier(environment: environment)
            #expect(!notifier.isEnabled)
            #expect(!notifier.ready())
            #expect(!notifier.watchdog())
        }
    }

    @Test("a socket nobody listens on: the send fails, quietly")
    func nobodyListening() throws {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@tram-notify-nobody-\(getpid())"])
        #expect(notifier.isEnabled)
        #expect(!notifier.ready())
    }

    @Test("the watchdog interval is half of WATCHDOG_USEC, and only for the process WATCHDOG_PID names")
    func watchdogInterval() throws {
        let pid: pid_t = 4242
        let interval = { (environment: [String: String]) in
            SystemdNotifier(environment: environment, processID: pid).watchdogInterval
        }
        #expect(interval(["WATCHDOG_USEC": "30000000"]) == .seconds(15))
        #expect(interval(["WATCHDOG_USEC": "3000001", "WATCHDOG_PID": "4242"]) == .microseconds(1_500_000))
        #expect(interval(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "0"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "soon"]) == nil)
        #expect(interval([:]) == nil)
        // The real process id by default.
        #expect(
            SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid())"]).watchdogInterval
                == .seconds(1))
    }
}
