import TramJSON

/// A point's newest reading, in `status` (per device) and in `cycles`:
/// `{"name":…,"value":…,"unit":…,"quality":…,"time_ms":…}`.
public struct ControlPoint: ControlMessage {
    /// An engineering value: a number (scale and offset applied), or the text of a string point.
    public enum Value: Sendable, Equatable {
        case number(Double)
        case text(String)
    }

    public var name: String
    /// Nil (null on the socket) when the point has no value: pending, unsupported, not available.
    public var value: Value?
    public var unit: String
    /// `good`, `pending`, `stale`, … (the reading's quality as the agent names it).
    public var quality: String
    public var timeMilliseconds: Int64

    public init(name: String, value: Value?, unit: String, quality: String, timeMilliseconds: Int64) {
        self.name = name
        self.value = value
        self.unit = unit
        self.quality = quality
        self.timeMilliseconds = timeMilliseconds
    }

    public var json: JSON {
        let value: JSON =
            switch self.value {
            case .text(let text)?: .string(text)
            case .number(let number)?: .number(number)
            case nil: .null
            }
        return .object([
            ("name", .string(name)), ("value", value), ("unit", .string(unit)), ("quality", .string(quality)),
            ("time_ms", .int(timeMilliseconds)),
        ])
    }

    public init(json: JSON) throws(JSONShapeError) {
        let value: Value?
        switch json["value"] {
        case .string(let text)?: value = .text(text)
        case .null?, nil: value = nil
        case let other?:
            guard let number = other.doubleValue else {
                throw JSONShapeError(path: "value", expected: "a number, a string or null")
            }
            value = .number(number)
        }
        self.init(
            name: try json.string("name"), value: value, unit: try json.string("unit"),
            quality: try json.string("quality"),
            timeMilliseconds: try json.int64("time_ms"))
    }
}
