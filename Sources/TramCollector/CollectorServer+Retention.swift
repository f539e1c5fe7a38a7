import TramCollectorStore

/// `--retention` on a running server: passes on the store's queue, at start and every interval.
extension CollectorServer {
    /// What one pass deleted.
    struct RetentionDeleted: Equatable {
        var readings = 0
        var rollups = 0
    }

    /// One retention pass: the readings, then the minute, hour and day rollups, each in chunks until a chunk comes
    /// back short. Each chunk is its own call on the store's queue, so ingest requests queued meanwhile run between
    /// chunks. `point_latest` is never touched.
    @discardableResult
    func retentionPass(_ retention: Retention, now: Int64 = nowMilliseconds()) async throws -> RetentionDeleted {
        let cutoffs = retention.cutoffs(now: now)
        var deleted = RetentionDeleted()
        deleted.readings = try await chunks(retention.chunk) { store in
            try store.deleteReadings(olderThan: cutoffs.readings, limit: retention.chunk)
        }
        metrics.retentionDeleted(deleted.readings)
        for (width, cutoff) in [
            (RollupRules.minuteMilliseconds, cutoffs.minuteRollups),
            (RollupRules.hourMilliseconds, cutoffs.hourRollups),
            (RollupRules.dayMilliseconds, cutoffs.dayRollups),
        ] {
            deleted.rollups += try await chunks(retention.chunk) { store in
                try store.deleteRollups(width: width, olderThan: cutoff, limit: retention.chunk)
            }
        }
        metrics.retentionDeletedRollups(deleted.rollups)
        metrics.retentionPassed()
        if deleted != RetentionDeleted() {
            logger.info(
                "retention deleted readings and rollups",
                metadata: [
                    "readings": "\(deleted.readings)", "before_ms": "\(cutoffs.readings)",
                    "rollups": "\(deleted.rollups)", "minute_rollups_before_ms": "\(cutoffs.minuteRollups)",
                    "hour_rollups_before_ms": "\(cutoffs.hourRollups)",
                ])
        }
        return deleted
    }

    /// Runs `chunk` on the store's queue until it deletes fewer than `size` rows; returns the total.
    private func chunks(_ size: Int, _ chunk: @escaping @Sendable (CollectorStore) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            try Task.checkCancellation()
            let deleted = try await executor.run(chunk)
            total += deleted
            if deleted < size { return total }
        }
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
