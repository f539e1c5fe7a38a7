/// One named value on a device: where it lives and how to read it.
public struct Point: Sendable, Hashable {
    public var name: String
    public var table: RegisterTable
    /// The PDU (wire, 0-based) address, whatever the profile's numbering.
    public var address: Int
    public var type: ValueType
    public var order: WordOrder
    public var scale: Double
    public var offset: Double
    /// Name of an int16 point holding a power-of-ten exponent (SunSpec `_SF`).
    public var scaleFrom: String?
    public var unit: String
    /// The device may reject this point with exception 02; Tram then stops asking.
    public var isOptional: Bool
    public var notAvailable: [Sentinel]
    /// The raw bits this register must hold on the device the map was written for
    /// (a SunSpec "SunS" marker, a model id and length). A different value means
    /// the map does not fit the device, and its neighbours cannot be trusted either.
    public var expected: UInt64?
    public var description: String
    /// A level or a running total (`kind: counter`); the dictionary carries it to whoever shows the point.
    public var kind: Kind
    /// The span the point's engineering value can take, `[low, high]` (from the device's data sheet): what a
    /// deadband in percent is a percentage of.
    public var range: ClosedRange<Double>?
    /// The profile's suggestion for reporting this point by exception; used once its device has a `report:`.
    public var report: PointReportSetting?
    /// Set when the profile marks the point `writable: true`: what `tramctl write` may write to it. Nil: read-only.
    public var write: WriteRule?
    public var location: SourceLocation

    /// What a point's values mean over time.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A level that goes up and down (volts, kW). The default.
        case gauge
        /// A running total that only grows until it wraps or the meter is replaced (kWh imported).
        case counter

        static let spellings: [(String, Kind)] = allCases.map { ($0.rawValue, $0) }
    }

    public init(
        name: String, table: RegisterTable, address: Int, type: ValueType, order: WordOrder = .abcd,
        scale: Double = 1, offset: Double = 0, scaleFrom: String? = nil, unit: String = "",
        isOptional: Bool = false, notAvailable: [Sentinel] = [], description: String = "", kind: Kind = .gauge,
        location: SourceLocation = SourceLocation.unknown
    ) {
        self.name = name
        self.table = table
        self.address = address
        self.type = type
        self.order = order
        self.scale = scale
        self.offset = offset
        self.scaleFrom = scaleFrom
        self.unit = unit
        self.isOptional = isOptional
        self.notAvailable = notAvailable
        self.expected = nil
        self.description = description
        self.kind = kind
        self.range = nil
        self.report = nil
        self.write = nil
        self.location = location
    }

    /// Registers (or bits) the point occupies.
    public var width: Int { type.registerCount }

    /// The last address the point occupies.
    public var lastAddress: Int { address + width - 1 }
}

/// A raw value a device uses to mean "no value here" (SunSpec's 0x8000, a NaN).
public enum Sentinel: Sendable, Hashable, CustomStringConvertible {
    /// The value's bits as read, in the type's width (0x8000 for int16 -32768).
    case bits(UInt64)
    /// Any NaN of a float type.
    case nan

    public var description: String {
        switch self {
        case .bits(let value): "0x" + String(value, radix: 16, uppercase: true)
        case .nan: "nan"
        }
    }
}
