import TramConfig
import TramModbus

/// Turns a value the technician typed into a ``WritePlan``, or refuses it. Pure: the agent runs it on its running
/// config and `tramctl` on the file, and both refuse the same things with the same words.
///
/// An engineering value goes back to raw as (value − offset) ÷ scale. For an integer type the result must be a
/// whole number within the type (47.3 at scale 0.1 is raw 473; 47.35 is refused, with the two nearest values that
/// can be written). A float keeps the nearest value of its width, and the plan shows it.
public enum WritePlanner {
    /// Most registers one write may carry (function 16's limit), and coils (function 15's).
    public static let maximumRegisters = 123
    public static let maximumCoils = 1968

    /// A write by map: the target's rule must exist (the point is `writable: true`) and admit `text`.
    public static func plan(_ target: WriteTarget, value text: String) -> Result<WritePlan, WriteRefusal> {
        guard let rule = target.rule else {
            return .failure(
                WriteRefusal(
                    .notWritable,
                    "\(target.pointName ?? "the point") is not writable: its profile does not mark it 'writable: true'"
                ))
        }
        return plan(target, value: text, rule: rule)
    }

    /// A write by address: no rule and no scaling, and `force` must be given.
    public static func planRaw(_ target: WriteTarget, value text: String, force: Bool) -> Result<
        WritePlan, WriteRefusal
    > {
        guard force else {
            return .failure(
                WriteRefusal(
                    .needsForce,
                    "a write by address is checked against no device map: give --force to send it, or write a point "
                        + "the profile marks writable (--config --device --point)"))
        }
        return plan(target, value: text, rule: WriteRule())
    }

    static func plan(_ target: WriteTarget, value text: String, rule: WriteRule) -> Result<WritePlan, WriteRefusal> {
        guard (1...247).contains(target.unit) else {
            return .failure(
                WriteRefusal(
                    .badUnit,
                    target.unit == 0
                        ? "unit 0 is broadcast: every device on the bus would apply the write and none would answer, "
                            + "so it could not be checked"
                        : "unit \(target.unit) is not a device address (1 to 247)"))
        }
        guard target.table == .holding || target.table == .coil else {
            return .failure(
                WriteRefusal(.notWritable, "the \(target.table.rawValue) table is read-only in Modbus"))
        }
        guard target.address + target.count - 1 <= 0xFFFF else {
            return .failure(
                WriteRefusal(.badValue, "address \(target.address) with \(target.count) registers runs past 65535"))
        }
        let code = target.functionCode ?? rule.functionCode
        switch encode(text, target, rule) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let (payload, engineering)):
            let function: Int
            switch payload {
            case .registers(let words):
                function = code ?? (words.count == 1 ? 6 : 16)
                if function == 6, words.count > 1 {
                    return .failure(
                        WriteRefusal(.badValue, "function 6 writes one register; a \(target.type) takes \(words.count)")
                    )
                }
                guard function == 6 || function == 16 else {
                    return .failure(
                        WriteRefusal(.badValue, "registers are written with function 6 or 16, not \(function)"))
                }
            case .coils(let bits):
                function = code ?? (bits.count == 1 ? 5 : 15)
                guard function == 5 || function == 15 else {
                    return .failure(WriteRefusal(.badValue, "coils are written with function 5 or 15, not \(function)"))
                }
            case .bit:
                function = code ?? 22
                guard [6, 16, 22].contains(function) else {
                    return .failure(
                        WriteRefusal(
                            .badValue, "a register's bit is written with function 22, or read and written with 6 or 16")
                    )
                }
            }
            return .success(
                WritePlan(
                    target: target, functionCode: function, payload: payload, engineering: engineering,
                    readback: rule.readback, note: rule.note))
        }
    }

    /// The payload and how the value will read back, in engineering units.
    static func encode(_ text: String, _ target: WriteTarget, _ rule: WriteRule)
        -> Result<(WritePlan.Payload, String), WriteRefusal>
    {
        let unit = target.unitOfMeasure.isEmpty ? "" : " \(target.unitOfMeasure)"
        switch target.type {
        case .bool:
            guard let value = flag(text) else {
                return .failure(WriteRefusal(.badValue, "a coil takes 1 or 0 (true/false, on/off), not '\(text)'"))
            }
            return .success((.coils([value]), value ? "1" : "0"))
        case .bit(let index):
            guard let value = flag(text) else {
                return .failure(WriteRefusal(.badValue, "a bit takes 1 or 0 (true/false, on/off), not '\(text)'"))
            }
            return .success((.bit(index: index, value: value), value ? "1" : "0"))
        case .string(let registers):
            var bytes = Array(text.utf8)
            guard bytes.count <= registers * 2 else {
                return .failure(
                    WriteRefusal(.badValue, "'\(text)' is \(bytes.count) bytes; the point holds \(registers * 2)"))
            }
            while bytes.count < registers * 2 { bytes.append(0) }
            let words = (0..<registers).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
            return .success((.registers(target.order.swapsBytes ? words.map(\.byteSwapped) : words), "'\(text)'"))
        default:
            return number(text, target, rule, unit: unit)
        }
    }

    static func number(_ text: String, _ target: WriteTarget, _ rule: WriteRule, unit: String)
        -> Result<(WritePlan.Payload, String), WriteRefusal>
    {
        let name = target.pointName ?? "the register"
        guard let value = ScalarSyntax.number(text), value.isFinite else {
            return .failure(WriteRefusal(.badValue, "\(name) takes a number, not '\(text)'"))
        }
        if let low = rule.minimum, value < low {
            return .failure(WriteRefusal(.outOfRange, "\(text)\(unit) is below \(name)'s min \(show(low))\(unit)"))
        }
        if let high = rule.maximum, value > high {
            return .failure(WriteRefusal(.outOfRange, "\(text)\(unit) is above \(name)'s max \(show(high))\(unit)"))
        }
        if let values = rule.values, !values.contains(value) {
            return .failure(
                WriteRefusal(
                    .outOfRange,
                    "\(name) accepts only \(values.map(show).joined(separator: ", ")); \(text) is not one of them"))
        }
        let raw = (value - target.offset) / target.scale
        let bits: UInt64
        let shown: Double
        switch target.type {
        case .float32:
            let single = Float(raw)
            guard single.isFinite else { return .failure(WriteRefusal(.outOfRange, "\(text) is beyond float32")) }
            bits = UInt64(single.bitPattern)
            shown = Double(single) * target.scale + target.offset
        case .float64:
            bits = raw.bitPattern
            shown = raw * target.scale + target.offset
        default:
            let whole = raw.rounded()
            // Scaling in binary floating point leaves 47.3 / 0.1 at 472.99999999999994: a hair is not a fraction.
            guard abs(raw - whole) <= 1e-9 * max(1, abs(raw)) else {
                let below = (raw.rounded(.down) * target.scale + target.offset)
                let above = (raw.rounded(.up) * target.scale + target.offset)
                return .failure(
                    WriteRefusal(
                        .badValue,
                        "\(text)\(unit) is not a whole number of \(name)'s steps (raw \(show(raw)) at scale "
                            + "\(show(target.scale))); the nearest it can hold are \(show(below)) and \(show(above))"))
            }
            let width = target.type.registerCount * 16
            let low: Double = target.type.isSigned ? -pow2(width - 1) : 0
            let high: Double = target.type.isSigned ? pow2(width - 1) - 1 : pow2(width) - 1
            guard whole >= low, whole <= high else {
                return .failure(
                    WriteRefusal(
                        .outOfRange, "raw \(show(whole)) is outside \(target.type) (\(show(low)) to \(show(high)))"))
            }
            bits =
                target.type.isSigned
                ? UInt64(bitPattern: Int64(whole)) & (width == 64 ? .max : (1 << UInt64(width)) - 1)
                : UInt64(whole)
            shown = whole * target.scale + target.offset
        }
        let words = RegisterCodec.encode(bits: bits, registerCount: target.type.registerCount, order: target.order)
        let whole = shown == shown.rounded() && abs(shown) < 1e15
        let text = target.type == .float32 && !whole ? "\(Float(shown))" : show(shown)
        return .success((.registers(words), "\(text)\(unit)"))
    }

    static func flag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1": true
        case "0": false
        default: ScalarSyntax.bool(text)
        }
    }

    static func pow2(_ n: Int) -> Double {
        var value = 1.0
        for _ in 0..<n { value *= 2 }
        return value
    }

    /// A number without a trailing `.0` or binary noise: 473, 47.3 (not 47.300000000000004). Twelve significant
    /// digits: more than any register's scaled value carries, fewer than a Double's rounding shows.
    static func show(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var digits = 12 - Int(Double(abs(value)).magnitude < 1 ? 0 : (log10Whole(abs(value)) + 1))
        digits = max(0, min(15, digits))
        var factor = 1.0
        for _ in 0..<digits { factor *= 10 }
        let rounded = (value * factor).rounded() / factor
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
    }

    /// ⌊log10(x)⌋ for x ≥ 1, without Foundation.
    static func log10Whole(_ x: Double) -> Int {
        var power = 0
        var rest = x
        while rest >= 10 {
            rest /= 10
            power += 1
        }
        return power
    }
}
