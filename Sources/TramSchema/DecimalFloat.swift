/// Floats as short decimals: most device floats are decimal values (230.4 V,
/// 100.01 °C), so `m / 10^k` with a small integer `m` reproduces their exact
/// bits, and consecutive `m`s differ by little. The encoder only uses this form
/// when decoding it gives back the identical bits; anything else (NaN, -0.0,
/// full-precision noise) travels as raw bits.
enum DecimalFloat {
    /// Exact powers of ten as doubles (all exactly representable up to 10^22).
    static let powers: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6]
    static let maximumExponent = 6
    /// |m| stays below 2^53 so that Double(m) is exact.
    static let mantissaLimit: Int64 = 1 << 53

    @inline(__always)
    static func float32(_ m: Int64, _ k: Int) -> UInt32 {
        Float(Double(m) / powers[k]).bitPattern
    }

    @inline(__always)
    static func float64(_ m: Int64, _ k: Int) -> UInt64 {
        (Double(m) / powers[k]).bitPattern
    }

    /// The mantissa for exponent `k`, if `m / 10^k` gives back exactly `bits`.
    @inline(__always)
    static func mantissa(float32 bits: UInt32, exponent k: Int) -> Int64? {
        let value = Double(Float(bitPattern: bits))
        guard value.isFinite else { return nil }
        let scaled = value * powers[k]
        guard abs(scaled) < Double(mantissaLimit - 1) else { return nil }
        // Nearest integer without a libm call; the check below makes any tie-break correct.
        let m = Int64(scaled + (scaled < 0 ? -0.5 : 0.5))
        return float32(m, k) == bits ? m : nil
    }

    @inline(__always)
    static func mantissa(float64 bits: UInt64, exponent k: Int) -> Int64? {
        let value = Double(bitPattern: bits)
        guard value.isFinite else { return nil }
        let scaled = value * powers[k]
        guard abs(scaled) < Double(mantissaLimit - 1) else { return nil }
        let m = Int64(scaled + (scaled < 0 ? -0.5 : 0.5))
        return float64(m, k) == bits ? m : nil
    }

    /// Whether `m` is in the range where `Double(m)` is exact (written without `abs`, which traps on Int64.min).
    @inline(__always)
    static func isMantissa(_ m: Int64) -> Bool { m > -mantissaLimit && m < mantissaLimit }

    /// The previous mantissa expressed at another exponent, by integer arithmetic both sides share.
    @inline(__always)
    static func rescale(_ m: Int64, from: Int, to: Int) -> Int64 {
        if from < 0 { return 0 }
        if to == from { return m }
        if to > from {
            let (product, overflow) = m.multipliedReportingOverflow(by: Int64(powers[to - from]))
            return overflow || !isMantissa(product) ? 0 : product
        }
        return m / Int64(powers[from - to])
    }
}
