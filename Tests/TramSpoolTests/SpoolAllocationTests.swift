import CAllocationCounter
import Testing
import TramSchema
import TramSpool

/// The poll → encode → spool path stays allocation-free: appending a batch to the active segment
/// allocates nothing but the summary's occasional growth (four bytes a batch, doubling).
@Suite("Spool allocations")
struct SpoolAllocationTests {
    @Test("a thousand appends allocate at most the summary's amortised growth")
    func appendsDoNotAllocate() throws {
        let scratch = ScratchDirectory()
        let clock = ManualClock()
        // A long sync interval and a large segment: this measures the append itself, not a roll or a sync.
        let options = SpoolOptions(directory: scratch.path, syncIntervalMilliseconds: 1 << 40, segmentBytes: 64 << 20)
        let spool = try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
        let frame = testFrame(BatchIdentity(epoch: 1, sequence: 1), length: 400)
        try frame.withUnsafeBytes { bytes in
            func append() {
                let identity = spool.nextIdentity
                _ = spool.appendBatch(bytes, identity: identity, readings: 100, schemaID: 1)
            }
            for _ in 0..<16 { append() }  // warm-up: the first segment, lazy statics
            let before = tram_allocations_on_this_thread()
            for _ in 0..<1000 { append() }
            let allocations = tram_allocations_on_this_thread() - before
            #expect(allocations <= 12, "\(allocations) allocations in 1,000 appends")
            try #require(spool.counters.appended.batches == 1016)
        }
    }
}
