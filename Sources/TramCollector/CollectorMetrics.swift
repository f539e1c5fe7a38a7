import Dispatch
import Foundation
import Synchronization
import TramCollectorStore

/// Counters for /metrics (Prometheus text format 0.0.4).
public final class CollectorMetrics: Sendable {
    struct Counters {
        var readings = 0
        var batches = 0
        var duplicates = 0
        var dictionaries = 0
        var lossMarks = 0
        var bytes = 0
        var rejects: [String: Int] = [:]
        var requests: [Int: Int] = [:]
        var retentionDeleted = 0
        var retentionDeletedRollups = 0
        var retentionPasses = 0
    }
    private let counters = Mutex(Counters())

    public init() {}

    func stored(_ summary: IngestSummary, bytes: Int) {
        counters.withLock {
            $0.readings += summary.readings
            $0.batches += summary.batches.count { !$0.duplicate }
            $0.duplicates += summary.batches.count { $0.duplicate }
            $0.dictionaries += summary.dictionaries
            $0.lossMarks += summary.losses
            $0.bytes += bytes
        }
    }

    func answered(status: Int, reason: String?) {
        counters.withLock {
            $0.requests[status, default: 0] += 1
            if let reason { $0.rejects[reason, default: 0] += 1 }
        }
    }

    func retentionDeleted(_ rows: Int) {
        counters.withLock { $0.retentionDeleted += rows }
    }

    func retentionDeletedRollups(_ rows: Int) {
        counters.withLock { $0.retentionDeletedRollups += rows }
    }

    func retentionPassed() {
        counters.withLock { $0.retentionPasses += 1 }
    }

    public func render() -> String {
        let c = counters.withLock { $0 }
        var out = ""
        func counter(_ name: String, _ help: String, _ samples: [(String, Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        counter("tram_collector_readings_total", "Readings stored.", [("", c.readings)])
        counter("tram_collector_batches_total", "Batches stored (duplicates excluded).", [("", c.batches)])
        counter(
            "tram_collector_duplicate_batches_total", "Batches received again and not stored twice.",
            [("", c.duplicates)])
        counter("tram_collector_dictionaries_total", "Dictionaries stored.", [("", c.dictionaries)])
        counter(
            "tram_collector_loss_marks_total",
            "Dropped ranges of batches that gateways reported (loss marks recorded; a held value ends at one).",
            [("", c.lossMarks)])
        counter("tram_collector_ingest_bytes_total", "Body bytes of ingest requests that were stored.", [("", c.bytes)])
        let reasons = [
            "unauthorized", "forbidden", "rate-limited", "too-large", "unsupported-media-type", "empty", "malformed",
            "schema-unknown", "store-error",
        ]
        counter(
            "tram_collector_rejects_total", "Ingest requests refused, by reason.",
            Set(reasons).union(c.rejects.keys).sorted().map { ("{reason=\"\($0)\"}", c.rejects[$0] ?? 0) })
        counter(
            "tram_collector_ingest_requests_total", "Ingest requests answered, by HTTP status.",
            c.requests.keys.sorted().map { ("{status=\"\($0)\"}", c.requests[$0]!) })
        counter(
            "tram_collector_retention_deleted_readings_total",
            "Readings deleted by --retention (older than the limit).",
            [("", c.retentionDeleted)])
        counter(
            "tram_collector_retention_deleted_rollups_total",
            "Rollup rows deleted by --retention (minute rollups after 45 days, hour rollups after --rollup-retention).",
            [("", c.retentionDeletedRollups)])
        counter("tram_collector_retention_passes_total", "Retention passes completed.", [("", c.retentionPasses)])
        return out
    }
}
