import SystemPackage
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// Appends records to one segment file.
///
/// Each append is one `writev` of the record header and the payload: the batch
/// reaches the kernel at once, never held in a user-space buffer. `sync()` makes
/// what was appended durable (fdatasync); the spool decides how often.
public final class SegmentWriter {
    public let path: FilePath
    public let segmentID: UInt64
    public private(set) var size: Int
    public private(set) var records = 0
    /// Bytes known durable: the size at the last successful sync.
    public private(set) var syncedSize = 0
    private let file: FileDescriptor

    /// Creates a new segment, writes and syncs its header, and syncs the directory so the file survives a power cut.
    /// With `syncing: false` the caller syncs the file and the directory later (the spool's group commit).
    public init(
        directory: FilePath, id: UInt64, createdMilliseconds: Int64, name: String? = nil,
        syncDirectory: Bool = true, syncing: Bool = true
    ) throws(Errno) {
        path = directory.appending(name ?? SegmentFormat.fileName(id))
        segmentID = id
        do {
            file = try FileDescriptor.open(
                path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead])
        } catch {
            throw error as? Errno ?? .ioError
        }
        let header = SegmentFormat.encodeHeader(id: id, createdMilliseconds: createdMilliseconds)
        do {
            _ = try file.writeAll(header)
        } catch {
            try? file.close()
            throw error as? Errno ?? .ioError
        }
        size = header.count
        guard syncing else { return }
        try sync()
        if syncDirectory { try Self.syncDirectory(directory) }
    }

    /// Reopens an existing, already recovered segment for appending at `validSize` (after a scan).
    public init(reopening path: FilePath, id: UInt64, validSize: Int, records: Int) throws(Errno) {
        self.path = path
        segmentID = id
        size = validSize
        syncedSize = validSize
        self.records = records
        do {
            file = try FileDescriptor.open(path, .readWrite, options: [.closeOnExec])
            try file.resize(to: Int64(validSize))
            _ = try file.seek(offset: Int64(validSize), from: .start)
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    deinit { try? file.close() }

    /// Appends one record. On a short write (a full disk) the partial record is cut off again,
    /// so the segment never holds half a record that a later append would bury.
    public func append(_ payload: UnsafeRawBufferPointer) throws(Errno) {
        try append(prefix: UnsafeRawBufferPointer(start: nil, count: 0), payload)
    }

    /// Appends one record whose payload is `prefix` followed by `payload`, in one `writev`.
    public func append(prefix: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer) throws(Errno) {
        let count = prefix.count + payload.count
        guard count <= SegmentFormat.maximumRecord else { throw .fileTooLarge }
        let length = UInt32(count)
        var lengthBytes = length.littleEndian
        var crc = withUnsafeBytes(of: &lengthBytes) { CRC32C.extend(0, $0) }
        crc = CRC32C.extend(CRC32C.extend(crc, prefix), payload)
        var header = (SegmentFormat.recordSync.littleEndian, length.littleEndian, crc.littleEndian)
        let total = SegmentFormat.recordHeaderSize + count
        // The three iovecs live on the stack: an append allocates nothing.
        let written: Int = withUnsafeBytes(of: &header) { head in
            withUnsafeTemporaryAllocation(of: iovec.self, capacity: 3) { vectors in
                vectors[0] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress),
                    iov_len: SegmentFormat.recordHeaderSize)
                vectors[1] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: prefix.baseAddress), iov_len: prefix.count)
                vectors[2] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress), iov_len: payload.count)
                return writev(file.rawValue, vectors.baseAddress, 3)
            }
        }
        guard written == total else {
            let error = written < 0 ? Errno(rawValue: errno) : Errno.noSpace
            // Cut the partial record off and put the file offset back, so nothing is left half-written.
            try? file.resize(to: Int64(size))
            _ = try? file.seek(offset: Int64(size), from: .start)
            throw error
        }
        size += total
        records += 1
    }

    /// Makes every appended record durable.
    public func sync() throws(Errno) {
        guard fdatasync(file.rawValue) == 0 else { throw Errno(rawValue: errno) }
        syncedSize = size
    }

    static func syncDirectory(_ directory: FilePath) throws(Errno) {
        let fd = open(directory.string, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Errno(rawValue: errno) }
    }
}
