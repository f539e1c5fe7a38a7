/// One named value on a device: where it lives and how to read it.
///
/// A gateway holds one of these per configured point (100,000 on a large one), so what every point needs is stored
/// inline and what most points leave unset (a `scale_from`, sentinels, an `expect`, a description, a range, a report
/// or write rule) sits behind one shared reference: 104 B a point instead of 328 (`PointFootprintTests`). A point
/// that sets none of them shares one empty box with every other; copies of a profile's points share their boxes.
public struct Point: Sendable, Hashable {
    // Declared widest first, so the one-byte fields share the tail of the struct instead of padding each to 8.
    public var name: String
    public var unit: String
    /// The PDU (wire, 0-based) address, whatever the profile's numbering.
    public var address: Int
    public var scale: Double
    public var offset: Double
    public var location: SourceLocation
    private var details: PointDetails.Box
    public var type: ValueType
    public var table: RegisterTable
    public var order: WordOrder
    /// The device may reject this point with exception 02; Tram then stops asking.
    public var isOptional: Bool
    /// A level or a running total (`kind: counter`); the dictionary carries it to whoever shows the point.
    public var kind: Kind

    /// Name of an int16 point holding a power-of-ten exponent (SunSpec `_SF`).
    public var scaleFrom: String? {
        get { details.value.scaleFrom }
        set { details = details.with(\.scaleFrom, newValue) }
    }
    public var notAvailable: [Sentinel] {
        get { details.value.notAvailable }
        set { details = details.with(\.notAvailable, newValue) }
    }
    /// The raw bits this register must hold on the device the map was written for
    /// (a SunSpec "SunS" marker, a model id and length). A different value means
    /// the map does not fit the device, and its neighbours cannot be trusted either.
    public var expected: UInt64? {
        get { details.value.expected }
        set { details = details.with(\.expected, newValue) }
    }
    public var description: String {
        get { details.value.description }
        set { details = details.with(\.description, newValue) }
    }
    /// The span the point's engineering value can take, `[low, high]` (from the device's data sheet): what a
    /// deadband in percent is a percentage of.
    public var range: ClosedRange<Double>? {
        get { details.value.range }
        set { details = details.with(\.range, newValue) }
    }
    /// The profile's suggestion for reporting this point by exception; used once its device has a `report:`.
    public var report: PointReportSetting? {
        get { details.value.report }
        set { details = details.with(\.report, newValue) }
    }
    /// Set when the profile marks the point `writable: true`: what `tramctl write` may write to it. Nil: read-only.
    public var write: WriteRule? {
        get { details.value.write }
        set { details = details.with(\.write, newValue) }
    }

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
        self.unit = unit
        self.isOptional = isOptional
        self.kind = kind
        self.location = location
        details = .none
        if scaleFrom != nil { self.scaleFrom = scaleFrom }
        if !notAvailable.isEmpty { self.notAvailable = notAvailable }
        if !description.isEmpty { self.description = description }
    }

    /// Registers (or bits) the point occupies.
    public var width: Int { type.registerCount }

    /// The last address the point occupies.
    public var lastAddress: Int { address + width - 1 }
}

/// The part of a ``Point`` that most points leave unset.
enum PointDetails {
    struct Value: Sendable, Hashable {
        var scaleFrom: String?
        var notAvailable: [Sentinel] = []
        var expected: UInt64?
        var description = ""
        var range: ClosedRange<Double>?
        var report: PointReportSetting?
        var write: WriteRule?
    }

    /// Immutable, so points share it freely across copies and threads; a change makes a new box.
    final class Box: Sendable, Hashable {
        let value: Value

        /// The box of a point that sets none of the details: one for the whole process.
        static let none = Box(Value())

        init(_ value: Value) { self.value = value }

        func with<Field>(_ field: WritableKeyPath<Value, Field>, _ newValue: Field) -> Box {
            var changed = value
            changed[keyPath: field] = newValue
            return changed == Value() ? .none : Box(changed)
        }

        static func == (lhs: Box, rhs: Box) -> Bool { lhs === rhs || lhs.value == rhs.value }
        func hash(into hasher: inout Hasher) { hasher.combine(value) }
    }
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
