import SystemPackage
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// What a scan of one segment found.
public struct SegmentScan: Sendable, Equatable {
    public var header: SegmentFormat.Header
    /// Offsets and lengths of every valid record's payload, in file order.
    public var records: [(offset: Int, length: Int)]
    /// Where valid data ends: everything after is a torn tail (a record cut short by a crash).
    public var validSize: Int
    /// Bytes after `validSize`.
    public var tornBytes: Int
    /// Damaged regions between valid records, skipped: (offset, bytes).
    public var corrupt: [(offset: Int, length: Int)]

    public static func == (a: SegmentScan, b: SegmentScan) -> Bool {
        a.header == b.header && a.validSize == b.validSize && a.tornBytes == b.tornBytes
            && a.records.elementsEqual(b.records, by: { $0 == $1 })
            && a.corrupt.elementsEqual(b.corrupt, by: { $0 == $1 })
    }
}

/// Reads a segment and sorts its bytes into valid records, corrupt regions and a torn tail.
///
/// A region that fails its checks is *corrupt* if a valid record follows it (the
/// scanner finds it by its sync word and checksum) and *torn* if nothing valid does.
public enum SegmentScanner {
    public static func scan(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentScan, SegmentProblem> {
        let header: SegmentFormat.Header
        switch SegmentFormat.decodeHeader(bytes) {
        case .failure(let problem): return .failure(problem)
        case .success(let decoded): header = decoded
        }
        var records: [(Int, Int)] = []
        var corrupt: [(Int, Int)] = []
        var position = SegmentFormat.headerSize
        while position < bytes.count {
            if let length = validRecord(bytes, at: position) {
                records.append((position + SegmentFormat.recordHeaderSize, length))
                position += SegmentFormat.recordHeaderSize + length
                continue
            }
            // Damage: look for the next valid record. None means the rest is a torn tail.
            guard let next = nextValidRecord(bytes, after: position) else { break }
            corrupt.append((position, next - position))
            position = next
        }
        // The loop stops at the end of the bytes, or where a torn tail begins.
        let validSize = min(position, bytes.count)
        return .success(
            SegmentScan(
                header: header, records: records, validSize: validSize,
                tornBytes: bytes.count - validSize, corrupt: corrupt))
    }

    /// The payload length of a valid record at `offset`, or nil.
    static func validRecord(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int? {
        guard bytes.count - offset >= SegmentFormat.recordHeaderSize,
            UInt32(truncatingIfNeeded: SegmentFormat.read(bytes, offset, 4)) == SegmentFormat.recordSync
        else { return nil }
        let length = Int(SegmentFormat.read(bytes, offset + 4, 4))
        guard length <= SegmentFormat.maximumRecord, length <= bytes.count - offset - SegmentFormat.recordHeaderSize
        else { return nil }
        let crc = UInt32(truncatingIfNeeded: SegmentFormat.read(bytes, offset + 8, 4))
        let start = offset + SegmentFormat.recordHeaderSize
        let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<start + length])
        return SegmentFormat.recordChecksum(length: UInt32(length), payload: payload) == crc ? length : nil
    }

    static func nextValidRecord(_ bytes: UnsafeRawBufferPointer, after offset: Int) -> Int? {
        var candidate = offset + 1
        while candidate + SegmentFormat.recordHeaderSize <= bytes.count {
            if bytes[candidate] == 0x54, validRecord(bytes, at: candidate) != nil { return candidate }
            candidate += 1
        }
        return nil
    }

    /// Scans a segment file and cuts off its torn tail (then syncs), so appends can resume after it.
    public static func recover(_ path: FilePath) throws(Errno) -> Result<SegmentScan, SegmentProblem> {
        var bytes: [UInt8] = []
        return try recover(path, contents: &bytes)
    }

    /// As `recover(_:)`, and hands back the file's bytes (before truncation) for the caller to read records from.
    /// With `truncatingTornTail: false` it only reads (for inspecting a spool another process owns).
    public static func recover(_ path: FilePath, contents bytes: inout [UInt8], truncatingTornTail: Bool = true)
        throws(Errno) -> Result<SegmentScan, SegmentProblem>
    {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, truncatingTornTail ? .readWrite : .readOnly, options: [.closeOnExec])
        } catch {
            throw error as? Errno ?? .ioError
        }
        defer { try? file.close() }
        bytes.removeAll(keepingCapacity: true)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count: Int
            do { count = try chunk.withUnsafeMutableBytes { try file.read(into: $0) } } catch {
                throw error as? Errno ?? .ioError
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        let result = bytes.withUnsafeBytes { scan($0) }
        if truncatingTornTail, case .success(let scan) = result, scan.tornBytes > 0 {
            do { try file.resize(to: Int64(scan.validSize)) } catch { throw error as? Errno ?? .ioError }
            guard fdatasync(file.rawValue) == 0 else { throw Errno(rawValue: errno) }
        }
        return result
    }
}
