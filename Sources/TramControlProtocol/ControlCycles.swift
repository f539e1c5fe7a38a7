import TramJSON

/// The answer to `cycles <cursor> [device]`: the poll cycles after the cursor, and the cursor to ask with next.
///
///     {"cursor":N,"missed":N,"cycles":[{"device":…,"health":…,"points":[ControlPoint…]}…]}
public struct ControlCycles: ControlMessage {
    public struct Cycle: Sendable, Equatable {
        public var device: String
        /// `online`, `degraded`, `offline`.
        public var health: String
        public var points: [ControlPoint]

        public init(device: String, health: String, points: [ControlPoint]) {
            self.device = device
            self.health = health
            self.points = points
        }
    }

    /// The newest cycle's number: the next request's cursor.
    public var cursor: Int
    /// Cycles that left the ring before they were asked for.
    public var missed: Int
    public var cycles: [Cycle]

    public init(cursor: Int, missed: Int, cycles: [Cycle]) {
        self.cursor = cursor
        self.missed = missed
        self.cycles = cycles
    }

    public var json: JSON {
        .object([
            ("cursor", .int(Int64(cursor))),
            ("missed", .int(Int64(missed))),
            (
                "cycles",
                .array(
                    cycles.map {
                        .object([
                            ("device", .string($0.device)), ("health", .string($0.health)),
                            ("points", .array($0.points.map(\.json))),
                        ])
                    })
            ),
        ])
    }

    public init(json: JSON) throws(JSONShapeError) {
        self.init(
            cursor: try json.int("cursor"), missed: try json.int("missed"),
            cycles: try json.items("cycles") { (c: JSON) throws(JSONShapeError) in
                Cycle(
                    device: try c.string("device"), health: try c.string("health"),
                    points: try c.items("points", ControlPoint.init(json:)))
            })
    }
}
