import SystemPackage
import Testing
import SpoolCrashWorkload
import TramSchema
import TramSpool
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The `kill -9` loop: a real child process (`tram-spool-crash-child`) appends, reads back and
/// acknowledges while this test kills it at seeded random points, then opens the same spool
/// in-process and holds it to what the child reported before it died. No reading that was
/// appended or acknowledged may be lost, and none may be delivered again past its acknowledgement.
///
/// Four directories of 55 cycles each (220 kills) run in parallel to keep the suite fast.
@Suite("Spool kill -9")
struct SpoolCrashTests {
    /// What the test knows for sure about one spool directory, across all its cycles.
    struct Books {
        /// Every batch known to be stored, with its readings: reported by the child, or replayed.
        var appended: [BatchIdentity: Int] = [:]
        var acknowledged: Set<BatchIdentity> = []
        /// The epoch of the newest run (child or test).
        var epoch: UInt64 = 0
        var closedCleanly = false
        var uncleanStarts = 0
    }

    @Test(
        "a child killed at random points loses no appended or acknowledged batch and replays none twice",
        arguments: 0..<4)
    func killLoop(directoryIndex: Int) throws {
        guard let child = ChildProcess.locateProduct("tram-spool-crash-child") else {
            Issue.record(
                "tram-spool-crash-child not found next to the test binary (\(CommandLine.arguments.first ?? "?")); build it with `swift build --build-tests`"
            )
            return
        }
        let scratch = ScratchDirectory()
        var random = SeededRandom(seed: 0x6B69_6C6C_0000 &+ UInt64(directoryIndex))
        var books = Books()
        for cycle in 0..<55 {
            // Stop at the first broken cycle: later ones would only repeat it.
            guard try runCycle(cycle, child: child, directory: scratch.path, random: &random, books: &books) else {
                return
            }
        }
        // Finally deliver everything: the spool must empty out, with the books exact to the end.
        let spool = try Spool(
            options: crashSpoolOptions(directory: scratch.path, segmentBytes: 4096, syncMilliseconds: 1000),
            logger: quietLogger)
        let batches = drain(spool)
        spool.acknowledge(sink: crashSink, batches.map(\.identity))
        books.acknowledged.formUnion(batches.map(\.identity))
        spool.tick()
        try spool.close()
        let counters = spool.counters
        #expect(counters.buffered == Tally() && counters.droppedTotal == Tally())
        #expect(counters.delivered == tally(books.appended.keys, books))
        #expect(spool.status.segments <= 1, "delivered segments must be deleted: \(spool.status.segments) left")
        #expect(
            books.uncleanStarts > 20, "too few kills landed after the child opened the spool: \(books.uncleanStarts)")
    }

    /// One child run and kill, then the in-process check, partial acknowledgement and a clean or dirty stop.
    /// False when the spool broke a promise (the details are recorded as issues).
    private func runCycle(
        _ cycle: Int, child: String, directory: FilePath, random: inout SeededRandom, books: inout Books
    ) throws -> Bool {
        let killAfter = Int.random(in: 0...10, using: &random) == 0 ? 0 : Int.random(in: 1...70, using: &random)
        let segmentBytes = Int.random(in: 600...4000, using: &random)
        let syncMilliseconds = [Int64(1), 10, 1000].randomElement(using: &random)!
        let process = try ChildProcess(
            child,
            [directory.string, "\(random.next())", "\(killAfter + 25)", "\(segmentBytes)", "\(syncMilliseconds)"])
        if killAfter == 0 {
            // Kill while the child is still starting or recovering.
            usleep(UInt32.random(in: 0...4000, using: &random))
        } else if !process.readLines(atLeast: killAfter, timeoutMilliseconds: 20_000) {
            process.killAndCollect()
            Issue.record(
                "cycle \(cycle): the child wrote \(process.lines.count) of \(killAfter) lines, then \(process.lines.last ?? "nothing")"
            )
            return false
        }
        process.killAndCollect()
        #expect(
            process.terminatingSignal == SIGKILL,
            "cycle \(cycle): the child ended by itself (\(process.exitCode ?? -1)): \(process.lines.last ?? "")")

        // What the child reported, in order.
        var childEpoch: UInt64?
        var nextSequence: UInt64 = 0
        var maybeAcknowledged = Set<BatchIdentity>()
        for line in process.lines {
            let fields = line.split(separator: " ")
            let numbers = fields.dropFirst().compactMap { UInt64($0) }
            switch fields.first {
            case "O":
                childEpoch = numbers[0]
                nextSequence = numbers[1]
                if books.epoch == 0 {
                    // The first run: a fresh directory, or one a child was killed while creating.
                } else if books.closedCleanly {
                    #expect(
                        numbers[0] == books.epoch && numbers[2] == 0,
                        "cycle \(cycle): after a clean close the epoch continues: \(line)")
                } else {
                    #expect(
                        numbers[0] > books.epoch && numbers[2] == 1,
                        "cycle \(cycle): after an unclean stop a new epoch begins: \(line)")
                }
                books.epoch = numbers[0]
            case "A":
                let identity = BatchIdentity(epoch: numbers[0], sequence: numbers[1])
                #expect(
                    identity == BatchIdentity(epoch: childEpoch ?? 0, sequence: nextSequence),
                    "cycle \(cycle): unexpected identity \(identity)")
                #expect(books.appended[identity] == nil, "cycle \(cycle): identity \(identity) appended twice")
                #expect(Int(numbers[2]) == crashReadings(identity))
                books.appended[identity] = Int(numbers[2])
                nextSequence = numbers[1] + 1
            case "P":
                maybeAcknowledged.insert(BatchIdentity(epoch: numbers[0], sequence: numbers[1]))
            case "K":
                let identity = BatchIdentity(epoch: numbers[0], sequence: numbers[1])
                maybeAcknowledged.remove(identity)
                books.acknowledged.insert(identity)
            case "E":
                Issue.record("cycle \(cycle): the child found: \(line)")
            default:
                break
            }
        }

        // Open it here, as the restarted agent would, and replay everything.
        let spool = try Spool(
            options: crashSpoolOptions(directory: directory, segmentBytes: segmentBytes, syncMilliseconds: 1000),
            logger: quietLogger)
        if let childEpoch {
            #expect(spool.startedUnclean, "cycle \(cycle): a killed run must be seen as unclean")
            #expect(
                spool.epoch > childEpoch, "cycle \(cycle): epoch \(spool.epoch) after the killed run's \(childEpoch)")
        }
        if spool.startedUnclean { books.uncleanStarts += 1 }
        #expect(spool.epoch >= books.epoch)
        books.epoch = spool.epoch

        let batches = drain(spool)
        var replayed = Set<BatchIdentity>()
        var unreported = 0
        for batch in batches {
            let identity = batch.identity
            #expect(replayed.insert(identity).inserted, "cycle \(cycle): \(identity) replayed twice")
            #expect(
                !books.acknowledged.contains(identity), "cycle \(cycle): \(identity) replayed after it was acknowledged"
            )
            #expect(
                batch.frame == crashFrame(identity) && batch.readings == crashReadings(identity),
                "cycle \(cycle): \(identity) came back changed")
            if books.appended[identity] == nil {
                // The append the kill interrupted after it stored the batch but before it was reported.
                unreported += 1
                #expect(
                    identity == BatchIdentity(epoch: childEpoch ?? 0, sequence: nextSequence),
                    "cycle \(cycle): unknown batch \(identity)")
                books.appended[identity] = batch.readings
            }
        }
        #expect(unreported <= 1, "cycle \(cycle): \(unreported) batches nobody reported appending")
        // An acknowledgement the kill interrupted either landed (never replayed) or did not (replayed).
        books.acknowledged.formUnion(maybeAcknowledged.subtracting(replayed))
        let lost = books.appended.keys.filter { !books.acknowledged.contains($0) && !replayed.contains($0) }
        #expect(lost.isEmpty, "cycle \(cycle): appended, never acknowledged, not replayed: \(lost.sorted().prefix(5))")
        guard lost.isEmpty, unreported <= 1, checkBooks(spool, books, cycle) else { return false }

        // Deliver part of the backlog so some persists into the next cycle; then stop cleanly or not.
        let fraction = Int.random(in: 0...100, using: &random)
        var acknowledging = batches.map(\.identity).filter { _ in Int.random(in: 0..<100, using: &random) < fraction }
        acknowledging.shuffle(using: &random)
        spool.acknowledge(sink: crashSink, acknowledging)
        books.acknowledged.formUnion(acknowledging)
        if Bool.random(using: &random) { spool.tick() }
        guard checkBooks(spool, books, cycle) else { return false }
        books.closedCleanly = Bool.random(using: &random)
        if books.closedCleanly { try spool.close() }
        return true
    }

    /// The books must be exact: nothing dropped, everything acknowledged delivered, the rest buffered.
    @discardableResult
    private func checkBooks(_ spool: Spool, _ books: Books, _ cycle: Int) -> Bool {
        let counters = spool.counters
        #expect(counters.balances, "cycle \(cycle): the books do not balance")
        #expect(counters.droppedTotal == Tally(), "cycle \(cycle): a kill -9 must drop nothing: \(counters.dropped)")
        let delivered = tally(books.acknowledged, books)
        #expect(counters.delivered == delivered, "cycle \(cycle): delivered")
        #expect(
            counters.buffered == tally(books.appended.keys, books)
                + Tally(readings: -delivered.readings, batches: -delivered.batches),
            "cycle \(cycle): buffered")
        #expect(counters.appended.batches == books.appended.count, "cycle \(cycle): appended")
        let dictionaryKept =
            counters.buffered.batches == 0 || spool.dictionary(schemaID: crashSchemaID) == crashDictionary
        #expect(dictionaryKept, "cycle \(cycle): the dictionary the backlog needs is gone")
        return counters.balances && counters.droppedTotal == Tally() && counters.delivered == delivered
            && counters.appended.batches == books.appended.count && dictionaryKept
    }

    private func tally(_ identities: some Sequence<BatchIdentity>, _ books: Books) -> Tally {
        identities.reduce(Tally()) { $0 + Tally(readings: books.appended[$1] ?? 0, batches: 1) }
    }

    private func drain(_ spool: Spool) -> [SpoolBatch] {
        var all: [SpoolBatch] = []
        while true {
            let batches = spool.nextBatches(for: crashSink, limit: 64)
            if batches.isEmpty { return all }
            all += batches
        }
    }
}
