import TramSchema

/// The on-disk layout of one spool segment (format version 1).
///
///     header (32 bytes): "TRAMSPOL" | version u16 LE | reserved u16 | segment id u64 LE |
///                        created wall ms i64 LE | CRC-32C of the preceding 28 bytes u32 LE
///     records:           sync "TRSR" | payload length u32 LE | CRC-32C(length bytes + payload) u32 LE | payload
///
/// A record is one sealed batch and never crosses segments. The sync word lets a
/// scanner find the next record after a corrupt one; the CRC covers the length, so
/// a flipped length cannot pass for a valid record. 12 bytes a record: 0.3% of a
/// 4 KB batch (a 60 s batch of 100 points).
public enum SegmentFormat {
    public static let magic: [UInt8] = Array("TRAMSPOL".utf8)
    public static let version: UInt16 = 1
    public static let headerSize = 32
    public static let recordSync: UInt32 = 0x5253_5254  // "TRSR" little-endian
    public static let recordHeaderSize = 12
    /// A record larger than this is not a batch but corruption.
    public static let maximumRecord = 64 << 20

    public struct Header: Sendable, Equatable {
        public var version: UInt16
        public var segmentID: UInt64
        public var createdMilliseconds: Int64
    }

    public static func fileName(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + ".seg"
    }

    static func encodeHeader(id: UInt64, createdMilliseconds: Int64) -> [UInt8] {
        var bytes = magic
        bytes +=
            littleEndian(UInt64(version), 2) + [0, 0] + littleEndian(id, 8)
            + littleEndian(UInt64(bitPattern: createdMilliseconds), 8)
        bytes += littleEndian(UInt64(CRC32C.checksum(bytes)), 4)
        return bytes
    }

    /// Reads a header: the header, or why the file is not a segment this build can read.
    static func decodeHeader(_ bytes: UnsafeRawBufferPointer) -> Result<Header, SegmentProblem> {
        guard bytes.count >= headerSize else {
            return .failure(.badHeader("\(bytes.count) bytes, shorter than a header"))
        }
        guard Array(bytes[0..<8]) == magic else { return .failure(.badHeader("not a Tram spool segment (magic)")) }
        let crc = UInt32(truncatingIfNeeded: read(bytes, 28, 4))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<28])) == crc else {
            return .failure(.badHeader("header checksum mismatch"))
        }
        let version = UInt16(truncatingIfNeeded: read(bytes, 8, 2))
        guard version == self.version else { return .failure(.unknownVersion(version)) }
        return .success(
            Header(
                version: version, segmentID: read(bytes, 12, 8),
                createdMilliseconds: Int64(bitPattern: read(bytes, 20, 8))))
    }

    static func littleEndian(_ value: UInt64, _ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
    }

    static func read(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ count: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(bytes[offset + i]) << UInt64(8 * i) }
        return value
    }

    /// CRC-32C over a record's length field and payload.
    static func recordChecksum(length: UInt32, payload: UnsafeRawBufferPointer) -> UInt32 {
        var lengthBytes = length.littleEndian
        let prefix = withUnsafeBytes(of: &lengthBytes) { CRC32C.extend(0, $0) }
        return CRC32C.extend(prefix, payload)
    }
}

/// Why a segment (or part of one) cannot be used.
public enum SegmentProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case badHeader(String)
    /// Written by another build: kept and reported, never skipped or deleted.
    case unknownVersion(UInt16)

    public var description: String {
        switch self {
        case .badHeader(let why): "bad segment header: \(why)"
        case .unknownVersion(let v): "segment format version \(v) is not known to this build; kept as it is"
        }
    }
}
