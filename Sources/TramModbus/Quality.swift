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

    /// Two bytes: the case, and an exception's code (libmodbus reports codes 1...255; a larger one is clamped).
    struct Packed: Sendable {
        var tag: UInt8
        var detail: UInt8
    }

    var packed: Packed {
        switch self {
        case .good: Packed(tag: 0, detail: 0)
        case .notAvailable: Packed(tag: 1, detail: 0)
        case .exception(let code): Packed(tag: 2, detail: UInt8(clamping: code))
        case .timeout: Packed(tag: 3, detail: 0)
        case .linkDown: Packed(tag: 4, detail: 0)
        case .ioError: Packed(tag: 5, detail: 0)
        case .unsupported: Packed(tag: 6, detail: 0)
        case .unexpected: Packed(tag: 7, detail: 0)
        case .pending: Packed(tag: 8, detail: 0)
        case .disabled: Packed(tag: 9, detail: 0)
        case .absent: Packed(tag: 10, detail: 0)
        case .notReady: Packed(tag: 11, detail: 0)
        }
    }

    init(_ packed: Packed) {
        switch packed.tag {
        case 0: self = .good
        case 1: self = .notAvailable
        case 2: self = .exception(Int(packed.detail))
        case 3: self = .timeout
        case 4: self = .linkDown
        case 5: self = .ioError
        case 6: self = .unsupported
        case 7: self = .unexpected
        case 8: self = .pending
        case 9: self = .disabled
        case 10: self = .absent
        default: self = .notReady
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
