/// Whether a point's value can be trusted, and if not, why.
public enum Quality: Sendable, Equatable, CustomStringConvertible {
    case good
    /// The device sent one of the point's "not available" markers.
    case notAvailable
    /// The device answered a Modbus exception.
    case exception(Int)
    case timeout
    /// The link is reconnecting; the request was not sent.
    case linkDown
    /// Transport or framing error.
    case ioError
    /// An optional point the device rejected with exception 02; no longer requested.
    case unsupported
    /// The register does not hold the value the map `expect`s: the map does not fit this device.
    case unexpected
    /// Not read yet.
    case pending
    /// A built-in device's source is turned off by configuration or policy (a modem's signal polling is off).
    case disabled
    /// A built-in device's source is not there (no modem, or one that vanished in a USB reset).
    case absent
    /// A built-in device's source is there but has no value yet (a modem not registered; a rate's first sample).
    case notReady

    public var isGood: Bool { self == .good }

    public var description: String {
        switch self {
        case .good: "good"
        case .notAvailable: "not_available"
        case .exception(let code): "exception(\(code))"
        case .timeout: "timeout"
        case .linkDown: "link_down"
        case .ioError: "io_error"
        case .unsupported: "unsupported"
        case .unexpected: "unexpected"
        case .pending: "pending"
        case .disabled: "disabled"
        case .absent: "absent"
        case .notReady: "not_ready"
        }
    }

    init(_ error: ModbusError) {
        switch error {
        case .exception(let code): self = .exception(code)
        case .timeout: self = .timeout
        case .linkDown, .connectFailed, .portBusy: self = .linkDown
        case .io: self = .ioError
        }
    }
}
