import Testing
@testable import TramSpool

/// Replay must not starve live data: with a backlog on disk, batches appended now still go out at once.
@Suite("Spool replay order")
struct SpoolReplayTests {
    /// A spool with `backlog` batches from an earlier run, then `live` appended in this run.
    static func spool(_ replay: SpoolOptions.ReplayOrder, in scratch: ScratchDirectory, backlog: Int, live: Int) throws
        -> (Spool, ManualClock)
    {
        let clock = ManualClock()
        let options = SpoolOptions(directory: scratch.path, segmentBytes: 2_000, replay: replay)
        var first: Spool? = try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
        for _ in 0..<backlog { append(to: first!) }
        try first!.close()
        first = nil
        let spool = try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
        for _ in 0..<live { append(to: spool) }
        return (spool, clock)
    }

    static func append(to spool: Spool) {
        let identity = spool.nextIdentity
        testFrame(identity, length: 300).withUnsafeBytes {
            _ = spool.appendBatch($0, identity: identity, readings: 10, schemaID: 1)
        }
    }

    @Test("live first: this run's batches go before the backlog, and new ones overtake it as they arrive")
    func liveFirst() throws {
        let scratch = ScratchDirectory()
        let (spool, _) = try Self.spool(.liveFirst, in: scratch, backlog: 20, live: 3)
        let firstTake = spool.nextBatches(for: "collector", limit: 5).map(\.identity.sequence)
        #expect(firstTake == [20, 21, 22, 0, 1])
        Self.append(to: spool)
        Self.append(to: spool)
        let secondTake = spool.nextBatches(for: "collector", limit: 4).map(\.identity.sequence)
        #expect(secondTake == [23, 24, 2, 3], "fresh batches overtake the backlog that is still draining")
    }

    @Test("interleaved: one live batch, then one from the backlog, in turn")
    func interleaved() throws {
        let scratch = ScratchDirectory()
        let (spool, _) = try Self.spool(.interleaved, in: scratch, backlog: 6, live: 3)
        let taken = spool.nextBatches(for: "collector", limit: 9).map(\.identity.sequence)
        #expect(taken == [6, 0, 7, 1, 8, 2, 3, 4, 5])
    }

    @Test("a released batch goes first next time; an acknowledged one never comes back")
    func releaseAndAcknowledge() throws {
        let scratch = ScratchDirectory()
        let (spool, _) = try Self.spool(.liveFirst, in: scratch, backlog: 4, live: 0)
        let batches = spool.nextBatches(for: "collector", limit: 3)
        spool.acknowledge(sink: "collector", [batches[0].identity, batches[2].identity])
        spool.release(sink: "collector", [batches[1].identity])
        #expect(spool.nextBatches(for: "collector", limit: 10).map(\.identity.sequence) == [1, 3])
        #expect(spool.counters.delivered.batches == 2 && spool.counters.balances)
    }
}
