import TramSchema

/// A reading's quality code (readings.quality, docs/wire-format.md) as the console names it: a slug for
/// `data-quality` and the problem text a person reads.
public enum ConsoleQuality: Int, Sendable, CaseIterable {
    case good = 0
    case notAvailable = 1
    case exception = 2
    case timeout = 3
    case linkDown = 4
    case ioError = 5
    case unsupported = 6
    case unexpected = 7
    case disabled = 8
    case absent = 9
    case notReady = 10

    /// An unknown code reads as `unexpected`.
    public init(code: Int) { self = ConsoleQuality(rawValue: code) ?? .unexpected }

    /// The read API's names (good, not_available, exception, …): the wire format's.
    public var slug: String { WireQuality.name(code: rawValue) }

    /// What a person reads: "timeout", "exception 2 (illegal data address)", "link down".
    public func text(exception: Int?) -> String {
        switch self {
        case .good: "good"
        case .notAvailable: "not available"
        case .exception:
            if let code = exception {
                Self.modbusExceptionNames[code].map { "exception \(code) (\($0))" } ?? "exception \(code)"
            } else {
                "exception"
            }
        case .timeout: "timeout"
        case .linkDown: "link down"
        case .ioError: "I/O error"
        case .unsupported: "unsupported"
        case .unexpected: "unexpected answer"
        case .disabled: "turned off"
        case .absent: "absent"
        case .notReady: "not ready"
        }
    }

    /// The Modbus application protocol's exception codes (V1.1b3, section 7).
    static let modbusExceptionNames: [Int: String] = [
        1: "illegal function", 2: "illegal data address", 3: "illegal data value", 4: "server device failure",
        5: "acknowledge", 6: "server device busy", 8: "memory parity error", 10: "gateway path unavailable",
        11: "gateway target device failed to respond",
    ]
}

/// A device's state from its points' latest quality: online when every point is good, degraded when some are,
/// offline when none are (a device whose points have no reading yet is offline).
public enum DeviceState: String, Sendable, CaseIterable {
    case online, degraded, offline

    public init(points: Int, good: Int) {
        self = points > 0 && good == points ? .online : good > 0 ? .degraded : .offline
    }
}

/// The gateway's clock, from its newest reading's clock flag (bit 0: synchronised).
public enum ClockState: String, Sendable {
    case synchronised, unsynchronised, unknown

    init(flag: Int64?) {
        guard let flag else { self = .unknown; return }
        self = flag & 1 != 0 ? .synchronised : .unsynchronised
    }
}
