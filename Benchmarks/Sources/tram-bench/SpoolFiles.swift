import CSyncCounter
#if canImport(Glibc)
import Glibc
#endif

/// File-system helpers for the spool benchmark (no Foundation: the spool's own world is Glibc).
enum SpoolFiles {
    struct Entry {
        var name: String
        var size: Int
        /// Bytes allocated on disk (st_blocks × 512).
        var allocated: Int
    }

    /// The regular files of a (flat) spool directory.
    static func list(_ directory: String) -> [Entry] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            var info = stat()
            guard name != ".", name != "..", stat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG
            else { continue }
            entries.append(Entry(name: name, size: Int(info.st_size), allocated: Int(info.st_blocks) * 512))
        }
        return entries.sorted { $0.name < $1.name }
    }

    /// Empties and removes a spool directory made by the benchmark.
    static func remove(_ directory: String) {
        for entry in list(directory) { unlink(directory + "/" + entry.name) }
        rmdir(directory)
    }

    /// A fresh, empty directory at `path` (a leftover from an earlier run is removed first).
    static func fresh(_ path: String) -> String {
        remove(path)
        guard mkdir(path, 0o750) == 0 else { fail("cannot create \(path): errno \(errno)") }
        return path
    }

    /// A new directory under /tmp.
    static func temporary() -> String {
        var template = Array("/tmp/tram-spool-bench.XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fail("mkdtemp failed: errno \(errno)")
        }
        return String(cString: made)
    }

    /// Evicts the directory's files from the page cache, so the next open or read comes from the
    /// device: what a gateway sees after a reboot. Only these files, not the whole machine's cache.
    static func evict(_ directory: String) {
        for entry in list(directory) {
            let fd = open(directory + "/" + entry.name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            close(fd)
        }
    }

    /// 512-byte sectors written to a block device so far (/proc/diskstats, field 10), or nil.
    static func sectorsWritten(device: String) -> UInt64? {
        guard let file = fopen("/proc/diskstats", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = line.withUnsafeBufferPointer {
                String(decoding: $0.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if fields.count > 9, fields[2] == device { return UInt64(fields[9]) }
        }
        return nil
    }

    /// fdatasync and fsync calls so far, counted by interposing them in this binary (CSyncCounter).
    static var syncCalls: (fdatasync: UInt64, fsync: UInt64) { (tram_bench_fdatasyncs(), tram_bench_fsyncs()) }
}
