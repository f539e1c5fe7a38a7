import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The ledger on disk: an append-only file of `LedgerEntry` records.
///
/// Each entry is written at once (one `writev`, so it survives `kill -9`) and made
/// durable by `sync()`, which the spool calls at most once per sync interval.
/// An entry that cannot be written (a full disk) waits in memory and goes first next time.
final class LedgerFile {
    static let name = "ledger"
    static let temporaryName = "ledger.tmp"

    let directory: FilePath
    /// Nil for an inspector, which reads the ledger but never writes it.
    private var writer: SegmentWriter?
    private var waiting: [[UInt8]] = []
    private(set) var dirty = false
    private let loadedSize: Int

    var size: Int { writer?.size ?? loadedSize }
    var syncedSize: Int { writer?.syncedSize ?? loadedSize }

    /// Opens the ledger after `load` recovered it, or creates an empty one.
    init(directory: FilePath, existingSize: Int?, records: Int, readOnly: Bool = false) throws(Errno) {
        self.directory = directory
        loadedSize = existingSize ?? 0
        let path = directory.appending(Self.name)
        if readOnly {
            writer = nil
        } else if let existingSize {
            writer = try SegmentWriter(reopening: path, id: 0, validSize: existingSize, records: records)
        } else {
            writer = try SegmentWriter(directory: directory, id: 0, createdMilliseconds: 0, name: Self.name)
        }
    }

    /// Reads every intact entry. A torn tail is cut off; a damaged entry is skipped and counted.
    /// A ledger whose header is unreadable (damaged, or another format version) is renamed aside, kept for a
    /// person to look at, and reported in `problem`; the spool then starts as if the ledger were missing.
    static func load(directory: FilePath, readOnly: Bool = false, problem: inout String?) throws(Errno) -> (
        entries: [LedgerEntry], size: Int, records: Int, damaged: Int
    )? {
        let path = directory.appending(name)
        guard access(path.string, F_OK) == 0 else { return nil }
        var bytes: [UInt8] = []
        let result = try SegmentScanner.recover(path, contents: &bytes, truncatingTornTail: !readOnly)
        let scan: SegmentScan
        switch result {
        case .success(let scanned):
            scan = scanned
        case .failure(let failure):
            if !readOnly { rename(path.string, path.string + ".damaged") }
            problem = "\(failure)"
            return nil
        }
        var entries: [LedgerEntry] = []
        var damaged = scan.corrupt.count
        bytes.withUnsafeBytes { all in
            for record in scan.records {
                if let entry = LedgerEntry.decode(
                    UnsafeRawBufferPointer(rebasing: all[record.offset..<record.offset + record.length]))
                {
                    entries.append(entry)
                } else {
                    damaged += 1
                }
            }
        }
        return (entries, scan.validSize, scan.records.count, damaged)
    }

    func append(_ entry: LedgerEntry) {
        waiting.append(entry.encode())
        flush()
    }

    /// Writes entries that are waiting. Returns false while the disk refuses them.
    @discardableResult
    func flush() -> Bool {
        guard let writer else { return false }
        while let bytes = waiting.first {
            do {
                try bytes.withUnsafeBytes { try writer.append($0) }
            } catch {
                return false
            }
            waiting.removeFirst()
            dirty = true
        }
        return true
    }

    func sync() throws(Errno) {
        guard dirty, let writer else { return }
        try writer.sync()
        dirty = false
    }

    /// Replaces the ledger with `entries` (a compact restatement of the state): write a
    /// temporary file, sync it, rename it over the ledger, sync the directory.
    func rewrite(_ entries: [LedgerEntry]) throws(Errno) {
        guard writer != nil else { return }
        let temporary = directory.appending(Self.temporaryName)
        unlink(temporary.string)
        let fresh = try SegmentWriter(
            directory: directory, id: 0, createdMilliseconds: 0, name: Self.temporaryName, syncDirectory: false)
        for bytes in entries.map({ $0.encode() }) + waiting {
            let failure: Errno? = bytes.withUnsafeBytes { (raw) -> Errno? in
                do { try fresh.append(raw); return nil } catch { return error as? Errno ?? .ioError }
            }
            if let failure { throw failure }
        }
        try fresh.sync()
        guard rename(temporary.string, directory.appending(Self.name).string) == 0 else { throw Errno(rawValue: errno) }
        try SegmentWriter.syncDirectory(directory)
        writer = fresh
        waiting.removeAll()
        dirty = false
    }
}
