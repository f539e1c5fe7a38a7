/// How Tram reads scalar text: integers (decimal, 0x hex, 0b binary, `_` separators),
/// numbers, booleans and durations with units.
public enum ScalarSyntax {
    public static func integer(_ text: String) -> Int64? {
        var body = Substring(text.filter { $0 != "_" })
        var negative = false
        if body.hasPrefix("-") {
            negative = true; body = body.dropFirst()
        } else if body.hasPrefix("+") {
            body = body.dropFirst()
        }
        var radix = 10
        if body.hasPrefix("0x") || body.hasPrefix("0X") {
            radix = 16; body = body.dropFirst(2)
        } else if body.hasPrefix("0b") || body.hasPrefix("0B") {
            radix = 2; body = body.dropFirst(2)
        }
        guard !body.isEmpty, let magnitude = UInt64(body, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        // Hex up to 64 bits is a bit pattern (0xFFFFFFFFFFFFFFFF is a valid uint64 sentinel).
        if radix != 10 { return Int64(bitPattern: magnitude) }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// An unsigned 64-bit value, for uint64 sentinels above Int64.max written in decimal.
    public static func unsigned(_ text: String) -> UInt64? {
        let body = text.filter { $0 != "_" }
        if body.hasPrefix("0x") || body.hasPrefix("0X") { return UInt64(body.dropFirst(2), radix: 16) }
        return UInt64(body)
    }

    public static func number(_ text: String) -> Double? {
        if let integer = integer(text), !(text.hasPrefix("0x") || text.hasPrefix("0X")) { return Double(integer) }
        switch text.lowercased() {
        case ".nan", "nan": return .nan
        case ".inf", "inf", "+.inf", "+inf": return .infinity
        case "-.inf", "-inf": return -.infinity
        default: return Double(text)
        }
    }

    public static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    /// `64KiB`, `512MiB`, `1GiB`, `2GB`, `100kB`, or bytes with no unit.
    static func byteSize(_ text: String) -> Int? {
        let units: [(suffix: String, bytes: Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("kB", 1e3), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Double(text.dropLast(unit.suffix.count)), value >= 0, value.isFinite else { return nil }
            let bytes = value * unit.bytes
            return bytes < 9e18 ? Int(bytes.rounded()) : nil
        }
        return integer(text).flatMap { $0 >= 0 ? Int($0) : nil }
    }

    /// `250ms`, `1s`, `1.5s`, `2m`, `500us`, `1h`, `30d`.
    static func duration(_ text: String) -> Duration? {
        let units: [(suffix: String, nanoseconds: Double)] = [
            ("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86400e9),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Double(text.dropLast(unit.suffix.count)), value >= 0, value.isFinite else { return nil }
            let nanoseconds = value * unit.nanoseconds
            guard nanoseconds < 1e18 else { return nil }
            return .nanoseconds(Int64(nanoseconds.rounded()))
        }
        return nil
    }
}

/// Public access to Tram's duration syntax (`250ms`, `2s`), for command-line options.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? { ScalarSyntax.duration(text) }
}
