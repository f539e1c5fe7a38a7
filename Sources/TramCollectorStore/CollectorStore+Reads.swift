/// The read API's queries: newest readings, a point's range, the per-day tallies, and /health's ping.
extension CollectorStore {
    public struct ReadingRow: Sendable, Equatable {
        public var gateway: String
        public var device: String
        public var point: String
        public var unit: String
        public var type: UInt8
        public var timeMilliseconds: Int64
        public var value: Double?
        public var rawInt: Int64?
        public var rawText: String?
        public var quality: Int
        public var exception: Int?
        public var clock: UInt8

        public init(
            gateway: String, device: String, point: String, unit: String = "", type: UInt8, timeMilliseconds: Int64,
            value: Double?, rawInt: Int64? = nil, rawText: String? = nil, quality: Int = 0, exception: Int? = nil,
            clock: UInt8
        ) {
            self.gateway = gateway
            self.device = device
            self.point = point
            self.unit = unit
            self.type = type
            self.timeMilliseconds = timeMilliseconds
            self.value = value
            self.rawInt = rawInt
            self.rawText = rawText
            self.quality = quality
            self.exception = exception
            self.clock = clock
        }
    }

    /// The columns every reading query selects, in `readingRow`'s order.
    package static let readingColumns =
        "g.name, d.name, p.name, p.unit, r.type, r.time_ms, r.value, r.raw_int, r.raw_text, r.quality, r.exception, r.clock"

    package static func readingRow(_ s: SQLiteStatement) -> ReadingRow {
        ReadingRow(
            gateway: s.text(0), device: s.text(1), point: s.text(2), unit: s.text(3),
            type: UInt8(truncatingIfNeeded: s.int64(4)),
            timeMilliseconds: s.int64(5), value: s.optionalDouble(6), rawInt: s.optionalInt64(7),
            rawText: s.optionalText(8),
            quality: Int(s.int64(9)), exception: s.optionalInt64(10).map { Int($0) },
            clock: UInt8(truncatingIfNeeded: s.int64(11)))
    }

    /// The newest reading of every point (of one gateway, or of all), by reading time.
    public func latest(gateway: String?) throws -> [ReadingRow] {
        try statement(
            """
            SELECT \(Self.readingColumns)
            FROM points p JOIN devices d ON d.id = p.device JOIN gateways g ON g.id = d.gateway
            JOIN readings r ON r.rowid = (SELECT rowid FROM readings WHERE point = p.id ORDER BY time_ms DESC, rowid DESC LIMIT 1)
            WHERE ?1 IS NULL OR g.name = ?1
            ORDER BY g.name, d.name, p.name
            """
        ).rows([gateway.map { .text($0) } ?? .null], Self.readingRow)
    }

    /// A point's readings with `from <= time < to`, oldest first, at most `limit`.
    public func range(gateway: String, device: String, point: String, from: Int64, to: Int64, limit: Int) throws
        -> [ReadingRow]
    {
        try statement(
            """
            SELECT \(Self.readingColumns)
            FROM gateways g JOIN devices d ON d.gateway = g.id JOIN points p ON p.device = d.id JOIN readings r ON r.point = p.id
            WHERE g.name = ? AND d.name = ? AND p.name = ? AND r.time_ms >= ? AND r.time_ms < ?
            ORDER BY r.time_ms, r.rowid LIMIT ?
            """
        ).rows(
            [.text(gateway), .text(device), .text(point), .integer(from), .integer(to), .integer(Int64(limit))],
            Self.readingRow)
    }

    public struct DayTally: Sendable, Equatable {
        public var day: Int64
        public var bytes: Int64
        public var batches: Int64
        public var duplicates: Int64
        public var readings: Int64
    }

    /// What each gateway sent per UTC day (days since 1970), newest first, at most `days` days: the sums of its
    /// hour tallies (`ingest_hours`).
    public func tallies(gateway: String, days: Int) throws -> [DayTally] {
        try statement(
            """
            SELECT t.hour / 24 AS day, sum(t.bytes), sum(t.batches), sum(t.duplicates), sum(t.readings)
            FROM ingest_hours t JOIN gateways g ON g.id = t.gateway
            WHERE g.name = ? GROUP BY day ORDER BY day DESC LIMIT ?
            """
        ).rows([.text(gateway), .integer(Int64(days))]) {
            DayTally(
                day: $0.int64(0), bytes: $0.int64(1), batches: $0.int64(2), duplicates: $0.int64(3),
                readings: $0.int64(4))
        }
    }

    /// Every stored reading, counted (the collector benchmark checks it against what it sent).
    public func countReadings() throws -> Int64 {
        try statement("SELECT count(*) FROM readings").first { $0.int64(0) } ?? 0
    }

    /// A trivial read, for /health.
    public func ping() throws -> Bool {
        try statement("SELECT 1").first { _ in true } ?? false
    }
}
