import TramCollectorStore

/// `--retention` on a running server: passes on the store's queue, at start and every interval.
extension CollectorServer {
    /// One retention pass: chunks until a chunk comes back short. Each chunk is its own call on the store's queue, so
    /// ingest requests queued meanwhile run between chunks. Returns the rows deleted.
    @discardableResult
    func retentionPass(_ retention: Retention, now: Int64 = nowMilliseconds()) async throws -> Int {
        let cutoff = now - retention.limitMilliseconds
        var total = 0
        while true {
            try Task.checkCancellation()
            let deleted = try await executor.run { store in
                try store.deleteReadings(olderThan: cutoff, limit: retention.chunk)
            }
            total += deleted
            metrics.retentionDeleted(deleted)
            if deleted < retention.chunk { break }
        }
        metrics.retentionPassed()
        if total > 0 {
            logger.info("retention deleted readings", metadata: ["rows": "\(total)", "before_ms": "\(cutoff)"])
        }
        return total
    }

    /// Runs a pass at start and then every interval, until cancelled. A failed pass is logged and retried next time.
    func retentionLoop(_ retention: Retention) async {
        while !Task.isCancelled {
            do {
                try await retentionPass(retention)
            } catch is CancellationError {
                return
            } catch {
                logger.error("retention pass failed", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: .milliseconds(retention.intervalMilliseconds)) } catch { return }
        }
    }
}
