import TramCollectorStore

/// The store's side of the relay: readings in insertion order after a durable position (the `relay_positions`
/// table), and moving that position forward in one transaction once the target has acknowledged a batch.
extension CollectorStore {
    /// A relay's persisted state.
    public struct RelayPosition: Sendable, Equatable {
        public var name: String
        /// The highest `readings` rowid the relay is done with (sent and acknowledged, held back, or skipped).
        public var position: Int64 = 0
        public var sent: Int64 = 0
        public var heldUnsynchronised: Int64 = 0
        public var heldSynchronised: Int64 = 0
        public var unsynchronisedSent: Int64 = 0
        public var skipped: Int64 = 0
        public var updatedMilliseconds: Int64 = 0

        public init(
            name: String, position: Int64 = 0, sent: Int64 = 0, heldUnsynchronised: Int64 = 0,
            heldSynchronised: Int64 = 0,
            unsynchronisedSent: Int64 = 0, skipped: Int64 = 0, updatedMilliseconds: Int64 = 0
        ) {
            self.name = name
            self.position = position
            self.sent = sent
            self.heldUnsynchronised = heldUnsynchronised
            self.heldSynchronised = heldSynchronised
            self.unsynchronisedSent = unsynchronisedSent
            self.skipped = skipped
            self.updatedMilliseconds = updatedMilliseconds
        }
    }

    /// One stored reading, as the relay reads it: the reading, its place in the store (rowid) and its gateway's row.
    public struct RelayRow: Sendable, Equatable {
        public var rowid: Int64
        public var reading: ReadingRow
        /// `gateways.id`: what the relay holds back is counted per gateway (`relay_held`).
        public var gatewayID: Int64

        public init(rowid: Int64, reading: ReadingRow, gatewayID: Int64 = 0) {
            self.rowid = rowid
            self.reading = reading
            self.gatewayID = gatewayID
        }
    }

    /// What a relay held back of one gateway's readings in one batch (``Relay/Encoded``), by clock flag.
    public struct RelayHeld: Sendable, Equatable {
        public var unsynchronised: Int64 = 0
        public var synchronised: Int64 = 0

        public init(unsynchronised: Int64 = 0, synchronised: Int64 = 0) {
            self.unsynchronised = unsynchronised
            self.synchronised = synchronised
        }
    }

    private static func relayPosition(_ s: SQLiteStatement) -> RelayPosition {
        RelayPosition(
            name: s.text(0), position: s.int64(1), sent: s.int64(2), heldUnsynchronised: s.int64(3),
            heldSynchronised: s.int64(4),
            unsynchronisedSent: s.int64(5), skipped: s.int64(6), updatedMilliseconds: s.int64(7))
    }

    private static let relayColumns =
        "name, position, sent, held_unsynchronised, held_synchronised, unsynchronised_sent, skipped, updated_ms"

    /// A relay's position (a relay never seen starts before the first reading: it sends the whole store).
    public func relayPosition(_ name: String) throws -> RelayPosition {
        try statement("SELECT \(Self.relayColumns) FROM relay_positions WHERE name = ?").first(
            [.text(name)], Self.relayPosition)
            ?? RelayPosition(name: name)
    }

    /// Every relay position, for `tram-collector relay status`.
    public func relayPositions() throws -> [RelayPosition] {
        try statement("SELECT \(Self.relayColumns) FROM relay_positions ORDER BY name").rows([], Self.relayPosition)
    }

    /// Up to `limit` readings after `position`, in the order they were stored (rowid).
    public func relayRows(after position: Int64, limit: Int) throws -> [RelayRow] {
        try statement(
            """
            SELECT \(Self.readingColumns), r.rowid, g.id
            FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device JOIN gateways g ON g.id = d.gateway
            WHERE r.rowid > ? ORDER BY r.rowid LIMIT ?
            """
        ).rows([.integer(position), .integer(Int64(limit))]) { s in
            RelayRow(rowid: s.int64(12), reading: Self.readingRow(s), gatewayID: s.int64(13))
        }
    }

    /// The newest reading's rowid (0 when there are none): the relay's lag is the distance from its position.
    public func lastReadingRowID() throws -> Int64 {
        try statement("SELECT coalesce(max(rowid), 0) FROM readings").first { $0.int64(0) } ?? 0
    }

    /// Moves a relay's position to `position` (never backwards) and adds `delta`'s totals and `held`'s per-gateway
    /// hold-backs (`relay_held`; `first_ms`/`last_ms` are when it first and last held one back), in one transaction.
    /// Called only after the target acknowledged the batch (or when nothing in it was to be sent).
    @discardableResult
    public func advanceRelay(
        _ name: String, to position: Int64, adding delta: RelayPosition, held: [Int64: RelayHeld] = [:], now: Int64
    ) throws -> RelayPosition {
        try db.transaction {
            for (gateway, count) in held.sorted(by: { $0.key < $1.key }) {
                try statement(
                    """
                    INSERT INTO relay_held(relay, gateway, unsynchronised, synchronised, first_ms, last_ms)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                    ON CONFLICT (relay, gateway) DO UPDATE SET unsynchronised = unsynchronised + ?3,
                      synchronised = synchronised + ?4, last_ms = ?5
                    """
                ).run([
                    .text(name), .integer(gateway), .integer(count.unsynchronised), .integer(count.synchronised),
                    .integer(now),
                ])
            }
            try statement(
                """
                INSERT INTO relay_positions(name, position, sent, held_unsynchronised, held_synchronised, unsynchronised_sent, skipped, updated_ms)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                ON CONFLICT (name) DO UPDATE SET position = max(position, ?2), sent = sent + ?3,
                  held_unsynchronised = held_unsynchronised + ?4, held_synchronised = held_synchronised + ?5,
                  unsynchronised_sent = unsynchronised_sent + ?6, skipped = skipped + ?7, updated_ms = ?8
                """
            ).run([
                .text(name), .integer(position), .integer(delta.sent), .integer(delta.heldUnsynchronised),
                .integer(delta.heldSynchronised), .integer(delta.unsynchronisedSent), .integer(delta.skipped),
                .integer(now),
            ])
            return try relayPosition(name)
        }
    }
}
