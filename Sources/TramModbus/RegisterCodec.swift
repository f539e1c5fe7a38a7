import TramConfig

/// Turns registers or bits, as read, into a point's raw value.
public enum RegisterCodec {
    /// Decodes `point` from `registers`, where `registers[0]` is the register at `base`.
    public static func decode(_ point: Point, registers: UnsafeBufferPointer<UInt16>, base: Int) -> RawValue {
        let at = point.address - base
        switch point.type {
        case .bool:
            return .bool(registers[at] != 0)
        case .bit(let bit):
            return .bool(registers[at] >> UInt16(bit) & 1 == 1)
        case .int16:
            return .int(Int64(Int16(bitPattern: word(registers[at], point.order))))
        case .uint16:
            return .uint(UInt64(word(registers[at], point.order)))
        case .int32:
            return .int(Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: combine(registers, at, 2, point.order)))))
        case .uint32:
            return .uint(combine(registers, at, 2, point.order))
        case .int64:
            return .int(Int64(bitPattern: combine(registers, at, 4, point.order)))
        case .uint64:
            return .uint(combine(registers, at, 4, point.order))
        case .float32:
            return .float32(Float(bitPattern: UInt32(truncatingIfNeeded: combine(registers, at, 2, point.order))))
        case .float64:
            return .float64(Double(bitPattern: combine(registers, at, 4, point.order)))
        case .string(let count):
            return .string(text(registers, at, count, point.order))
        }
    }

    /// The value's bits in the type's width, to compare with sentinels.
    public static func bits(of value: RawValue, type: ValueType) -> UInt64? {
        let width = type.registerCount * 16
        let mask: UInt64 = width >= 64 ? .max : (1 << UInt64(width)) - 1
        switch value {
        case .int(let v): return UInt64(bitPattern: v) & mask
        case .uint(let v): return v & mask
        case .float32(let v): return UInt64(v.bitPattern)
        case .float64(let v): return v.bitPattern
        case .bool, .string: return nil
        }
    }

    /// Whether the device sent one of the point's "not available" markers.
    public static func isNotAvailable(_ value: RawValue, point: Point) -> Bool {
        guard !point.notAvailable.isEmpty else { return false }
        let isNaN: Bool
        switch value {
        case .float32(let v): isNaN = v.isNaN
        case .float64(let v): isNaN = v.isNaN
        default: isNaN = false
        }
        let valueBits = bits(of: value, type: point.type)
        for sentinel in point.notAvailable {
            switch sentinel {
            case .nan where isNaN: return true
            case .bits(let b) where valueBits == b: return true
            default: continue
            }
        }
        return false
    }

    @inline(__always)
    static func word(_ register: UInt16, _ order: WordOrder) -> UInt16 {
        order.swapsBytes ? register.byteSwapped : register
    }

    /// Combines `count` registers into one big-endian integer after undoing the word order.
    @inline(__always)
    static func combine(_ registers: UnsafeBufferPointer<UInt16>, _ at: Int, _ count: Int, _ order: WordOrder) -> UInt64
    {
        var result: UInt64 = 0
        for i in 0..<count {
            let index = order.reversesWords ? at + count - 1 - i : at + i
            result = result << 16 | UInt64(word(registers[index], order))
        }
        return result
    }

    /// Two characters per register, high byte first unless the order swaps bytes;
    /// stops at the first NUL and drops trailing spaces.
    static func text(_ registers: UnsafeBufferPointer<UInt16>, _ at: Int, _ count: Int, _ order: WordOrder) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 2)
        for i in 0..<count {
            let w = word(registers[at + i], order)
            bytes.append(UInt8(w >> 8))
            bytes.append(UInt8(w & 0xFF))
        }
        if let nul = bytes.firstIndex(of: 0) { bytes.removeSubrange(nul...) }
        while let last = bytes.last, last == 0x20 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Encodes a value into registers in the given order: the simulator's half of the codec.
    public static func encode(bits: UInt64, registerCount: Int, order: WordOrder) -> [UInt16] {
        var words = (0..<registerCount).map { i in
            UInt16(truncatingIfNeeded: bits >> UInt64(16 * (registerCount - 1 - i)))
        }
        if order.reversesWords { words.reverse() }
        if order.swapsBytes { words = words.map(\.byteSwapped) }
        return words
    }
}
