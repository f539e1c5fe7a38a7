import SystemPackage
import Testing
@_spi(Testing) import TramSpool
import TramSchema
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Corruption injection: damage one thing on disk, reopen, and hold the spool to the exact outcome.
///
/// The spool must start without help, replay every undamaged batch with its exact bytes, and count
/// each damaged one once, under the right cause, with its readings (where the spool can know them).
/// Each case is seeded; clean closes and crashes (dropping the spool) are mixed.
@Suite("Spool corruption")
struct SpoolCorruptionTests {
    /// A backlog of 80 batches over ~15 segments; closed cleanly or dropped (a crash). One sealed
    /// segment (never the first, which holds the dictionary, nor the newest) is the victim: a quarter
    /// of the batches elsewhere are acknowledged, none in it. (`damagedAcknowledged` covers that case.)
    static func build(seed: Int) throws -> (
        Backlog, victim: String, records: [(identity: BatchIdentity?, range: Range<Int>)], cleanly: Bool
    ) {
        let backlog = Backlog(seed: UInt64(seed) &* 104_729 &+ 3)
        let spool = try backlog.open()
        backlog.append(spool, count: 80)
        let victim = backlog.segmentNames.dropLast().dropFirst().randomElement(using: &backlog.random)!
        let records = backlog.records(victim)
        backlog.acknowledge(spool, backlog.appended.subtracting(records.compactMap(\.identity)), percent: 25)
        let cleanly = Bool.random(using: &backlog.random)
        if cleanly { try spool.close() } else { try spool.sync() }
        return (backlog, victim, records, cleanly)
    }

    /// One of the victim's batch records, chosen by the seed.
    static func batchRecord(_ backlog: Backlog, _ records: [(identity: BatchIdentity?, range: Range<Int>)]) -> Int {
        records.indices.filter { records[$0].identity != nil }.randomElement(using: &backlog.random)!
    }

    @Test("a flipped bit in a sealed segment loses exactly the batch it hits", arguments: 0..<24)
    func bitFlip(seed: Int) throws {
        let (backlog, name, records, cleanly) = try Self.build(seed: seed)
        let index = Self.batchRecord(backlog, records)
        let range = records[index].range
        flipBit(
            backlog.directory.appending(name), at: Int.random(in: range, using: &backlog.random),
            bit: Int.random(in: 0..<8, using: &backlog.random))
        let spool = try backlog.open()
        #expect(spool.startedUnclean == !cleanly)
        backlog.expectReplay(
            spool, lost: [records[index].identity!], cause: .corrupt, "seed \(seed) flip in \(name) record \(index)")
    }

    @Test("a zeroed range loses exactly the batches it overlaps", arguments: 0..<24)
    func zeroedRange(seed: Int) throws {
        let (backlog, name, records, _) = try Self.build(seed: seed)
        let index = Self.batchRecord(backlog, records)
        let start = Int.random(in: records[index].range, using: &backlog.random)
        let zeroed = start..<start + Int.random(in: 1...700, using: &backlog.random)
        zero(backlog.directory.appending(name), zeroed)
        let hit = Set(records.filter { $0.range.overlaps(zeroed) }.compactMap(\.identity))
        let spool = try backlog.open()
        backlog.expectReplay(spool, lost: hit, cause: .corrupt, "seed \(seed) zeroed \(zeroed) in \(name)")
    }

    @Test("a sealed segment cut mid-record loses exactly the batches cut off", arguments: 0..<8)
    func truncatedSealed(seed: Int) throws {
        let (backlog, name, records, _) = try Self.build(seed: seed)
        let index = Self.batchRecord(backlog, records)
        let cut = Int.random(in: records[index].range.dropFirst(), using: &backlog.random)
        truncate(backlog.directory.appending(name).string, off_t(cut))
        let hit = Set(records[index...].compactMap(\.identity))
        let spool = try backlog.open()
        // A short file cannot say whether a power cut or damage shortened it: either cause will do.
        backlog.expectReplay(spool, lost: hit, cause: .corrupt, or: .powerLoss, "seed \(seed) cut \(name) at \(cut)")
    }

    @Test(
        "damage to a batch already acknowledged leaves it delivered: the books never take back a delivery",
        arguments: 0..<8)
    func damagedAcknowledged(seed: Int) throws {
        let backlog = Backlog(seed: UInt64(seed) &+ 500)
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 60)
        let victim = backlog.segmentNames.dropLast().dropFirst().randomElement(using: &backlog.random)!
        let records = backlog.records(victim)
        let batches = records.indices.filter { records[$0].identity != nil }
        // Everything in the victim is acknowledged but one batch, so the segment stays on disk.
        let kept = batches.randomElement(using: &backlog.random)!
        let index = batches.filter { $0 != kept }.randomElement(using: &backlog.random)!
        backlog.acknowledge(spool!, batches.filter { $0 != kept }.map { records[$0].identity! }, percent: 100)
        try spool!.close()
        spool = nil
        flipBit(
            backlog.directory.appending(victim), at: Int.random(in: records[index].range, using: &backlog.random),
            bit: Int.random(in: 0..<8, using: &backlog.random))
        let reopened = try backlog.open()
        backlog.expectReplay(
            reopened, lost: [], cause: .corrupt,
            "seed \(seed) flip in acknowledged \(records[index].identity!) of \(victim)")
    }

    @Test(
        "after a crash, the newest segment cut mid-record is a torn tail: the rest replays, appends resume",
        arguments: 0..<8)
    func tornTailAfterCrash(seed: Int) throws {
        let backlog = Backlog(seed: UInt64(seed) &+ 900)
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 60)
        let newest = backlog.segmentNames.last!
        let records = backlog.records(newest)
        // Only batches outside the newest segment are acknowledged: a torn tail is unknown to the ledger.
        backlog.acknowledge(spool!, backlog.appended.subtracting(records.compactMap(\.identity)), percent: 30)
        try spool!.sync()
        spool = nil  // a crash
        let index = records.indices.filter { records[$0].identity != nil }.randomElement(using: &backlog.random)!
        let cut = Int.random(in: records[index].range.dropFirst(), using: &backlog.random)
        truncate(backlog.directory.appending(newest).string, off_t(cut))
        spool = try backlog.open()
        #expect(spool!.startedUnclean)
        // What a crash tore off the newest segment never reached the ledger: nothing can count it.
        backlog.forget(records[index...].compactMap(\.identity))
        let returned = backlog.expectReplay(spool!, lost: [], cause: .corrupt, "seed \(seed) tore \(newest) at \(cut)")
        backlog.acknowledge(spool!, returned, percent: 100)
        backlog.append(spool!, count: 5)
        backlog.expectReplay(spool!, lost: [], cause: .corrupt, "seed \(seed) appends after the torn tail")
    }

    @Test("after a clean close, the newest segment cut mid-record: the batches cut off are counted", arguments: 0..<8)
    func truncatedAfterCleanClose(seed: Int) throws {
        let backlog = Backlog(seed: UInt64(seed) &+ 1900)
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 60)
        let newest = backlog.segmentNames.last!
        let records = backlog.records(newest)
        backlog.acknowledge(spool!, backlog.appended.subtracting(records.compactMap(\.identity)), percent: 30)
        try spool!.close()
        spool = nil
        let index = records.indices.filter { records[$0].identity != nil }.randomElement(using: &backlog.random)!
        let cut = Int.random(in: records[index].range.dropFirst(), using: &backlog.random)
        truncate(backlog.directory.appending(newest).string, off_t(cut))
        spool = try backlog.open()
        // The clean close recorded the next sequence number, so the spool knows how many batches are
        // gone (not their readings): every one of them must show up as dropped, none as replayed.
        let cutOff = Set(records[index...].compactMap(\.identity))
        let returned = Set(backlog.drain(spool!).map(\.identity))
        #expect(returned == backlog.appended.subtracting(backlog.acknowledged).subtracting(cutOff), "seed \(seed)")
        // Everything was synced and the stop was clean, so the spool can know exactly what it held.
        let counters = spool!.counters
        #expect(counters.balances)
        #expect(
            counters.dropped[.corrupt, default: Tally()] + counters.dropped[.powerLoss, default: Tally()]
                == backlog.tally(cutOff),
            "seed \(seed): \(backlog.tally(cutOff)) cut off a cleanly closed segment; counted dropped: \(counters.dropped)"
        )
        #expect(
            counters.appended == backlog.tally(backlog.appended),
            "seed \(seed): appended \(counters.appended) of \(backlog.tally(backlog.appended))")
    }
}
