/// One value read from a D-Bus message, whatever its signature: what a property or a method answered.
///
/// Containers keep their order; a dictionary (`a{..}`) becomes `.dictionary` with its entries as pairs, so a
/// reader that wants a key looks it up with ``subscript(key:)`` and never builds a hash table for a ten-key map.
public indirect enum DBusValue: Sendable, Equatable {
    case bool(Bool)
    /// y, n, i, x (and h, a file descriptor number, which is never kept).
    case int(Int64)
    /// q, u, t.
    case uint(UInt64)
    case double(Double)
    /// s, o (an object path), g (a signature).
    case string(String)
    case array([DBusValue])
    case dictionary([(key: DBusValue, value: DBusValue)])
    case structure([DBusValue])

    public static func == (a: DBusValue, b: DBusValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.uint(let x), .uint(let y)): x == y
        case (.double(let x), .double(let y)): x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)), (.structure(let x), .structure(let y)): x == y
        case (.dictionary(let x), .dictionary(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// The entry under `key` of a dictionary with string keys (`a{sv}`); nil for another value or a missing key.
    public subscript(key: String) -> DBusValue? {
        guard case .dictionary(let entries) = self else { return nil }
        for entry in entries { if case .string(key) = entry.key { return entry.value } }
        return nil
    }

    /// The entry under an unsigned key (`a{uv}`, ModemManager's location map).
    public subscript(key: UInt64) -> DBusValue? {
        guard case .dictionary(let entries) = self else { return nil }
        for entry in entries { if case .uint(key) = entry.key { return entry.value } }
        return nil
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var double: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        case .uint(let u): Double(u)
        default: nil
        }
    }
    public var int: Int64? {
        switch self {
        case .int(let i): i
        case .uint(let u): Int64(exactly: u)
        default: nil
        }
    }
    public var uint: UInt64? {
        switch self {
        case .uint(let u): u
        case .int(let i): UInt64(exactly: i)
        default: nil
        }
    }
    /// The members of a structure or an array.
    public var members: [DBusValue]? {
        switch self {
        case .structure(let m), .array(let m): m
        default: nil
        }
    }
}
