import CModbus
#if canImport(Glibc)
import Glibc
#endif

/// Why a Modbus exchange failed, in the terms a technician acts on.
public enum ModbusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The device answered with Modbus exception `code` (2 = illegal data address).
    case exception(code: Int)
    /// No answer within the response timeout.
    case timeout
    /// The link is down and waiting before its next connection attempt.
    case linkDown(reason: String)
    /// Could not open or connect the link.
    case connectFailed(reason: String)
    /// A transport or framing error: bad CRC, wrong answer, connection reset.
    case io(errno: Int32, reason: String)
    /// Another process holds the serial port.
    case portBusy(String)

    public var description: String {
        switch self {
        case .exception(let code): "exception \(code) (\(Self.exceptionName(code)))"
        case .timeout: "timeout (no answer)"
        case .linkDown(let reason): "link down: \(reason)"
        case .connectFailed(let reason): "cannot connect: \(reason)"
        case .io(_, let reason): "I/O error: \(reason)"
        case .portBusy(let holder): holder
        }
    }

    /// Whether the connection should be closed and reopened.
    public var breaksConnection: Bool {
        switch self {
        case .io(let code, _): Self.connectionErrnos.contains(code)
        case .connectFailed, .linkDown, .portBusy: true
        case .exception, .timeout: false
        }
    }

    static let connectionErrnos: Set<Int32> = [
        ECONNRESET, EPIPE, EBADF, ENOTCONN, ECONNREFUSED, ECONNABORTED, EIO, ENXIO, ENODEV, EHOSTUNREACH, ENETUNREACH,
    ]

    /// Reads libmodbus's errno after a failed call. Call it at once: any other call may change errno.
    static func fromErrno() -> ModbusError {
        let code = tram_errno()
        if code > TRAM_MODBUS_ENOBASE, code <= TRAM_MODBUS_ENOBASE + 11 {
            return .exception(code: Int(code - TRAM_MODBUS_ENOBASE))
        }
        if code == ETIMEDOUT { return .timeout }
        return .io(errno: code, reason: String(cString: modbus_strerror(code)))
    }

    public static func exceptionName(_ code: Int) -> String {
        switch code {
        case 1: "illegal function"
        case 2: "illegal data address"
        case 3: "illegal data value"
        case 4: "server device failure"
        case 5: "acknowledge"
        case 6: "server device busy"
        case 8: "memory parity error"
        case 10: "gateway path unavailable"
        case 11: "gateway target device failed to respond"
        default: "code \(code)"
        }
    }
}
