/// A point's value type on the wire (a bit of a register travels as `bool`).
public enum WireType: UInt8, Sendable, Hashable, CaseIterable {
    case bool = 1
    case int16 = 2, uint16 = 3, int32 = 4, uint32 = 5, int64 = 6, uint64 = 7
    case float32 = 8, float64 = 9
    case string = 10

    public var isSigned: Bool { self == .int16 || self == .int32 || self == .int64 }
    public var isUnsigned: Bool { self == .uint16 || self == .uint32 || self == .uint64 }
}

/// What the dictionary says about one point. Its alias is its index in the dictionary.
///
/// The agent holds one per configured point for as long as it runs, so the optional numbers are stored without
/// their optionals' tag bytes, using the value the wire already spells "none" with (0 for an interval or a
/// heartbeat, NaN for a deadband, -1 for an alias): 96 B instead of 136 (`PointFootprintTests`).
public struct PointDescriptor: Sendable, Hashable {
    public var device: String
    public var name: String
    public var unit: String
    /// engineering = raw × scale × 10^exponent + offset
    public var scale: Double
    public var offset: Double
    private var storedDeadband: Double
    private var storedInterval: UInt64
    private var storedHeartbeat: UInt64
    private var storedExponentAlias: Int32
    public var type: WireType
    /// A gauge (a level: volts, kW) or a counter (a running total: kWh imported), which a reader may show as a rate.
    public var kind: PointKind

    /// Alias of the int16 point whose raw value is this point's power-of-ten exponent (SunSpec `_SF`), if any.
    /// Aliases are below the dictionary's point count, which the wire bounds far below 2^31.
    public var exponentAlias: Int? {
        get { storedExponentAlias < 0 ? nil : Int(storedExponentAlias) }
        set { storedExponentAlias = newValue.map { Int32(clamping: $0) } ?? -1 }
    }
    /// How often the gateway polls the point's device, in milliseconds; nil when the dictionary does not say.
    /// The wire spells unknown as 0, so 0 is normalised to nil here.
    public var intervalMilliseconds: UInt64? {
        get { storedInterval == 0 ? nil : storedInterval }
        set { storedInterval = newValue ?? 0 }
    }
    /// Report by exception: a reading is sent only when it moved more than this (in engineering units) from the last
    /// one sent; 0 sends every change, nil every poll (the default: nothing is held back). Version 2.
    public var deadband: Double? {
        get { storedDeadband.isNaN ? nil : storedDeadband }
        set { storedDeadband = newValue ?? .nan }
    }
    /// Report by exception: the longest time between two sends of the point, in milliseconds; nil none. A reader
    /// may hold a value this long without taking the point for stale. Version 2.
    public var heartbeatMilliseconds: UInt64? {
        get { storedHeartbeat == 0 ? nil : storedHeartbeat }
        set { storedHeartbeat = newValue ?? 0 }
    }

    public init(
        device: String, name: String, unit: String = "", type: WireType, scale: Double = 1, offset: Double = 0,
        exponentAlias: Int? = nil, kind: PointKind = .gauge, intervalMilliseconds: UInt64? = nil,
        deadband: Double? = nil, heartbeatMilliseconds: UInt64? = nil
    ) {
        self.device = device
        self.name = name
        self.unit = unit
        self.scale = scale
        self.offset = offset
        storedDeadband = deadband ?? .nan
        storedInterval = intervalMilliseconds ?? 0
        storedHeartbeat = heartbeatMilliseconds ?? 0
        storedExponentAlias = exponentAlias.map { Int32(clamping: $0) } ?? -1
        self.type = type
        self.kind = kind
    }

    /// Whether the gateway holds back some of this point's readings (a deadband or a heartbeat is set).
    public var reportsByException: Bool { deadband != nil || heartbeatMilliseconds != nil }

    /// Equal when every property reads the same: a NaN deadband is none, so two of them are equal.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.device == rhs.device && lhs.name == rhs.name && lhs.unit == rhs.unit && lhs.scale == rhs.scale
            && lhs.offset == rhs.offset && lhs.deadband == rhs.deadband && lhs.storedInterval == rhs.storedInterval
            && lhs.storedHeartbeat == rhs.storedHeartbeat && lhs.storedExponentAlias == rhs.storedExponentAlias
            && lhs.type == rhs.type && lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(device)
        hasher.combine(name)
        hasher.combine(unit)
        hasher.combine(scale)
        hasher.combine(offset)
        hasher.combine(deadband)
        hasher.combine(storedInterval)
        hasher.combine(storedHeartbeat)
        hasher.combine(storedExponentAlias)
        hasher.combine(type)
        hasher.combine(kind)
    }
}

/// Whether the gateway's clock could be trusted when a group was stamped.
public struct ClockFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The clock was synchronised (NTP/PTP) when the group was stamped.
    public static let synchronised = ClockFlags(rawValue: 1)
    /// The wall clock stepped since the previous group (its time is not comparable with earlier ones).
    public static let stepped = ClockFlags(rawValue: 2)
}

/// The group flag bits beside the clock's, defined by version 2 (in version 1 they are reserved: kept, ignored).
enum GroupFlags {
    /// The group is a full snapshot of its devices' points.
    static let snapshot: UInt8 = 1 << 2
    /// The group lists its aliases instead of naming a range (docs/wire-format.md, "Version 2").
    static let sparse: UInt8 = 1 << 3
}

/// Why a value is missing or not to be trusted. Good values carry no quality on the wire.
///
/// Codes 1–7 are version 1's. Codes 8–10 came with version 2, for sources that are not Modbus devices (the
/// gateway's own health, its modem): a frame that uses one is a version-2 frame, which an encoder only writes and a
/// sink only receives once the sink has said it accepts version 2 (docs/wire-format.md, "Version 2").
public enum WireQuality: Sendable, Hashable {
    case notAvailable
    case exception(UInt8)
    case timeout
    case linkDown
    case ioError
    case unsupported
    case unexpected
    /// The source is turned off by configuration or policy (a modem's signal polling not enabled, say). Version 2.
    case disabled
    /// The source is not there at the moment (no modem, or one that vanished in a USB reset). Version 2.
    case absent
    /// The source is there but cannot give this value yet (a modem not registered; a rate before its second
    /// sample). Version 2.
    case notReady

    /// The code on the wire (readings.quality in the collector's store; 0 there is good).
    public var code: UInt8 {
        switch self {
        case .notAvailable: 1
        case .exception: 2
        case .timeout: 3
        case .linkDown: 4
        case .ioError: 5
        case .unsupported: 6
        case .unexpected: 7
        case .disabled: 8
        case .absent: 9
        case .notReady: 10
        }
    }

    var detail: UInt8 {
        if case .exception(let code) = self { return code }
        return 0
    }

    /// The names of the codes, good (0) included: what the read API, tramctl and the relay call them.
    public static let names = [
        "good", "not_available", "exception", "timeout", "link_down", "io_error", "unsupported", "unexpected",
        "disabled", "absent", "not_ready",
    ]

    /// The name of a stored quality code; a code this build does not know reads as `unexpected`.
    public static func name(code: Int) -> String { names.indices.contains(code) ? names[code] : "unexpected" }

    /// The first wire format version that has this quality.
    public var minimumVersion: UInt8 { code >= 8 ? 2 : 1 }

    /// The quality with `code` in frames of `version` (nil: not defined there).
    init?(code: UInt8, detail: UInt8, version: UInt8) {
        switch code {
        case 1: self = .notAvailable
        case 2: self = .exception(detail)
        case 3: self = .timeout
        case 4: self = .linkDown
        case 5: self = .ioError
        case 6: self = .unsupported
        case 7: self = .unexpected
        case 8 where version >= 2: self = .disabled
        case 9 where version >= 2: self = .absent
        case 10 where version >= 2: self = .notReady
        default: return nil
        }
    }
}

/// One point's value in a group, as read: raw, typed, bit-exact.
public enum WireValue: Sendable, Equatable {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    /// The float's bits, so NaN payloads survive.
    case float32(bits: UInt32)
    case float64(bits: UInt64)
    case string(String)
    case missing(WireQuality)

    /// A number's raw value as a double (before scale and offset); nil for booleans, strings and missing values.
    public var rawNumber: Double? {
        switch self {
        case .int(let v): Double(v)
        case .uint(let v): Double(v)
        case .float32(let bits): Double(Float(bitPattern: bits))
        case .float64(let bits): Double(bitPattern: bits)
        case .bool, .string, .missing: nil
        }
    }
}
