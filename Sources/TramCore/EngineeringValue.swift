/// A reading's engineering value, by the rule of docs/wire-format.md: `((raw × scale) × 10^e) + offset` in doubles.
///
/// Two steps divide instead of multiplying, so that decimal values come out as the double nearest them: `× 10^e` is
/// `÷ 10^−e` when e is negative, and `× scale` is `÷ 10^k` when the scale is 10^−k (0.1, 0.01, …). In doubles
/// 473 × 0.1 is 47.300000000000004 and 3 × 0.1 is 0.30000000000000004; the meter means 47.3 and 0.3, and that is
/// what a plant's dashboard should show. The agent (its status, `tramctl`), the collector and the line-protocol
/// sinks all compute it here, so they agree to the bit.
public enum EngineeringValue {
    /// - Parameter exponent: SunSpec's scale factor (the raw value of the point's exponent point); a hostile frame's
    ///   exponent beyond ±400 is taken as ±400, which gives infinity or zero as a larger one would.
    public static func of(_ raw: Double, scale: Double, offset: Double, exponent: Int64 = 0) -> Double {
        let exponent = max(-400, min(400, exponent))
        var value = scaled(raw, by: scale)
        if exponent > 0 { value *= powerOfTen(exponent) } else if exponent < 0 { value /= powerOfTen(-exponent) }
        return value + offset
    }

    /// `raw × scale`, but `raw ÷ 10^k` when the scale is the double nearest 10^−k, for k up to 22.
    public static func scaled(_ raw: Double, by scale: Double) -> Double {
        guard scale > 0, scale < 1 else { return raw * scale }
        let divisor = (1 / scale).rounded()
        var power = 10.0
        while power < divisor, power < 1e22 { power *= 10 }
        return power == divisor && 1 / divisor == scale ? raw / divisor : raw * scale
    }

    /// 10^e for e ≥ 0 (taken as 400 past 400): exact up to 10^22 (the doubles' exact powers of ten), infinity past
    /// 10^308. Negative powers are left to the caller to divide by, which keeps 10^−1 the closest double to 0.1.
    public static func powerOfTen(_ e: Int64) -> Double {
        var result = 1.0
        for _ in 0..<min(max(e, 0), 400) { result *= 10 }
        return result
    }
}
