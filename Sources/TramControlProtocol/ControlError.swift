import TramJSON

/// The agent's answer to a request it cannot serve: `{"error": "…"}`.
public struct ControlError: ControlMessage, Error, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    public var json: JSON { .object([("error", .string(message))]) }

    public init(json: JSON) throws(JSONShapeError) {
        self.init(try json.string("error"))
    }

    /// A request of none of the five verbs (quoting at most 40 bytes of it).
    public static func unknownRequest(_ line: String) -> ControlError {
        ControlError("unknown request '\(line.prefix(40))'; expected status, cycles, read, write or version")
    }

    /// A `read` with missing or out-of-range arguments.
    public static let readUsage = ControlError("read takes: read <serial-device> <unit> <table> <address> <count>")

    /// A `read` for a serial port the agent does not poll.
    public static func notPolled(_ serialDevice: String) -> ControlError {
        ControlError("the agent does not poll \(serialDevice)")
    }
}
