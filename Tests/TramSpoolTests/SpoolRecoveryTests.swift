import SystemPackage
import Testing
@_spi(Testing) import TramSpool
import TramSchema
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Recovery from lost files and stale state: a deleted segment, a stale or missing ledger, a
/// damaged ledger, and the empty file a `kill -9` leaves while a segment is being created.
/// The spool must start without help and never lose a batch the files still hold.
@Suite("Spool recovery")
struct SpoolRecoveryTests {
    @Test("a deleted segment is counted missing, batch for batch and reading for reading", arguments: 0..<8)
    func deletedSegment(seed: Int) throws {
        let backlog = Backlog(seed: UInt64(seed) &+ 7000)
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 80)
        let victim = backlog.segmentNames.dropLast().dropFirst().randomElement(using: &backlog.random)!
        let gone = Set(backlog.records(victim).compactMap(\.identity))
        // Acknowledged batches in the victim were delivered before it vanished: they stay delivered.
        backlog.acknowledge(spool!, backlog.appended, percent: 25)
        if Bool.random(using: &backlog.random) { try spool!.close() } else { try spool!.sync() }
        spool = nil
        unlink(backlog.directory.appending(victim).string)
        let reopened = try backlog.open()
        backlog.expectReplay(reopened, lost: gone, cause: .missing, "seed \(seed) deleted \(victim)")
    }

    @Test(
        "a stale or missing ledger: the spool starts, resends only what that ledger had not acknowledged, loses nothing",
        arguments: 0..<12)
    func staleLedger(seed: Int) throws {
        let backlog = Backlog(seed: UInt64(seed) &+ 8000)
        let ledger = backlog.directory.appending("ledger")
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 40)
        backlog.acknowledge(spool!, backlog.appended, percent: 30)
        try spool!.sync()
        // The ledger as a backup, or a disk that lost recent writes, would bring it back.
        let stale = readFile(ledger)
        let staleAcknowledged = backlog.acknowledged
        backlog.append(spool!, count: 40)
        backlog.acknowledge(spool!, backlog.appended.subtracting(backlog.acknowledged), percent: 60)
        spool!.tick()  // deletes fully delivered segments the stale ledger still lists
        if Bool.random(using: &backlog.random) { try spool!.close() }
        spool = nil
        let missing = seed % 4 == 0
        if missing { unlink(ledger.string) } else { writeFile(ledger, stale) }

        spool = try backlog.open()
        let note = "seed \(seed) \(missing ? "missing" : "stale") ledger"
        var returned = Set<BatchIdentity>()
        for batch in backlog.drain(spool!) {
            #expect(returned.insert(batch.identity).inserted, "\(note): \(batch.identity) offered twice")
            #expect(backlog.frames[batch.identity] == batch.frame, "\(note): \(batch.identity) came back changed")
        }
        if !missing {
            #expect(
                returned.isDisjoint(with: staleAcknowledged),
                "\(note): resent what even the stale ledger had acknowledged")
        }
        let undelivered = backlog.appended.subtracting(backlog.acknowledged)
        #expect(
            undelivered.isSubset(of: returned), "\(note): lost \(undelivered.subtracting(returned).sorted().prefix(6))")
        #expect(spool!.counters.balances, "\(note): the books do not balance")

        // Once all of it is acknowledged again, nothing comes back, even after another restart.
        spool!.acknowledge(sink: "collector", Array(returned))
        try spool!.close()
        spool = nil
        spool = try backlog.open()
        #expect(backlog.drain(spool!).isEmpty, "\(note): batches came back after everything was acknowledged")
        #expect(spool!.counters.buffered == Tally() && spool!.counters.balances)
    }

    @Test(
        "a flipped bit anywhere in the ledger: the spool starts and loses no batch (it may resend some)",
        arguments: 0..<16)
    func ledgerBitFlip(seed: Int) throws {
        let backlog = Backlog(seed: UInt64(seed) &+ 9000)
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 60)
        backlog.acknowledge(spool!, backlog.appended, percent: 40)
        if Bool.random(using: &backlog.random) { try spool!.close() } else { try spool!.sync() }
        spool = nil
        let ledger = backlog.directory.appending("ledger")
        // Seeds 0 and 1 hit the ledger's header; the others its entries.
        let size = readFile(ledger).count
        let offset =
            seed < 2
            ? Int.random(in: 0..<32, using: &backlog.random) : Int.random(in: 32..<size, using: &backlog.random)
        flipBit(ledger, at: offset, bit: Int.random(in: 0..<8, using: &backlog.random))

        let note = "seed \(seed) flip at ledger byte \(offset) of \(size)"
        do {
            spool = try backlog.open()
        } catch {
            Issue.record("\(note): the spool did not start: \(error)")
            return
        }
        var returned = Set<BatchIdentity>()
        for batch in backlog.drain(spool!) {
            #expect(returned.insert(batch.identity).inserted, "\(note): \(batch.identity) offered twice")
            #expect(backlog.frames[batch.identity] == batch.frame, "\(note): \(batch.identity) came back changed")
        }
        let undelivered = backlog.appended.subtracting(backlog.acknowledged)
        #expect(
            undelivered.isSubset(of: returned), "\(note): lost \(undelivered.subtracting(returned).sorted().prefix(6))")
        #expect(spool!.counters.balances, "\(note): the books do not balance")
    }

    @Test("a kill while a segment file is being created leaves nothing for a person to clean up")
    func crashWhileCreatingSegment() throws {
        let backlog = Backlog(seed: 11_000)
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 30)
        try spool!.sync()
        spool = nil
        // SegmentWriter creates the file, then writes its header: a kill in between leaves it empty.
        let newest = UInt64(backlog.segmentNames.last!.prefix(16), radix: 16)!
        writeFile(backlog.directory.appending(SegmentFormat.fileName(newest + 1)), [])
        spool = try backlog.open()
        #expect(
            spool!.keptFiles.isEmpty,
            "an empty file from an interrupted creation is reported as damaged: \(spool!.keptFiles)")
        #expect(
            !fileSizes(backlog.directory).keys.contains { $0.hasSuffix(".damaged") },
            "files left for a person: \(fileSizes(backlog.directory).keys.sorted())")
        backlog.expectReplay(spool!, lost: [], cause: .corrupt, "after a kill during segment creation")
    }
}
