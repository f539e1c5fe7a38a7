/// Reads wire primitives with a bounds check on every byte.
public struct WireReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func byte() throws(WireError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(needed: 1, at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func uvarint() throws(WireError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63, b > 1 { throw .varintTooLong(at: start) }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw .varintTooLong(at: start) }
        }
    }

    public mutating func svarint() throws(WireError) -> Int64 {
        let raw = try uvarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A count that must fit what is left of the input (each counted item takes at least `minimumSize` bytes),
    /// so a hostile count cannot make the decoder reserve gigabytes.
    public mutating func count(minimumSize: Int = 1) throws(WireError) -> Int {
        let value = try uvarint()
        guard value <= UInt64(remaining / max(1, minimumSize)) else {
            throw .invalid("count \(value) at offset \(offset) exceeds the bytes left")
        }
        return Int(value)
    }

    public mutating func littleEndian32() throws(WireError) -> UInt32 { try littleEndian(UInt32.self) }

    public mutating func littleEndian64() throws(WireError) -> UInt64 { try littleEndian(UInt64.self) }

    private mutating func littleEndian<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(needed: size - remaining, at: offset) }
        var value: T = 0
        for i in 0..<size { value |= T(bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }

    /// The next `length` bytes as a reader of their own (offsets stay those of the whole input), and moves past them.
    public mutating func section(length: Int) throws(WireError) -> WireReader {
        guard length <= remaining else { throw .truncated(needed: length - remaining, at: offset) }
        let section = WireReader(UnsafeRawBufferPointer(rebasing: bytes[..<(offset + length)]), offset: offset)
        offset += length
        return section
    }

    public mutating func string() throws(WireError) -> String {
        let length = try count()
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw .invalid("string at offset \(offset) is not UTF-8")
        }
        offset += length
        return text
    }
}
