import Testing
import TramBatch
import TramReplay
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// The promise of report by exception, checked by replaying traces through the agent's own encoder and filter and
/// rebuilding what a consumer sees (``ExceptionReplay``): no error beyond a deadband, no gap beyond a heartbeat,
/// every quality change seen, a snapshot after every loss.
@Suite("Report by exception: the replay check")
struct ExceptionReplayTests {
    @Test("the standard trace under the goal's rules: within every bound, with and without lost batches")
    func standardTrace() throws {
        let trace = ReplayTrace.standard(seconds: 1800).standardRules()
        for drop in [0.0, 0.05] {
            let report = try ExceptionReplay.run(
                trace, options: .init(pollsPerBatch: 10, dropProbability: drop, seed: 7))
            #expect(report.violationCount == 0, "drop \(drop): \(report.violations)")
            #expect(report.sent + report.suppressed == report.polled)
            #expect(report.polled == 1800 * 100)
            // The walks' deadband of 0.5 and the constants' heartbeat cut what is sent at least threefold.
            #expect(report.sent * 3 <= report.polled, "sent \(report.sent) of \(report.polled)")
            #expect(report.longestGapMilliseconds <= 15_000)
            #expect(report.maximumErrorOverDeadband <= 1 && report.maximumErrorOverDeadband > 0.5)
            if drop > 0 {
                #expect(report.batchesDropped > 0)
                #expect(report.heldNothingAfterLoss > 0, "a loss ends the holds until the snapshot")
            }
        }
    }

    @Test("compared with the last polled value instead of the last sent, drift escapes the deadband")
    func lastPolledBreaksTheBound() throws {
        let trace = ReplayTrace.standard(seconds: 600).standardRules()
        let report = try ExceptionReplay.run(trace, options: .init(reference: .lastPolled))
        #expect(report.violationCount > 0)
        #expect(report.maximumErrorOverDeadband > 1)
    }

    @Test("without rules every poll is sent, and batches stay wire format version 1")
    func offSendsEverything() throws {
        let trace = ReplayTrace.standard(seconds: 60)
        #expect(!trace.dictionary.isVersion2)
        let report = try ExceptionReplay.run(trace)
        #expect(report.sent == report.polled && report.suppressed == 0 && report.violationCount == 0)
    }

    /// `TRAM_REPLAY_TRACES=2000` for a longer campaign (docs/performance.md); the default fits in a few seconds.
    @Test("random traces: walks, steps, spikes, NaN, flapping qualities, offline cycles, clock steps, lost batches")
    func randomTraces() throws {
        let count = getenv("TRAM_REPLAY_TRACES").flatMap { Int(String(cString: $0)) } ?? 60
        var polled = 0, sent = 0, changes = 0, dropped = 0
        for seed in 1...UInt64(count) {
            let trace = ReplayTrace.random(seed: seed)
            let report = try ExceptionReplay.run(
                trace, options: .init(pollsPerBatch: Int(seed % 7) + 1, dropProbability: 0.1, seed: seed))
            #expect(report.violationCount == 0, "seed \(seed): \(report.violations)")
            polled += report.polled; sent += report.sent; changes += report.qualityChanges
            dropped += report.batchesDropped
        }
        #expect(sent < polled && changes > 0 && dropped > 0, "the traces exercise what they claim to")
    }
}
