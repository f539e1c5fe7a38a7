/// Why a frame could not be decoded. The decoder never traps: every malformed input ends here.
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(needed: Int, at: Int)
    case badMagic
    case unsupportedVersion(UInt8)
    case unknownFrameKind(UInt8)
    case checksumMismatch(expected: UInt32, found: UInt32)
    case varintTooLong(at: Int)
    case invalid(String)
    case bufferFull(capacity: Int)

    public var description: String {
        switch self {
        case .truncated(let needed, let at): "truncated frame: \(needed) more byte(s) needed at offset \(at)"
        case .badMagic: "not a Tram frame (bad magic)"
        case .unsupportedVersion(let v): "wire format version \(v) is not supported by this build"
        case .unknownFrameKind(let k): "unknown frame kind \(k)"
        case .checksumMismatch(let e, let f):
            "checksum mismatch: frame says 0x\(String(e, radix: 16)), bytes give 0x\(String(f, radix: 16))"
        case .varintTooLong(let at): "varint longer than 10 bytes at offset \(at)"
        case .invalid(let why): "invalid frame: \(why)"
        case .bufferFull(let capacity):
            "encoder buffer full (\(capacity) bytes): seal the batch earlier or give a larger buffer"
        }
    }
}
