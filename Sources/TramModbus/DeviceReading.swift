import TramConfig
import TramCore

/// One point's outcome in one poll cycle.
public struct PointReading: Sendable {
    /// Index into the device's points.
    public var point: Int
    public var value: RawValue?
    public var quality: Quality
    /// The `scale_from` exponent read in the same request, if the point has one.
    public var exponent: Int
    /// When the response carrying this value arrived.
    public var timestamp: Timestamp

    public init(point: Int, value: RawValue?, quality: Quality, exponent: Int = 0, timestamp: Timestamp) {
        self.point = point
        self.value = value
        self.quality = quality
        self.exponent = exponent
        self.timestamp = timestamp
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
