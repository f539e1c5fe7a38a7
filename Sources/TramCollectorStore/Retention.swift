import CSQLite
import Foundation

/// `--retention`: readings older than a limit (by reading time) are deleted, and rollups older than their own, longer
/// limits, a chunk per transaction, at start and every `interval`. Every cut is at a whole hour, so a bucket is kept or
/// deleted whole and the rollups of the hours kept still equal the SQL over their raw rows. Dedupe state, dictionaries,
/// devices, points, `point_latest` and the hour tallies are kept. See docs/collector.md, "Retention".
public struct Retention: Sendable, Equatable {
    /// Readings with `time_ms` before the hour that holds `now − limit` go.
    public var limitMilliseconds: Int64
    /// Hour rollups go by this limit (`--rollup-retention`): never shorter than `limitMilliseconds`, so rollups
    /// outlive the readings they summarise.
    public var rollupLimitMilliseconds: Int64
    /// Time between passes (each pass runs until nothing older is left).
    public var intervalMilliseconds: Int64
    /// Rows deleted per transaction: ingest waits for at most one chunk.
    public var chunk: Int

    /// 13 months: a yearly report works when the raw readings are kept for less.
    public static let defaultRollupLimitMilliseconds: Int64 = 396 * 86_400_000
    /// Minute rollups serve plots of ranges under 1,000 hours (about 42 days); hour rollups serve longer ones.
    public static let minuteRollupLimitMilliseconds: Int64 = 45 * 86_400_000

    public init(
        limitMilliseconds: Int64, rollupLimitMilliseconds: Int64 = Retention.defaultRollupLimitMilliseconds,
        intervalMilliseconds: Int64 = 300_000, chunk: Int = 10_000
    ) {
        self.limitMilliseconds = limitMilliseconds
        self.rollupLimitMilliseconds = max(rollupLimitMilliseconds, limitMilliseconds)
        self.intervalMilliseconds = intervalMilliseconds
        self.chunk = max(chunk, 1)
    }

    /// Minute rollups: 45 days, but never fewer than the readings are kept, nor more than the hour rollups.
    public var minuteRollupLimitMilliseconds: Int64 {
        max(min(Self.minuteRollupLimitMilliseconds, rollupLimitMilliseconds), limitMilliseconds)
    }

    /// What a pass at `now` deletes before: readings, minute rollups and hour rollups, each at the start of the hour
    /// that holds `now − limit`.
    /// Day rollups go with the hour rollups' limit, at the start of the UTC day that holds it, so a day is kept whole.
    public func cutoffs(now: Int64) -> (readings: Int64, minuteRollups: Int64, hourRollups: Int64, dayRollups: Int64) {
        func cut(_ limit: Int64, _ width: Int64) -> Int64 {
            let (cut, overflow) = now.subtractingReportingOverflow(limit)
            return overflow ? .min : RollupRules.bucket(cut, width: width)
        }
        let hour = RollupRules.hourMilliseconds
        return (
            cut(limitMilliseconds, hour), cut(minuteRollupLimitMilliseconds, hour), cut(rollupLimitMilliseconds, hour),
            cut(rollupLimitMilliseconds, RollupRules.dayMilliseconds)
        )
    }

    /// `30d`, `12h`, `90m`, `45s`, `2w` (a whole number and one unit) → milliseconds; nil if not of that form or not positive.
    public static func parseDuration(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let unit = trimmed.last, let number = Int64(trimmed.dropLast()), number > 0 else { return nil }
        let scale: Int64
        switch unit {
        case "s": scale = 1_000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        case "d": scale = 86_400_000
        case "w": scale = 7 * 86_400_000
        default: return nil
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: scale)
        return overflow ? nil : product
    }
}

extension CollectorStore {
    /// Deletes at most `limit` readings with `time_ms < cutoff`, in one transaction; returns how many went.
    /// Walks the points and, for each, the `(point, time_ms)` index, so a pass costs an index probe per point plus the
    /// rows deleted, never a scan of the whole table.
    public func deleteReadings(olderThan cutoff: Int64, limit: Int) throws -> Int {
        try db.transaction {
            try statement(
                """
                DELETE FROM readings WHERE rowid IN (
                  SELECT r.rowid FROM points p CROSS JOIN readings r ON r.point = p.id AND r.time_ms < ?1 LIMIT ?2)
                """
            ).run([.integer(cutoff), .integer(Int64(limit))])
            return Int(sqlite3_changes(db.handle))
        }
    }

    /// Deletes at most `limit` rollup rows of `width` with `bucket_ms < cutoff`, and as many of the modem's signal
    /// bins and state time of that width (kept as long as the rollups of their width), in one transaction; returns
    /// how many went (a short count means every table is done). Like the readings: an index probe per point (each
    /// table's key starts with `(point, width_ms, bucket_ms)`).
    public func deleteRollups(width: Int64, olderThan cutoff: Int64, limit: Int) throws -> Int {
        try db.transaction {
            var deleted = 0
            for (table, key) in [
                ("rollups", "point, width_ms, bucket_ms"),
                ("signal_bins", "point, width_ms, bucket_ms, operator, bin"),
                ("state_time", "point, width_ms, bucket_ms, value"),
            ] {
                let selected = key.split(separator: ",").map { "r." + $0.trimmingCharacters(in: .whitespaces) }
                    .joined(separator: ", ")
                try statement(
                    """
                    DELETE FROM \(table) WHERE (\(key)) IN (
                      SELECT \(selected) FROM points p CROSS JOIN \(table) r
                      ON r.point = p.id AND r.width_ms = ?1 AND r.bucket_ms < ?2 LIMIT ?3)
                    """
                ).run([.integer(width), .integer(cutoff), .integer(Int64(limit))])
                deleted += Int(sqlite3_changes(db.handle))
            }
            return deleted
        }
    }
}
