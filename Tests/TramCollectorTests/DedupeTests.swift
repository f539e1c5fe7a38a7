import Testing
import TramCollectorStore

@Suite("Epoch dedupe state")
struct DedupeTests {
    @Test("watermark and runs agree with a plain set, for any arrival order and any retransmits")
    func matchesASet() {
        var random = SystemRandomNumberGenerator()
        for round in 0..<300 {
            let start = UInt64(round % 3 == 0 ? 0 : Int.random(in: 0...50, using: &random))
            var arrivals = (start..<start + UInt64(Int.random(in: 1...60, using: &random))).filter { _ in
                Int.random(in: 0..<8, using: &random) != 0
            }
            arrivals += arrivals.prefix(Int.random(in: 0...10, using: &random))
            arrivals.shuffle(using: &random)
            var state = EpochDedupe()
            var seen = Set<UInt64>()
            for s in arrivals {
                let fresh = state.insert(s)
                #expect(fresh == seen.insert(s).inserted)
                // The persisted form (watermark + runs) reloads to the same state.
                #expect(EpochDedupe(watermark: state.watermark, runs: state.runs) == state)
            }
            for s in 0..<(start + 70) { #expect(state.contains(s) == seen.contains(s)) }
            for run in state.runs { #expect(run.lowerBound > state.watermark) }
        }
    }

    @Test("a run from 0 folds into the watermark; gaps cost one run each")
    func compact() {
        var state = EpochDedupe()
        for s: UInt64 in [3, 4, 5, 9, 10, 0, 1] { _ = state.insert(s) }
        #expect(state.watermark == 2)
        #expect(state.runs == [3...5, 9...10])
        _ = state.insert(2)
        #expect(state.watermark == 6)
        #expect(state.runs == [9...10])
        let again = state.insert(4), top = state.insert(UInt64.max), topAgain = state.insert(UInt64.max)
        #expect(!again && top && !topAgain)
    }
}
