#if canImport(Glibc)
import Glibc
#endif

/// Child processes for the uplink benchmark: the real tram-collector, `curl` and `sqlite3`, spawned with
/// posix_spawn so that each one's CPU time can be read (/proc for a running collector, wait4 for a curl).
enum UplinkProcesses {
    /// Starts `path` with `arguments`; stdout to `stdout`, stderr to `stderr` (files, created or truncated).
    static func spawn(_ path: String, _ arguments: [String], stdout: String = "/dev/null", stderr: String = "/dev/null")
        -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard code == 0 else { fail("cannot start \(path): \(String(cString: strerror(code)))") }
        return pid
    }

    /// Waits for a child; its exit status (-1: killed by a signal) and the CPU seconds it used (user + system).
    static func wait(_ pid: pid_t) -> (status: Int32, cpuSeconds: Double) {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { fail("wait4 failed: \(String(cString: strerror(errno)))") }
        }
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
                usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : -1, cpu)
    }

    /// Runs a command to its end; its exit status and stdout (trimmed).
    static func run(_ path: String, _ arguments: [String], scratch: String) -> (status: Int32, output: String) {
        let file = scratch + "/.out"
        let pid = spawn(path, arguments, stdout: file, stderr: file)
        let status = wait(pid).status
        let output = read(file) ?? ""
        unlink(file)
        return (status, trimmed(output))
    }

    /// CPU seconds a running process has used so far (utime + stime from /proc/PID/stat).
    static func cpuSeconds(of pid: pid_t) -> Double {
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return 0 }
        // After "pid (comm)": state is field 3, utime field 14, stime field 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds a running process has used so far in user and in system mode.
    static func cpuSplit(of pid: pid_t) -> (user: Double, system: Double) {
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return (0, 0) }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return (0, 0) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user / ticks, system / ticks)
    }

    /// A running process's I/O so far (/proc/PID/io): bytes and calls of read- and write-like syscalls.
    struct IO {
        var readBytes = 0, writeBytes = 0, readCalls = 0, writeCalls = 0

        static func - (a: IO, b: IO) -> IO {
            IO(
                readBytes: a.readBytes - b.readBytes, writeBytes: a.writeBytes - b.writeBytes,
                readCalls: a.readCalls - b.readCalls, writeCalls: a.writeCalls - b.writeCalls)
        }
    }

    static func io(of pid: pid_t) -> IO {
        var io = IO()
        for line in (read("/proc/\(pid)/io") ?? "").split(separator: "\n") {
            let parts = line.split(separator: ":")
            guard parts.count == 2, let value = Int(parts[1].trimmingPrefix(" ")) else { continue }
            switch parts[0] {
            case "rchar": io.readBytes = value
            case "wchar": io.writeBytes = value
            case "syscr": io.readCalls = value
            case "syscw": io.writeCalls = value
            default: break
            }
        }
        return io
    }

    /// This process's CPU seconds, every thread (CLOCK_PROCESS_CPUTIME_ID).
    static func ownCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { fail("cannot write \(path): errno \(errno)") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { fail("cannot write \(path): errno \(errno)") }
            done += n
        }
    }

    static func trimmed(_ text: String) -> String {
        String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }
}

/// The real tram-collector on loopback with a fresh database in `directory`, one gateway enrolled.
final class CollectorUnderTest {
    let directory: String
    let database: String
    let token: String
    let pid: pid_t
    let port: Int
    let gateway: String

    init(binary: String, directory: String, gateway: String, durability: String) {
        self.directory = directory
        self.gateway = gateway
        database = directory + "/collector.db"
        let enrolled = UplinkProcesses.run(binary, ["gateway", "add", gateway, "--db", database], scratch: directory)
        guard enrolled.status == 0, !enrolled.output.isEmpty, !enrolled.output.contains(" ") else {
            fail("tram-collector gateway add failed (\(enrolled.status)): \(enrolled.output)")
        }
        token = enrolled.output
        let out = directory + "/collector.out"
        pid = UplinkProcesses.spawn(
            binary, ["serve", "--db", database, "--listen", "127.0.0.1:0", "--durability", durability],
            stdout: out, stderr: directory + "/collector.log")
        var found: Int?
        let deadline = WireBenchmark.now() + 30_000_000_000
        while found == nil, WireBenchmark.now() < deadline {
            if let text = UplinkProcesses.read(out),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix("LISTENING ") })
            {
                found = Int(line.split(separator: ":").last ?? "")
            } else {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    fail(
                        "tram-collector serve exited at start: \(UplinkProcesses.read(directory + "/collector.log") ?? "")"
                    )
                }
                usleep(20_000)
            }
        }
        guard let found else { kill(pid, SIGKILL); fail("tram-collector printed no LISTENING line within 30 s") }
        port = found
    }

    var url: String { "http://127.0.0.1:\(port)/v1/ingest" }
    var cpuSeconds: Double { UplinkProcesses.cpuSeconds(of: pid) }
    var cpuSplit: (user: Double, system: Double) { UplinkProcesses.cpuSplit(of: pid) }
    var io: UplinkProcesses.IO { UplinkProcesses.io(of: pid) }

    /// Stops the server (SIGTERM, as systemd would) and waits for it.
    func stop() {
        kill(pid, SIGTERM)
        _ = UplinkProcesses.wait(pid)
    }

    /// One answer from the store through the sqlite3 CLI (after `stop`, or while it serves: WAL readers don't block).
    func query(_ sql: String) -> String {
        let answer = UplinkProcesses.run("/usr/bin/sqlite3", [database, sql], scratch: directory)
        guard answer.status == 0 else { fail("sqlite3 failed on \(database): \(answer.output)") }
        return answer.output
    }
}
