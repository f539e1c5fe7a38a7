/// How a point's registers or bits become a value.
public enum ValueType: Sendable, Hashable, CustomStringConvertible {
    case bool
    case bit(Int)
    case int16, uint16, int32, uint32, int64, uint64
    case float32, float64
    case string(registers: Int)

    /// Registers the value occupies (1 for a bit table point).
    public var registerCount: Int {
        switch self {
        case .bool, .bit, .int16, .uint16: 1
        case .int32, .uint32, .float32: 2
        case .int64, .uint64, .float64: 4
        case .string(let registers): registers
        }
    }

    public var isInteger: Bool {
        switch self {
        case .int16, .uint16, .int32, .uint32, .int64, .uint64: true
        default: false
        }
    }

    public var isSigned: Bool {
        switch self {
        case .int16, .int32, .int64: true
        default: false
        }
    }

    public var isFloat: Bool { self == .float32 || self == .float64 }

    /// The word/byte order matters only for multi-byte values.
    public var hasByteOrder: Bool {
        switch self {
        case .bool, .bit: false
        default: true
        }
    }

    public var description: String {
        switch self {
        case .bool: "bool"
        case .bit(let n): "bit(\(n))"
        case .int16: "int16"
        case .uint16: "uint16"
        case .int32: "int32"
        case .uint32: "uint32"
        case .int64: "int64"
        case .uint64: "uint64"
        case .float32: "float32"
        case .float64: "float64"
        case .string(let n): "string(\(n))"
        }
    }

    /// Names for the `type:` key (without the `bit`/`string` parameters).
    static let names = [
        "bool", "bit", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string",
    ]

    /// The type a fixed-width name spells (`uint16`, `float32`, `bool`); nil for `bit` and `string`, which take a size.
    public static func fixedWidth(_ name: String) -> ValueType? {
        switch name {
        case "bool": .bool
        case "int16": .int16
        case "uint16": .uint16
        case "int32": .int32
        case "uint32": .uint32
        case "int64": .int64
        case "uint64": .uint64
        case "float32": .float32
        case "float64": .float64
        default: nil
        }
    }
}

extension ValueType {
    /// Parses a type name as tramctl takes it: `float32`, `string(8)`, `bit(3)`.
    public static func parse(_ text: String) -> ValueType? {
        if let fixed = fixedWidth(text) { return fixed }
        for (prefix, make) in [("string(", { ValueType.string(registers: $0) }), ("bit(", { ValueType.bit($0) })]
            as [(String, (Int) -> ValueType)]
        {
            if text.hasPrefix(prefix), text.hasSuffix(")"), let n = Int(text.dropFirst(prefix.count).dropLast()) {
                if prefix == "bit(", !(0...15).contains(n) { return nil }
                if prefix == "string(", !(1...125).contains(n) { return nil }
                return make(n)
            }
        }
        return nil
    }
}
