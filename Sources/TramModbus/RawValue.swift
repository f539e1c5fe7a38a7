import TramConfig
import TramCore

/// A value as the device sent it, typed but not scaled: integers stay exact
/// and floats keep their bits (NaN included).
public enum RawValue: Sendable, Equatable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float32(Float)
    case float64(Double)
    case string(String)

    public var description: String {
        switch self {
        case .bool(let v): v ? "true" : "false"
        case .int(let v): String(v)
        case .uint(let v): String(v)
        case .float32(let v): String(v)
        case .float64(let v): String(v)
        case .string(let v): v
        }
    }

    /// The value as a Double, for deriving engineering values; nil for strings.
    public var numeric: Double? {
        switch self {
        case .bool(let v): v ? 1 : 0
        case .int(let v): Double(v)
        case .uint(let v): Double(v)
        case .float32(let v): Double(v)
        case .float64(let v): v
        case .string: nil
        }
    }

    /// The exponent carried by a scale-factor register.
    var exponent: Int? {
        if case .int(let v) = self { return Int(v) }
        return nil
    }
}

/// Engineering values, derived where they are shown or stored.
public enum Engineering {
    /// raw × scale × 10^exponent + offset, by the wire format's rule (``EngineeringValue``), which the collector
    /// applies too. Exact for the integer part of the pipeline: only this final step is floating point.
    public static func value(_ raw: RawValue, scale: Double, offset: Double, exponent: Int = 0) -> Double? {
        guard let number = raw.numeric else { return nil }
        if case .bool = raw { return number }
        return EngineeringValue.of(number, scale: scale, offset: offset, exponent: Int64(exponent))
    }

    /// 10^exponent; negative powers by division, which keeps 10^-1 the closest double to 0.1.
    public static func powerOfTen(_ exponent: Int) -> Double {
        let magnitude = EngineeringValue.powerOfTen(Int64(clamping: exponent.magnitude))
        return exponent < 0 ? 1 / magnitude : magnitude
    }
}
