/// Influx line protocol, as the collector's relay and the uplink's line-protocol sink write it (docs/collector.md,
/// "Relay"; docs/uplink.md):
///
///     tram,gateway=gw-demo,device=incomer voltage_l1=230.5,energy=1234.7,breaker_closed=true 1764000001000
///
/// One measurement (`tram` by default) with tags `gateway` and `device`, one field per point, timestamps in
/// milliseconds (the write URL carries `precision=ms`). Readings of one device at one time share a line.
public enum InfluxLine {
    /// Measurement names: backslash, comma and space are escaped.
    public static func escapeMeasurement(_ text: String) -> String {
        escape(text, special: [UInt8(ascii: "\\"), UInt8(ascii: ","), UInt8(ascii: " ")])
    }

    /// Tag keys, tag values and field keys: backslash, comma, equals sign and space are escaped. (Line protocol reads
    /// `\\` as one backslash, InfluxDB and VictoriaMetrics alike, so a name ending in a backslash stays unambiguous.)
    public static func escapeKey(_ text: String) -> String {
        escape(text, special: [UInt8(ascii: "\\"), UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: " ")])
    }

    /// A string field's value, quoted: backslash and double quote are escaped.
    public static func quoteString(_ text: String) -> String {
        "\"" + escape(text, special: [UInt8(ascii: "\\"), UInt8(ascii: "\"")]) + "\""
    }

    /// Line protocol cannot carry a newline or carriage return anywhere (no escape exists), nor other control
    /// characters sensibly: they become a space (then escaped like one).
    private static func escape(_ text: String, special: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 4)
        for byte in text.utf8 {
            let b = byte < 0x20 || byte == 0x7F ? UInt8(ascii: " ") : byte
            if special.contains(b) { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A field value: an exact integer (`17822i`), a float (shortest text that reads back as the same double), a
    /// boolean. Nil for what line protocol cannot carry (NaN, ±infinity).
    public enum FieldValue: Equatable, Sendable {
        case integer(Int64)
        case float(Double)
        case boolean(Bool)

        public var text: String? {
            switch self {
            case .integer(let v): return "\(v)i"
            case .boolean(let b): return b ? "true" : "false"
            case .float(let v):
                guard v.isFinite else { return nil }
                // -0.0 is written as 0 (line protocol has no use for the sign), and Swift's shortest round-trip
                // form (`230.39999389648438`, `1e-05`, `1e+20`) is what both parsers read back bit-exactly.
                if v == 0 { return "0.0" }
                return "\(v)"
            }
        }
    }

    /// What the relay sends for a stored reading, or nil (with why) when it sends nothing for it.
    public enum Skip: String, Sendable, CaseIterable {
        /// A missing reading (timeout, exception, …): the store keeps its quality; a time-series store has no null.
        case missing
        /// A string point: VictoriaMetrics would store a string field as 0, so strings are not relayed.
        case string
        /// No engineering value: NaN or infinite, or the SunSpec exponent point was not in the group.
        case noValue = "no-value"
    }

    /// The field value for one row of the readings table (docs/collector.md, "Store"): integers exact with an `i`
    /// when the engineering value is the raw integer itself (scale 1, offset 0), else the engineering value as a
    /// float; bool as a boolean; floats as their engineering value.
    public static func fieldValue(type: UInt8, value: Double?, rawInt: Int64?, rawText: String?, quality: Int)
        -> Result<FieldValue, SkipReason>
    {
        guard quality == 0 else { return .failure(SkipReason(.missing)) }
        switch type {
        case 1:
            guard let rawInt else { return .failure(SkipReason(.noValue)) }
            return .success(.boolean(rawInt != 0))
        case 10:
            return .failure(SkipReason(.string))
        case 2...7:
            guard let value, value.isFinite else { return .failure(SkipReason(.noValue)) }
            if let rawInt, Double(rawInt) == value { return .success(.integer(rawInt)) }
            return .success(.float(value))
        default:
            guard let value, value.isFinite else { return .failure(SkipReason(.noValue)) }
            return .success(.float(value))
        }
    }

    public struct SkipReason: Error, Equatable, Sendable {
        public var skip: Skip
        init(_ skip: Skip) { self.skip = skip }
    }

    /// Builds a body of lines, merging consecutive fields of one (gateway, device, time) into one line.
    public struct Writer {
        public private(set) var body: [UInt8] = []
        public private(set) var lines = 0
        public private(set) var fields = 0
        private let measurement: String
        private var current: (gateway: String, device: String, time: Int64)?
        private var keys: Set<String> = []

        public init(measurement: String = "tram") {
            self.measurement = InfluxLine.escapeMeasurement(measurement)
        }

        public mutating func append(gateway: String, device: String, point: String, time: Int64, value: FieldValue) {
            guard let text = value.text else { return }
            let key = point.isEmpty ? "_" : InfluxLine.escapeKey(point)  // a field key cannot be empty
            if let c = current, c.gateway == gateway, c.device == device, c.time == time, !keys.contains(key) {
                body.append(UInt8(ascii: ","))
            } else {
                finishLine()
                current = (gateway, device, time)
                keys.removeAll(keepingCapacity: true)
                body += measurement.utf8
                if !gateway.isEmpty { body += ",gateway=".utf8; body += InfluxLine.escapeKey(gateway).utf8 }
                if !device.isEmpty { body += ",device=".utf8; body += InfluxLine.escapeKey(device).utf8 }
                body.append(UInt8(ascii: " "))
                lines += 1
            }
            keys.insert(key)
            body += key.utf8
            body.append(UInt8(ascii: "="))
            body += text.utf8
            fields += 1
        }

        private mutating func finishLine() {
            guard let c = current else { return }
            body.append(UInt8(ascii: " "))
            body += String(c.time).utf8
            body.append(UInt8(ascii: "\n"))
            current = nil
        }

        /// The body, every line complete.
        public mutating func finish() -> [UInt8] {
            finishLine()
            return body
        }
    }
}
