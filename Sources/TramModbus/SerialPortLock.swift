#if canImport(Glibc)
import Glibc
#endif

/// An exclusive, cross-process claim on a serial port, so that tramctl and the
/// agent never talk on one RS-485 bus at once.
///
/// It takes a UUCP-style lock file (`LCK..ttyUSB0` holding the owner's pid) and
/// holds an `flock` on it for as long as the port is open. The flock, not the
/// file's existence, is the lock: a crashed owner releases it with its last
/// descriptor, so a stale file never blocks anyone. `TIOCEXCL` is set on the port
/// as well, for programs that ignore lock files.
public final class SerialPortLock {
    private var descriptor: Int32
    public let path: String

    /// The lock directory: `$TRAM_LOCK_DIR`, else `/run/lock`, else `/tmp`.
    public static var directory: String {
        if let custom = getenv("TRAM_LOCK_DIR") { return String(cString: custom) }
        return access("/run/lock", W_OK) == 0 ? "/run/lock" : "/tmp"
    }

    /// Claims `device`, or throws `.portBusy` naming the process that holds it.
    public init(device: String) throws(ModbusError) {
        let resolved = Self.resolve(device)
        let name = resolved.split(separator: "/").last.map(String.init) ?? "port"
        path = "\(Self.directory)/LCK..\(name)"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .connectFailed(reason: "cannot create lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.holder(of: descriptor)
            close(descriptor)
            throw .portBusy(
                "serial port \(device) is in use by \(holder) (lock \(path)); stop it, or poll through it instead")
        }
        let text = Array(Self.pidLine().utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        if descriptor >= 0 {
            _ = ftruncate(descriptor, 0)
            close(descriptor)
        }
    }

    /// Sets `TIOCEXCL` on an open port: further opens fail with EBUSY (except for root).
    public static func setExclusive(fileDescriptor: Int32) {
        _ = ioctl(fileDescriptor, UInt(TIOCEXCL))
    }

    /// Clears `TIOCEXCL` before the port is closed. The flag belongs to the tty, not to the descriptor: where the
    /// tty outlives the close (a pty whose other end stays open), it would keep refusing the next open, the agent's
    /// own after a reload included, for every user but root.
    public static func clearExclusive(fileDescriptor: Int32) {
        _ = ioctl(fileDescriptor, UInt(TIOCNXCL))
    }

    /// UUCP lock files hold the pid as ten characters and a newline; Tram adds the program name.
    private static func pidLine() -> String {
        let pid = String(getpid())
        return String(repeating: " ", count: max(0, 10 - pid.count)) + pid + "\n" + programName(getpid()) + "\n"
    }

    private static func holder(of descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        let text = count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
        let lines = text.split(separator: "\n")
        guard let pidText = lines.first?.trimmingSpaces, let pid = Int32(pidText) else { return "another process" }
        return "pid \(pid) (\(programName(pid)))"
    }

    private static func programName(_ pid: Int32) -> String {
        let file = open("/proc/\(pid)/comm", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return "unknown program" }
        defer { close(file) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
        guard count > 0 else { return "unknown program" }
        return String(decoding: buffer[..<count], as: UTF8.self).trimmingSpaces
    }

    private static func resolve(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed().drop {
            $0 == " " || $0 == "\n" || $0 == "\t"
        }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}
