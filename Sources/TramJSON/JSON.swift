/// A JSON value with ordered object members and exact 64-bit integers.
///
/// Ordered members, because the text a value renders to is a contract (the control socket's and the collector's
/// answers keep their field order byte for byte). Integers are kept apart from doubles, because an epoch, a sequence
/// or a byte count must not pass through a `Double` (above 2^53 it would be rounded).
public indirect enum JSON: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])
}

extension JSON: Equatable {
    /// Values are equal when they render to the same text: `.int(5)` equals `.uint(5)`, and members compare in order.
    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.int, _), (.uint, _), (.double, _): a.rendered == b.rendered
        default: false
        }
    }
}
