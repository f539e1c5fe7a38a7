import Synchronization
import TramWrite
#if canImport(Glibc)
import Glibc
#endif

/// The write journal: every write attempt's audit line, appended to a file (each line synced to disk: writes are
/// rare, and an audit that a crash can lose is no audit) and the newest kept in memory for `tramctl status`.
///
/// At start the file is cut to its newest ``keptEntries`` lines, so it stays small on a gateway's flash.
final class WriteJournal: Sendable {
    static let keptEntries = 1000
    /// Entries `tramctl status` shows.
    static let shownEntries = 10

    let path: String
    private let recent: Mutex<[String]>

    init(path: String) {
        self.path = path
        let lines = Self.readLines(path)
        let kept = Array(lines.suffix(Self.keptEntries))
        if kept.count < lines.count { Self.rewrite(path, kept) }
        recent = Mutex(Array(kept.suffix(Self.shownEntries)))
    }

    /// The newest entries, oldest first.
    var entries: [String] { recent.withLock { $0 } }

    /// Appends one line; false (and the caller logs it) when the file cannot be written. Blocking: runs on the
    /// control socket's thread, never on the cooperative pool.
    @discardableResult
    func append(_ audit: WriteAudit) -> Bool {
        let line = audit.line
        recent.withLock {
            $0.append(line)
            if $0.count > Self.shownEntries { $0.removeFirst($0.count - Self.shownEntries) }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return written == bytes.count && fdatasync(fd) == 0
    }

    static func readLines(_ path: String) -> [String] {
        guard let file = fopen(path, "r") else { return [] }
        defer { fclose(file) }
        var lines: [String] = []
        var buffer = [CChar](repeating: 0, count: 8192)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(cString: buffer)
            lines.append(line.hasSuffix("\n") ? String(line.dropLast()) : line)
        }
        return lines
    }

    static func rewrite(_ path: String, _ lines: [String]) {
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return }
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fdatasync(fd) == 0
        close(fd)
        if written == bytes.count, synced { rename(temporary, path) } else { unlink(temporary) }
    }
}
