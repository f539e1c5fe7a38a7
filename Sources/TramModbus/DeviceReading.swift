import TramConfig
import TramCore

/// One point's outcome in one poll cycle.
///
/// A poller keeps two of these per point (the cycle being polled and the one handed out), so they are packed:
/// 40 B instead of 72 (`PointFootprintTests`), 3.2 MB less at 100,000 points. The properties read and write as
/// before; only the storage is narrow (an index below 2^32, an exponent in -128...127, a quality in two bytes).
public struct PointReading: Sendable {
    /// When the response carrying this value arrived.
    public var timestamp: Timestamp
    public var value: RawValue?
    private var packedQuality: Quality.Packed
    private var packedExponent: Int8
    private var packedPoint: UInt32

    /// Index into the device's points.
    public var point: Int {
        get { Int(packedPoint) }
        set { packedPoint = UInt32(newValue) }
    }
    public var quality: Quality {
        get { Quality(packedQuality) }
        set { packedQuality = newValue.packed }
    }
    /// The `scale_from` exponent read in the same request, if the point has one (SunSpec's are -10...10; one
    /// outside -128...127 is clamped, and would overflow a Double anyway).
    public var exponent: Int {
        get { Int(packedExponent) }
        set { packedExponent = Int8(clamping: newValue) }
    }

    public init(point: Int, value: RawValue?, quality: Quality, exponent: Int = 0, timestamp: Timestamp) {
        self.timestamp = timestamp
        self.value = value
        packedQuality = quality.packed
        packedExponent = Int8(clamping: exponent)
        packedPoint = UInt32(point)
    }
}

/// One request's outcome in one poll cycle.
public struct RequestOutcome: Sendable {
    public var request: ReadRequest
    public var error: ModbusError?
    /// Round trip of the request, in nanoseconds.
    public var roundTripNanoseconds: UInt64
}

/// Everything one poll cycle of one device produced.
public struct DeviceReading: Sendable {
    public var device: String
    public var points: [PointReading]
    public var requests: [RequestOutcome]
    public var health: DeviceHealth
    /// When the cycle's first response arrived, an answer or a failure; `.zero` when the producer does not say, and
    /// the points' own timestamps are used. Not the points' earliest timestamp: a failed point keeps its last good one,
    /// which would stamp every cycle of a failing device at the time it last answered.
    public var timestamp: Timestamp

    public init(
        device: String, points: [PointReading], requests: [RequestOutcome], health: DeviceHealth,
        timestamp: Timestamp = .zero
    ) {
        self.device = device
        self.points = points
        self.requests = requests
        self.health = health
        self.timestamp = timestamp
    }
}

/// A device's state as a technician wants to see it.
public struct DeviceHealth: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Every request in the last cycle succeeded.
        case online
        /// Some requests failed.
        case degraded
        /// No request succeeded.
        case offline
        case unknown
    }

    public var state: State = .unknown
    public var lastError: String?
    public var lastErrorWallMilliseconds: Int64?
    public var consecutiveFailedCycles = 0
    public var cycles = 0
    public var failedRequests = 0
    /// Optional points the device rejected, now skipped.
    public var unsupportedPoints: [String] = []
    /// Requests split after an exception 02.
    public var splits = 0
    /// Set when a register the map `expect`s held another value.
    public var mapMismatch: String?

    public init() {}
}
