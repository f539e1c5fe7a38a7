import TramConfig
import TramModbus
#if canImport(Glibc)
import Glibc
#endif

/// Plausible, changing values for a profile's points: mains voltages near 230 V,
/// currents and powers that wander, energy counters that only climb, a
/// temperature that drifts. Good enough to exercise a config without hardware.
struct SimulatedValues {
    /// The engineering value a point shows at `time` seconds.
    static func engineeringValue(for point: Point, at time: Double) -> Double {
        let phase = Double(point.address % 17) / 3
        let wave = sin(time / 7 + phase)
        let lower = point.unit.lowercased()
        let name = point.name.lowercased()
        switch lower {
        case "v":
            return
                (name.contains("l1_l2") || name.contains("l2_l3") || name.contains("l3_l1") || name.contains("ll")
                ? 400 : 230) + 3 * wave
        case "a": return 12 + 4 * wave
        case "w", "va", "var": return 2600 + 900 * wave
        case "kw", "kva", "kvar": return 2.6 + 0.9 * wave
        case "hz": return 50 + 0.05 * wave
        case "kwh", "kvarh": return 1234.5 + time / 36
        case "wh", "varh": return 1_234_500 + time * 28
        case "degc", "°c", "c": return 24 + 2 * wave
        case "%rh": return 55 + 8 * wave
        case "%": return 3 + wave
        case "rpm": return 1450 + 10 * wave
        default:
            if name.contains("pf") || name.contains("power_factor") { return 0.95 + 0.03 * wave }
            return 10 + 5 * wave
        }
    }

    /// The registers (or bits) holding `point`'s value at `time`, in the point's own encoding.
    static func registers(for point: Point, exponent: Int, at time: Double) -> [UInt16] {
        switch point.type {
        case .bool:
            return [Int(time / 5 + Double(point.address)) % 2 == 0 ? 1 : 0]
        case .bit:
            return []
        case .string(let count):
            var bytes = Array("TRAM-SIM \(point.name)".utf8.prefix(count * 2))
            while bytes.count < count * 2 { bytes.append(0) }
            let words = (0..<count).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
            return point.order.swapsBytes ? words.map(\.byteSwapped) : words
        case .float32:
            let value = Float(engineeringValue(for: point, at: time))
            return RegisterCodec.encode(bits: UInt64(value.bitPattern), registerCount: 2, order: point.order)
        case .float64:
            return RegisterCodec.encode(
                bits: engineeringValue(for: point, at: time).bitPattern, registerCount: 4, order: point.order)
        default:
            var raw = (engineeringValue(for: point, at: time) - point.offset) / point.scale
            if exponent != 0 { raw /= Engineering.powerOfTen(exponent) }
            let bits = clamp(raw.rounded(), to: point.type)
            return RegisterCodec.encode(bits: bits, registerCount: point.type.registerCount, order: point.order)
        }
    }

    /// The raw value's bits, clamped to what the type can hold.
    static func clamp(_ value: Double, to type: ValueType) -> UInt64 {
        let width = type.registerCount * 16
        if type.isSigned {
            let limit = width >= 64 ? 9.2e18 : Double(Int64(1) << Int64(width - 1))
            let clamped = Int64(max(-limit, min(limit - 1, value)))
            return width >= 64 ? UInt64(bitPattern: clamped) : UInt64(bitPattern: clamped) & ((1 << UInt64(width)) - 1)
        }
        let limit = width >= 64 ? 1.8e19 : Double(UInt64(1) << UInt64(width))
        return UInt64(max(0, min(limit - 1, value)))
    }
}
