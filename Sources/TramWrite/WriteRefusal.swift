/// Why a write was not sent: the same refusal whether `tramctl` checks it first or the agent does on its side of
/// the control socket. Each says what to change.
public struct WriteRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        /// The point is not marked `writable: true`, or its table cannot be written.
        case notWritable = "not_writable"
        /// The value is outside `min`/`max`, not one of `values`, or outside the type's range.
        case outOfRange = "out_of_range"
        /// The value is not of the point's type, or not exactly representable after scaling.
        case badValue = "bad_value"
        /// A write by address without `--force`, or through an agent without `raw_writes: true`.
        case needsForce = "needs_force"
        /// Unit 0 (broadcast) or beyond 247.
        case badUnit = "bad_unit"
        /// Writes are off in the agent (`control: writes: false`) or the client may not write.
        case notAllowed = "not_allowed"
        /// The point is unknown on a device the config has.
        case unknown = "unknown"
        /// The config has no such device, or the agent no such link: `tramctl` then writes without the agent.
        case notOwned = "not_owned"
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}
