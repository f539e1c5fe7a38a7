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
            case .float32(let v): v.isFinite ? try container.encode(Double(v)) : try container.encode(String(describing: v))
            case .float64(let v): v.isFinite ? try container.encode(v) : try container.encode(String(describing: v))
            case .string(let v): try container.encode(v)
            }
        }
    }

    /// The value's bits in hex, so floats can be compared exactly.
    static func bitsHex(_ value: RawValue, type: ValueType) -> String? {
        RegisterCodec.bits(of: value, type: type).map { "0x" + String($0, radix: 16, uppercase: true) }
    }

    /// Engineering value as text: enough digits, no noise.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
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
