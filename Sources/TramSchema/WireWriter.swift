/// Writes wire primitives into a caller-owned buffer. Never allocates; fails with
/// `bufferFull` instead of growing.
public struct WireWriter {
    public let buffer: UnsafeMutableRawBufferPointer
    public private(set) var count = 0
    public private(set) var overflowed = false

    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    @inline(__always)
    public mutating func byte(_ value: UInt8) {
        guard count < buffer.count else { overflowed = true; return }
        buffer[count] = value
        count += 1
    }

    /// Unsigned LEB128.
    @inline(__always)
    public mutating func uvarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            byte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        byte(UInt8(v))
    }

    /// Bytes `uvarint(value)` writes.
    public static func uvarintSize(_ value: UInt64) -> Int {
        var size = 1
        var v = value
        while v >= 0x80 {
            size += 1
            v >>= 7
        }
        return size
    }

    /// Zigzag, then LEB128: small magnitudes of either sign take one byte.
    @inline(__always)
    public mutating func svarint(_ value: Int64) {
        uvarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func littleEndian32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { byte(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    public mutating func littleEndian64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { byte(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            uvarint(UInt64(utf8.count))
            for b in utf8 { byte(b) }
        }
    }

    /// Overwrites bytes already written (for back-patching lengths and checksums).
    public mutating func patch(at offset: Int, _ value: UInt8) {
        buffer[offset] = value
    }

    /// Forgets everything written after `offset` (a group that failed half-way).
    public mutating func rewind(to offset: Int) {
        count = min(offset, count)
        overflowed = false
    }

    public mutating func reset() {
        count = 0
        overflowed = false
    }
}
