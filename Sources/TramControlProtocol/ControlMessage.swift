import TramJSON

/// A message on the control socket: one JSON object, encoded by the agent and decoded by `tramctl` with the same type.
public protocol ControlMessage: Sendable, Equatable {
    var json: JSON { get }
    init(json: JSON) throws(JSONShapeError)
}

extension ControlMessage {
    /// The answer as the socket carries it (the server adds the closing newline).
    public var bytes: [UInt8] { json.bytes }

    /// Reads an answer: a `Self`, or the ``ControlError`` the agent answered instead (thrown as `.refused`).
    public static func decode(_ bytes: [UInt8]) throws(ControlDecodingError) -> Self {
        let json: JSON
        do { json = try JSON(parsing: bytes) } catch { throw .notJSON(error) }
        if Self.self != ControlError.self, let failure = try? ControlError(json: json) { throw .refused(failure) }
        do { return try Self(json: json) } catch { throw .shape(error) }
    }
}

/// Why an answer could not be read as the message asked for.
public enum ControlDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not JSON.
    case notJSON(JSONParseError)
    /// The agent answered with an error (`{"error": …}`).
    case refused(ControlError)
    /// JSON of another shape (an agent much older or newer, or not an agent).
    case shape(JSONShapeError)

    public var description: String {
        switch self {
        case .notJSON(let error): "the agent's answer is not JSON: \(error)"
        case .refused(let error): "the agent says: \(error.message)"
        case .shape(let error): "unexpected answer from the agent: \(error)"
        }
    }
}

extension JSON {
    /// A reading's number as the control socket writes it: a whole number below 10^15 without a fraction (`47`,
    /// not `47.0`), other values as the shortest text that reads back the same, and NaN, the infinities and nil as null.
    public static func number(_ value: Double?) -> JSON {
        guard let value, value.isFinite else { return .null }
        return value == value.rounded() && abs(value) < 1e15 ? .int(Int64(value)) : .double(value)
    }
}
