import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import TramConfig
import TramModbus

/// Printing helpers shared by the verbs.
enum Output {
    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// 1536 → "1.5 KiB".
    static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(count) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }

    /// 93_000 → "1 min 33 s".
    static func duration(milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        switch seconds {
        case ..<60: return "\(seconds) s"
        case ..<3600: return "\(seconds / 60) min \(seconds % 60) s"
        case ..<86_400: return "\(seconds / 3600) h \(seconds % 3600 / 60) min"
        default: return "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h"
        }
    }

    /// Left-aligned columns, for humans.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// A raw value for JSON: integers stay exact, floats keep their bits.
    struct RawJSON: Encodable {
        let value: RawValue

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch value {
            case .bool(let v): try container.encode(v)
            case .int(let v): try container.encode(v)
            case .uint(let v): try container.encode(v)
            case .float32(let v):
                v.isFinite ? try container.encode(Double(v)) : try container.encode(String(describing: v))
            case .float64(let v): v.isFinite ? try container.encode(v) : try container.encode(String(describing: v))
            case .string(let v): try container.encode(v)
            }
        }
    }

    /// A number for JSON; NaN and infinities, which JSON cannot hold, become the strings "nan", "inf", "-inf".
    struct NumberJSON: Encodable {
        let value: Double

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            if value.isFinite { try container.encode(value) } else { try container.encode(String(describing: value)) }
        }
    }

    /// An integer point read as it is (scale 1, no offset, no exponent): its exact value. A double holds integers
    /// exactly only up to 2^53, so -9007199254740993 would print as -9007199254740992.
    static func exactInteger(_ raw: RawValue, point: Point, exponent: Int) -> ExactInteger? {
        guard point.scale == 1, point.offset == 0, exponent == 0 else { return nil }
        switch raw {
        case .int(let v): return .int(v)
        case .uint(let v): return .uint(v)
        default: return nil
        }
    }

    enum ExactInteger: Encodable, CustomStringConvertible {
        case int(Int64)
        case uint(UInt64)

        var description: String {
            switch self {
            case .int(let v): String(v)
            case .uint(let v): String(v)
            }
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .int(let v): try container.encode(v)
            case .uint(let v): try container.encode(v)
            }
        }
    }

    /// A point's engineering value in JSON: its exact integer when read as it is, otherwise a number.
    enum EngineeringJSON: Encodable {
        case exact(ExactInteger)
        case number(NumberJSON)

        init?(_ raw: RawValue, point: Point, exponent: Int) {
            if let exact = exactInteger(raw, point: point, exponent: exponent) {
                self = .exact(exact)
            } else if let value = Engineering.value(raw, scale: point.scale, offset: point.offset, exponent: exponent) {
                self = .number(NumberJSON(value: value))
            } else {
                return nil
            }
        }

        func encode(to encoder: Encoder) throws {
            switch self {
            case .exact(let exact): try exact.encode(to: encoder)
            case .number(let number): try number.encode(to: encoder)
            }
        }
    }

    /// The value's bits in hex, so floats can be compared exactly.
    static func bitsHex(_ value: RawValue, type: ValueType) -> String? {
        RegisterCodec.bits(of: value, type: type).map { "0x" + String($0, radix: 16, uppercase: true) }
    }

    /// The engineering value as a person reads it: as many decimals as the
    /// scale gives (raw 2304 × 0.1 shows 230.4, not 230.40000000000001), and a
    /// float's own shortest form when it is shown unscaled.
    static func engineering(_ raw: RawValue, point: Point, exponent: Int) -> String {
        if let exact = exactInteger(raw, point: point, exponent: exponent) { return exact.description }
        switch raw {
        case .string(let text): return "\"\(text)\""
        case .bool(let value): return value ? "true" : "false"
        case .float32(let value) where point.scale == 1 && point.offset == 0 && exponent == 0:
            return String(describing: value)
        case .float64(let value) where point.scale == 1 && point.offset == 0 && exponent == 0:
            return String(describing: value)
        default: break
        }
        guard let value = Engineering.value(raw, scale: point.scale, offset: point.offset, exponent: exponent) else {
            return raw.description
        }
        guard value.isFinite else { return String(describing: value) }
        let factor = point.scale * Engineering.powerOfTen(exponent)
        var decimals = 0
        var multiplier = 1.0
        while decimals < 9, abs(factor * multiplier - (factor * multiplier).rounded()) > 1e-9 * multiplier {
            decimals += 1
            multiplier *= 10
        }
        let scaled = (abs(value) * multiplier).rounded()
        guard scaled < 9e15 else { return String(value) }
        let digits = String(Int64(scaled))
        let padded = String(repeating: "0", count: max(0, decimals + 1 - digits.count)) + digits
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard decimals > 0 else { return sign + padded }
        return sign + padded.dropLast(decimals) + "." + padded.suffix(decimals)
    }
}

/// Writes to standard error.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        fflush(nil)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
nonisolated(unsafe) var standardError = StandardError()
