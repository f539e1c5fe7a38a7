/// Stored engineering values as integers, for the places that count or name them (a technology code, an operator
/// code, bytes): a gateway's values are untrusted, and `Int64(Double)` traps on infinity, NaN and anything past
/// ±9.2e18, which would take the collector down with a page view.
public enum StoredValue {
    /// The value as an integer when it is a whole number a double holds exactly (|v| < 2^53), else nil.
    public static func wholeNumber(_ value: Double) -> Int64? {
        guard value.isFinite, value == value.rounded(), abs(value) < 9e15 else { return nil }
        return Int64(value)
    }

    /// The value rounded toward zero and clamped to ±9e15 (sizes and counts to show); nil for NaN.
    public static func clamped(_ value: Double) -> Int64? {
        guard !value.isNaN else { return nil }
        return Int64(min(max(value, -9e15), 9e15))
    }
}
