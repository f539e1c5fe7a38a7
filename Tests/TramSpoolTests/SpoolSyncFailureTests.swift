import Testing
import TramSchema
@_spi(Testing) import TramSpool

/// A failed fdatasync is never retried on the same data: the kernel may already have dropped the dirty
/// pages, and a second call would report success for data that is gone (PostgreSQL's "fsyncgate").
@Suite("Spool sync failure")
struct SpoolSyncFailureTests {
    @Test("batches since the last good sync are counted sync_failed, writing moves to a new segment, the rest is kept")
    func syncFailure() throws {
        let scratch = ScratchDirectory()
        let clock = ManualClock()
        let options = SpoolOptions(directory: scratch.path, sinks: ["collector"])
        var spool: Spool? = try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
        func append(_ count: Int) -> [BatchIdentity] {
            (0..<count).map { _ in
                let identity = spool!.nextIdentity
                _ = testFrame(identity, length: 200).withUnsafeBytes {
                    spool!.appendBatch($0, identity: identity, readings: 7, schemaID: 1)
                }
                return identity
            }
        }
        let durable = append(3)
        try spool!.sync()
        _ = append(2)  // appended after the last good sync: their fate is unknown
        let segmentsBefore = spool!.status.segments
        spool!.simulatedSyncFailure = true
        try spool!.sync()
        spool!.simulatedSyncFailure = false
        #expect(spool!.counters.dropped[.syncFailed] == Tally(readings: 14, batches: 2))
        let after = append(2)
        try spool!.sync()
        #expect(spool!.status.segments == segmentsBefore + 1, "writing moved to a fresh segment")
        #expect(spool!.counters.balances)

        // The doubtful batches are never offered again, in this run or the next.
        let offered = spool!.nextBatches(for: "collector", limit: 100).map(\.identity)
        #expect(offered == durable + after)
        try spool!.close()
        spool = nil
        spool = try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
        #expect(spool!.nextBatches(for: "collector", limit: 100).map(\.identity) == durable + after)
        #expect(spool!.counters.dropped[.syncFailed] == Tally(readings: 14, batches: 2) && spool!.counters.balances)
    }
}
