/// The read API's held values: what a point's series stood at, at evenly spaced instants (``HoldRule``).
extension CollectorStore {
    /// The value a point held at one instant: the last sent reading at or before it while within its hold limit and
    /// not across a loss; nil value (and reading time) when none held, or the reading held has no value (a timeout,
    /// a string).
    public struct HeldValue: Sendable, Equatable {
        public var timeMilliseconds: Int64
        public var value: Double?
        /// The time of the reading whose value is held.
        public var readingMilliseconds: Int64?
    }

    /// A point's row and hold limit, by names; nil when there is none.
    func pointHold(gateway: String, device: String, point: String) throws -> (id: Int64, limit: Int64)? {
        try statement(
            """
            SELECT p.id, \(RollupRules.holdLimitSQL("p")) FROM gateways g JOIN devices d ON d.gateway = g.id
            JOIN points p ON p.device = d.id WHERE g.name = ? AND d.name = ? AND p.name = ?
            """
        ).first([.text(gateway), .text(device), .text(point)]) { (id: $0.int64(0), limit: $0.int64(1)) }
    }

    /// The values held at from, from + step, … (before `to`), at most `limit` instants; nil when the point does not
    /// exist. One search of the (point, time_ms) index per instant, however dense the readings. The value is the
    /// reading's rollup value (engineering, a bool's 0/1; none for strings, missing values, NaN).
    public func held(
        gateway: String, device: String, point: String, from: Int64, to: Int64, step: Int64, limit: Int
    ) throws -> [HeldValue]? {
        guard let hold = try pointHold(gateway: gateway, device: device, point: point) else { return nil }
        guard step > 0, to > from else { return [] }
        let (start, overflow) = from.subtractingReportingOverflow(hold.limit)
        let losses = try lossWindows(point: hold.id, from: overflow ? .min : start, to: to)
        let probe = try statement(
            """
            SELECT time_ms, CASE WHEN type = 1 THEN raw_int ELSE value END FROM readings
            WHERE point = ? AND time_ms <= ? ORDER BY time_ms DESC, rowid DESC LIMIT 1
            """)
        var instants: [HeldValue] = []
        var t = from
        while t < to && instants.count < limit {
            let reading = try probe.first([.integer(hold.id), .integer(t)]) {
                (time: $0.int64(0), value: $0.optionalDouble(1))
            }
            var held = HeldValue(timeMilliseconds: t, value: nil, readingMilliseconds: nil)
            if let reading, let value = reading.value, value.isFinite,
                HoldRule.holds(reading: reading.time, at: t, limit: hold.limit, losses: losses)
            {
                held.value = value
                held.readingMilliseconds = reading.time
            }
            instants.append(held)
            let (next, overflow) = t.addingReportingOverflow(step)
            if overflow { break }
            t = next
        }
        return instants
    }
}
