import CSQLite
import Foundation

/// `--retention`: readings older than a limit (by reading time) are deleted, a chunk per transaction, at start and every
/// `interval`. Dedupe state, dictionaries, devices, points and day tallies are kept. See docs/collector.md, "Retention".
public struct Retention: Sendable, Equatable {
    /// Readings with `time_ms < now − limit` go.
    public var limitMilliseconds: Int64
    /// Time between passes (each pass runs until nothing older is left).
    public var intervalMilliseconds: Int64
    /// Rows deleted per transaction: ingest waits for at most one chunk.
    public var chunk: Int

    public init(limitMilliseconds: Int64, intervalMilliseconds: Int64 = 300_000, chunk: Int = 10_000) {
        self.limitMilliseconds = limitMilliseconds
        self.intervalMilliseconds = intervalMilliseconds
        self.chunk = max(chunk, 1)
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
}
