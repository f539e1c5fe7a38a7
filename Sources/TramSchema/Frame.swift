/// The envelope every frame shares:
///
///     "TR" | version u8 | kind u8 | flags u8 | payload length u32 LE | payload | CRC-32C u32 LE
///
/// The CRC covers every byte before it. The length is fixed-width so the
/// encoder can back-patch it without moving the payload.
public enum Frame {
    public enum Kind: UInt8, Sendable {
        case dictionary = 1
        case batch = 2
    }

    public static let magic: (UInt8, UInt8) = (0x54, 0x52)
    /// Flags bit 0: the payload is zstd-compressed (TramCompression undoes it).
    public static let compressedFlag: UInt8 = 1
    /// The version an encoder writes unless a frame needs a later one's rules (a frame is as old as it can be, so a
    /// version-1 reader takes every frame that does not need more).
    public static let version: UInt8 = 1
    /// The versions this build reads and writes (docs/wire-format.md: "Version 2").
    public static let versions: ClosedRange<UInt8> = 1...2
    /// The envelope's version byte.
    public static let versionOffset = 2
    public static let headerSize = 9
    public static let trailerSize = 4

    /// Writes a header for `payloadLength` bytes at the start of `buffer`.
    public static func writeHeader(
        kind: Kind, flags: UInt8, payloadLength: Int, into buffer: UnsafeMutableRawBufferPointer,
        version: UInt8 = Frame.version
    ) {
        buffer[0] = magic.0
        buffer[1] = magic.1
        buffer[2] = version
        buffer[3] = kind.rawValue
        buffer[4] = flags
        for i in 0..<4 { buffer[5 + i] = UInt8(truncatingIfNeeded: UInt32(payloadLength) >> UInt32(8 * i)) }
    }

    /// Appends the CRC of `buffer[0..<length]` after it; returns the frame's size.
    public static func writeTrailer(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int {
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[..<length]))
        for i in 0..<4 { buffer[length + i] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * i)) }
        return length + trailerSize
    }

    public static func wrap(kind: Kind, payload: [UInt8], flags: UInt8 = 0, version: UInt8 = Frame.version) -> [UInt8] {
        var frame: [UInt8] = [magic.0, magic.1, version, kind.rawValue, flags]
        let length = UInt32(payload.count)
        for shift in stride(from: 0, to: 32, by: 8) { frame.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        frame += payload
        let crc = CRC32C.checksum(frame)
        for shift in stride(from: 0, to: 32, by: 8) { frame.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        return frame
    }

    /// The version byte of the frame at the start of `bytes` (nil: too short to have one), without checking it.
    public static func peekVersion(_ bytes: some Collection<UInt8>) -> UInt8? {
        bytes.count > versionOffset ? bytes[bytes.index(bytes.startIndex, offsetBy: versionOffset)] : nil
    }

    /// Checks the envelope and returns the frame's kind, flags, payload, the frame's total size, and its version.
    public static func open(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> (
        kind: Kind, flags: UInt8, payload: UnsafeRawBufferPointer, size: Int, version: UInt8
    ) {
        guard bytes.count >= headerSize + trailerSize else {
            throw .truncated(needed: headerSize + trailerSize - bytes.count, at: bytes.count)
        }
        guard bytes[0] == magic.0, bytes[1] == magic.1 else { throw .badMagic }
        guard versions.contains(bytes[2]) else { throw .unsupportedVersion(bytes[2]) }
        guard let kind = Kind(rawValue: bytes[3]) else { throw .unknownFrameKind(bytes[3]) }
        guard bytes[4] & ~compressedFlag == 0 else {
            throw .invalid("flags 0x\(String(bytes[4], radix: 16)) are not defined in version \(bytes[2])")
        }
        var reader = WireReader(bytes, offset: 5)
        let length = Int(try reader.littleEndian32())
        guard length <= bytes.count - headerSize - trailerSize else {
            throw .truncated(needed: length - (bytes.count - headerSize - trailerSize), at: bytes.count)
        }
        let end = headerSize + length
        let expected = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[..<end]))
        var trailer = WireReader(bytes, offset: end)
        let found = try trailer.littleEndian32()
        guard expected == found else { throw .checksumMismatch(expected: found, found: expected) }
        return (kind, bytes[4], UnsafeRawBufferPointer(rebasing: bytes[headerSize..<end]), end + trailerSize, bytes[2])
    }
}
