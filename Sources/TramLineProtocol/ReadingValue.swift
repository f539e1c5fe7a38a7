import TramSchema
import TramCore

/// One wire value resolved against its point: the engineering value, the raw value, and the quality code.
///
/// This is what the collector stores in its readings table (docs/collector.md, "Store") and what line protocol is
/// rendered from (``InfluxLine/fieldValue(type:value:rawInt:rawText:quality:)``). The collector's relay renders
/// stored rows and the uplink renders decoded batches; both resolve a wire value here, so they send the same field.
public struct ReadingValue: Sendable, Equatable {
    /// `raw × scale × 10^exponent + offset`; nil for bools, strings, missing values, and points whose exponent is not
    /// in the group.
    public var engineering: Double?
    /// Integers as they are (a `uint64` over `Int64.max` goes to `rawText`), a bool as 0 or 1, a float's bits.
    public var rawInt: Int64?
    /// A string's text, or a `uint64` too large for `Int64`, in decimal.
    public var rawText: String?
    /// 0 for a good value; else the quality code of docs/wire-format.md (1 not available … 10 not ready).
    public var quality: UInt8 = 0
    /// The Modbus exception code, for quality 2.
    public var exception: UInt8?

    public init(_ value: WireValue, descriptor: PointDescriptor, exponent: Int64?) {
        let raw: Double?
        switch value {
        case .bool(let b): rawInt = b ? 1 : 0; raw = nil
        case .int(let v): rawInt = v; raw = Double(v)
        case .uint(let v):
            if v <= UInt64(Int64.max) { rawInt = Int64(v) } else { rawText = String(v) }
            raw = Double(v)
        case .float32(let bits): rawInt = Int64(bits); raw = Double(Float(bitPattern: bits))
        case .float64(let bits): rawInt = Int64(bitPattern: bits); raw = Double(bitPattern: bits)
        case .string(let s): rawText = s; raw = nil
        case .missing(let quality):
            raw = nil
            self.quality = quality.code
            if case .exception(let code) = quality { exception = code }
        }
        guard let raw else { return }
        if descriptor.exponentAlias != nil && exponent == nil { return }
        engineering = EngineeringValue.of(
            raw, scale: descriptor.scale, offset: descriptor.offset, exponent: exponent ?? 0)
    }

    /// Resolves the value at `index` of `group`, taking a SunSpec exponent from the same group.
    public init(_ group: DecodedGroup, index: Int, descriptor: PointDescriptor) {
        self.init(group.values[index], descriptor: descriptor, exponent: Self.exponent(of: descriptor, in: group))
    }

    /// SunSpec's scale factor: the raw value of the point's exponent point in the same group, if it is there.
    public static func exponent(of descriptor: PointDescriptor, in group: DecodedGroup) -> Int64? {
        guard let alias = descriptor.exponentAlias else { return nil }
        guard let index = group.offset(of: alias), case .int(let raw) = group.values[index] else { return nil }
        return raw
    }
}
