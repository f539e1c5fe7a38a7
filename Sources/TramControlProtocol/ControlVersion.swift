import TramJSON

/// The answer to `version`: `{"version": "0.7.0"}`. Also how `tramctl` checks that an agent answers at all.
public struct ControlVersion: ControlMessage {
    public var version: String

    public init(version: String) {
        self.version = version
    }

    public var json: JSON { .object([("version", .string(version))]) }

    public init(json: JSON) throws(JSONShapeError) {
        self.init(version: try json.string("version"))
    }
}
