import TramSchema

/// Loss marks: the batches a gateway reported dropped (a version-2 batch's `droppedSequences`) and where in time they
/// lay, so a value held between sends ends at a loss (``HoldRule``). Written in the ingest transaction.
///
/// Every stored batch leaves its span (`batch_spans`: its oldest and newest group time). A dropped range's window
/// runs from the newest group of the nearest stored batch before it (of the same epoch; when there is none, the
/// gateway's newest batch that ended before the reporting batch began) to the oldest group of the nearest stored
/// batch after it (the reporting batch at the latest). A batch that arrives later and lies nearer the range (a
/// backlog drained live-first) narrows the window; the rollups written meanwhile keep the wider cut (they only ever
/// count less good time, never more).
extension CollectorStore {
    /// Notes `batch`'s span, narrows the windows it lies nearer to, and records its dropped ranges. Returns how many
    /// loss marks it added.
    func recordSpanAndLosses(_ batch: DecodedBatch, gateway: Int64, now: Int64) throws -> Int {
        let epoch = Int64(bitPattern: batch.epoch)
        let sequence = Int64(bitPattern: batch.sequence)
        let times = batch.groups.map(\.timeMilliseconds)
        if let first = times.min(), let last = times.max() {
            try statement(
                """
                UPDATE losses SET from_ms = min(?4, to_ms), before_sequence = ?3
                WHERE gateway = ?1 AND epoch = ?2 AND first > ?3 AND (before_sequence IS NULL OR before_sequence < ?3)
                """
            ).run([.integer(gateway), .integer(epoch), .integer(sequence), .integer(last)])
            try statement(
                """
                UPDATE losses SET to_ms = max(?4, from_ms), after_sequence = ?3
                WHERE gateway = ?1 AND epoch = ?2 AND last < ?3 AND after_sequence > ?3
                """
            ).run([.integer(gateway), .integer(epoch), .integer(sequence), .integer(first)])
            try statement(
                """
                INSERT INTO batch_spans(gateway, epoch, sequence, first_ms, last_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """
            ).run([.integer(gateway), .integer(epoch), .integer(sequence), .integer(first), .integer(last)])
        }
        var added = 0
        let reporterTime = times.min() ?? batch.baseTimeMilliseconds
        for range in batch.droppedSequences where !range.isEmpty {
            let first = Int64(bitPattern: range.lowerBound)
            let last = Int64(bitPattern: range.upperBound - 1)
            let key: [SQLiteStatement.Value] = [.integer(gateway), .integer(epoch)]
            let before = try statement(
                """
                SELECT last_ms, sequence FROM batch_spans WHERE gateway = ? AND epoch = ? AND sequence < ?
                ORDER BY sequence DESC LIMIT 1
                """
            ).first(key + [.integer(first)]) { (time: $0.int64(0), sequence: $0.int64(1)) }
            let after: (time: Int64, sequence: Int64) =
                try statement(
                    """
                    SELECT first_ms, sequence FROM batch_spans WHERE gateway = ? AND epoch = ? AND sequence > ?
                    ORDER BY sequence LIMIT 1
                    """
                ).first(key + [.integer(last)]) { (time: $0.int64(0), sequence: $0.int64(1)) }
                ?? (reporterTime, sequence)
            var from = before?.time
            if from == nil {
                from =
                    try statement("SELECT max(last_ms) FROM batch_spans WHERE gateway = ? AND last_ms <= ?")
                    .first([.integer(gateway), .integer(reporterTime)]) { $0.optionalInt64(0) } ?? nil
            }
            let to = after.time
            try statement(
                """
                INSERT INTO losses(gateway, epoch, first, last, from_ms, to_ms, before_sequence, after_sequence,
                                   reported_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """
            ).run(
                key + [
                    .integer(first), .integer(last), .integer(min(from ?? to, to)), .integer(to),
                    before.map { .integer($0.sequence) } ?? .null, .integer(after.sequence), .integer(now),
                ])
            added += db.changes
        }
        return added
    }

    /// A gateway's loss windows, by start (all of them: a gateway reports few).
    func lossWindows(gateway: Int64) throws -> [LossWindow] {
        try statement("SELECT from_ms, to_ms FROM losses WHERE gateway = ? ORDER BY from_ms, to_ms").rows([
            .integer(gateway)
        ]) { LossWindow(from: $0.int64(0), to: $0.int64(1)) }
    }

    /// The loss windows of the gateway of point row `point` that overlap [from, to), by start.
    func lossWindows(point: Int64, from: Int64, to: Int64) throws -> [LossWindow] {
        try statement(
            """
            SELECT l.from_ms, l.to_ms FROM points p JOIN devices d ON d.id = p.device JOIN losses l ON l.gateway = d.gateway
            WHERE p.id = ?1 AND l.to_ms > ?2 AND l.from_ms < ?3 ORDER BY l.from_ms, l.to_ms
            """
        ).rows([.integer(point), .integer(from), .integer(to)]) { LossWindow(from: $0.int64(0), to: $0.int64(1)) }
    }

    /// The loss marks of a gateway, oldest range first (the read API and the tests).
    public func lossMarks(gateway: String) throws -> [LossMark] {
        try statement(
            """
            SELECT l.epoch, l.first, l.last, l.from_ms, l.to_ms, l.reported_ms
            FROM gateways g JOIN losses l ON l.gateway = g.id WHERE g.name = ? ORDER BY l.epoch, l.first
            """
        ).rows([.text(gateway)]) { s in
            LossMark(
                epoch: UInt64(bitPattern: s.int64(0)),
                sequences: UInt64(bitPattern: s.int64(1))...UInt64(bitPattern: s.int64(2)),
                window: LossWindow(from: s.int64(3), to: s.int64(4)), reportedMilliseconds: s.int64(5))
        }
    }
}

/// One dropped range a gateway reported, and the time it covers as best known.
public struct LossMark: Sendable, Equatable {
    public var epoch: UInt64
    public var sequences: ClosedRange<UInt64>
    public var window: LossWindow
    /// When the collector stored the batch that reported it.
    public var reportedMilliseconds: Int64

    public init(epoch: UInt64, sequences: ClosedRange<UInt64>, window: LossWindow, reportedMilliseconds: Int64) {
        self.epoch = epoch
        self.sequences = sequences
        self.window = window
        self.reportedMilliseconds = reportedMilliseconds
    }
}
