import Synchronization
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// Held from creating a pipe until its ends are close-on-exec and the child is spawned, so a
/// child spawned by a test running in parallel never inherits another child's pipe (which
/// would keep that pipe open after its own child died).
private let spawnLock = Mutex(())

/// A process started with `posix_spawn`, its stdout on a pipe that the test reads line by line.
///
/// Tests that kill processes need more than `Foundation.Process` offers (and the spool's
/// tests avoid Foundation): SIGKILL at a chosen moment, the exit status, and every line the
/// child managed to write before it died.
final class ChildProcess {
    let pid: pid_t
    private let output: Int32
    private var pending: [UInt8] = []
    private var reachedEnd = false
    /// Complete lines read so far, without their newlines.
    private(set) var lines: [String] = []
    /// The raw wait status once reaped.
    private(set) var status: Int32?

    /// Starts `executable` with stdin and stderr on /dev/null and stdout on a pipe.
    init(_ executable: String, _ arguments: [String]) throws(ChildProcessError) {
        let spawned: Result<(pid_t, Int32), ChildProcessError> = spawnLock.withLock { _ in
            Self.spawn(executable, arguments)
        }
        (pid, output) = try spawned.get()
    }

    private static func spawn(_ executable: String, _ arguments: [String]) -> Result<(pid_t, Int32), ChildProcessError>
    {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return .failure(.spawn("pipe: errno \(errno)")) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(ends[1])
        guard result == 0 else {
            close(ends[0])
            return .failure(.spawn("posix_spawn \(executable): errno \(result)"))
        }
        return .success((child, ends[0]))
    }

    deinit {
        if status == nil { kill(pid, SIGKILL); _ = reap() }
        close(output)
    }

    /// Reads until at least `count` lines have arrived, the pipe ends, or `timeoutMilliseconds` pass.
    /// True when `count` lines are there.
    func readLines(atLeast count: Int, timeoutMilliseconds: Int32) -> Bool {
        let deadline = Self.nowMilliseconds() + Int64(timeoutMilliseconds)
        while lines.count < count && !reachedEnd {
            let left = deadline - Self.nowMilliseconds()
            guard left > 0 else { return false }
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(left))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return false }
            readOnce()
        }
        return lines.count >= count
    }

    /// Sends SIGKILL, reaps the child and reads whatever it wrote before it died.
    func killAndCollect() {
        kill(pid, SIGKILL)
        _ = reap()
        while !reachedEnd { readOnce() }
    }

    /// Reads to the end of the child's output, then reaps it.
    func waitForExit() {
        while !reachedEnd { readOnce() }
        _ = reap()
    }

    /// The signal that ended the child, if one did.
    var terminatingSignal: Int32? {
        guard let status, status & 0x7F != 0, status & 0x7F != 0x7F else { return nil }
        return status & 0x7F
    }

    /// The exit code, if the child exited by itself.
    var exitCode: Int32? {
        guard let status, status & 0x7F == 0 else { return nil }
        return (status >> 8) & 0xFF
    }

    private func reap() -> Int32? {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            guard errno == EINTR else { return nil }
        }
        status = raw
        return raw
    }

    private func readOnce() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = read(output, &chunk, chunk.count)
        if count < 0 && errno == EINTR { return }
        guard count > 0 else { reachedEnd = true; return }
        pending += chunk[..<count]
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: pending[..<newline], as: UTF8.self))
            pending.removeSubrange(...newline)
        }
    }

    private static func nowMilliseconds() -> Int64 { TramClock.system.monotonicMilliseconds() }

    /// Finds an executable product built next to the test bundle (`.build/debug/<name>`):
    /// beside the running binary, or a few directories up (macOS nests the bundle deeper).
    static func locateProduct(_ name: String) -> String? {
        var starts: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            starts.append(String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        if let first = CommandLine.arguments.first { starts.append(first) }
        for start in starts {
            var directory = start
            for _ in 0..<4 {
                guard let slash = directory.lastIndex(of: "/") else { break }
                directory = String(directory[..<slash])
                let candidate = directory + "/" + name
                if access(candidate, X_OK) == 0 { return candidate }
            }
        }
        return nil
    }

    /// Runs a command to completion; its exit code (or 128 + signal).
    static func run(_ executable: String, _ arguments: [String]) throws(ChildProcessError) -> Int32 {
        let child = try ChildProcess(executable, arguments)
        child.waitForExit()
        return child.exitCode ?? 128 + (child.terminatingSignal ?? 0)
    }
}

enum ChildProcessError: Error, CustomStringConvertible {
    case spawn(String)
    var description: String {
        switch self {
        case .spawn(let why): why
        }
    }
}
