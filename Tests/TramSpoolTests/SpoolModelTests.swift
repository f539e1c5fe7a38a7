import SystemPackage
import Testing
@_spi(Testing) import TramSpool
import TramSchema
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Model-based property test: random sequences of append, deliver (ack, partial ack, release),
/// sync, tick, crash (`kill -9`), clean restart, power cut with partial writeback, and
/// corruption, checked against an in-memory model after every step that can break something.
@Suite("Spool model")
struct SpoolModelTests {
    enum Fate { case pending, delivered }

    struct Model {
        var frames: [BatchIdentity: [UInt8]] = [:]
        var readings: [BatchIdentity: Int] = [:]
        var schemaOf: [BatchIdentity: UInt64] = [:]
        var dictionaries: [UInt64: [UInt8]] = [:]
        /// Acknowledged by each sink and returned from `acknowledge`.
        var acknowledged: [String: Set<BatchIdentity>] = [:]
        /// Acknowledgements durable at the last sync (a power cut keeps these).
        var syncedAcknowledged: [String: Set<BatchIdentity>] = [:]
        var inFlight: [String: Set<BatchIdentity>] = [:]
        /// Appended since the last sync: a power cut may take them.
        var unsynced: Set<BatchIdentity> = []
        /// Batches the run may legitimately give up (overflow, age, corruption, power cut).
        var mayDrop: Set<BatchIdentity> = []
        var refused = Tally()
        var powerCuts = 0
        var corrupted = false
        /// Acknowledged after the last sync before a power cut: the spool may offer these again.
        var ackMaybeLost: [String: Set<BatchIdentity>] = [:]
        /// Appended while the disk was full: in RAM until written. A crash takes them uncounted (the
        /// documented gap); a clean close counts them dropped.
        var held: Set<BatchIdentity> = []
    }

    struct Run {
        var random: SeededRandom
        let directory: FilePath
        let clock = ManualClock()
        let options: SpoolOptions
        var spool: Spool?
        var model = Model()
        var schema: UInt64 = 0x5C4E_0001
        var droppingAllowed: Bool

        init(seed: UInt64, directory: FilePath) throws {
            random = SeededRandom(seed: seed)
            self.directory = directory
            let bounded = Bool.random(using: &random)
            let sinks = Bool.random(using: &random) ? ["collector"] : ["collector", "vm"]
            options = SpoolOptions(
                directory: directory, maximumBytes: bounded ? Int.random(in: 12_000...40_000, using: &random) : 1 << 30,
                maximumAgeMilliseconds: Bool.random(using: &random) ? 3_600_000 : 86_400_000 * 365,
                overflow: Bool.random(using: &random) ? .dropOldest : .dropNewest,
                syncIntervalMilliseconds: 1 << 40, segmentBytes: Int.random(in: 1_500...6_000, using: &random),
                sinks: sinks, replay: Bool.random(using: &random) ? .liveFirst : .interleaved,
                diskFullRingBytes: Int.random(in: 500...3_000, using: &random))
            droppingAllowed = bounded || options.maximumAgeMilliseconds < 86_400_000
            spool = try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
            appendDictionary()
            sync()
        }

        mutating func appendDictionary() {
            schema &+= 1
            let frame = testFrame(BatchIdentity(epoch: 0, sequence: schema), length: 40)
            model.dictionaries[schema] = frame
            frame.withUnsafeBytes { _ = spool!.appendDictionary($0, schemaID: schema) }
        }

        mutating func append() {
            let identity = spool!.nextIdentity
            let frame = testFrame(identity, length: Int.random(in: 8...400, using: &random))
            let readings = Int.random(in: 1...120, using: &random)
            let waiting = spool!.heldIdentities.count
            let outcome = frame.withUnsafeBytes {
                spool!.appendBatch($0, identity: identity, readings: readings, schemaID: schema)
            }
            switch outcome {
            case .stored:
                model.frames[identity] = frame
                model.readings[identity] = readings
                model.schemaOf[identity] = schema
                model.unsynced.insert(identity)
                if droppingAllowed { model.mayDrop.insert(identity) }
            case .dropped(let cause):
                #expect(cause == .overflow && droppingAllowed, "only a bounded spool refuses a batch")
                model.refused += Tally(readings: readings, batches: 1)
            case .heldInMemory:
                #expect(
                    spool!.simulatedDiskFull || waiting > 0,
                    "a batch was held in memory with room on disk and an empty ring")
                model.frames[identity] = frame
                model.readings[identity] = readings
                model.schemaOf[identity] = schema
                model.unsynced.insert(identity)
                model.held.insert(identity)
                // The ring may overflow: its oldest batches are then dropped and counted.
                model.mayDrop.insert(identity)
            }
        }

        /// Takes batches for a sink, checks each against the model, then acks, partly acks or releases them.
        mutating func deliver(_ sink: String, acknowledging: Bool? = nil) -> Int {
            let batches = spool!.nextBatches(
                for: sink, limit: Int.random(in: 1...12, using: &random), maximumBytes: 4_000)
            for batch in batches {
                if getenv("TRAM_SPOOL_TRACE") != nil, !model.corrupted,
                    spool!.dictionary(schemaID: batch.schemaID) == nil
                {
                    print("NODICT", batch.identity, batch.schemaID, spool!.debugDescription.prefix(400))
                    for (name, _) in fileSizes(directory).sorted(by: { $0.key < $1.key }) where name.hasSuffix(".seg") {
                        let bytes = readFile(directory.appending(name))
                        if case .success(let scan) = bytes.withUnsafeBytes({ SegmentScanner.scan($0) }) {
                            print(
                                name,
                                scan.records.map { r in
                                    bytes.withUnsafeBytes {
                                        let h = RecordHeader.decode(
                                            UnsafeRawBufferPointer(rebasing: $0[r.offset..<r.offset + r.length]))!.0;
                                        return "\(h.kind == .batch ? "" : "D")\(h.identity):\(h.schemaID % 1000)"
                                    }
                                }, scan.corrupt, scan.tornBytes)
                        }
                    }
                }
                #expect(
                    model.frames[batch.identity] == batch.frame,
                    "replayed frame \(batch.identity) differs from what was appended")
                #expect(model.readings[batch.identity] == batch.readings)
                #expect(
                    model.acknowledged[sink, default: []].contains(batch.identity) == false
                        || model.ackMaybeLost[sink, default: []].contains(batch.identity),
                    "\(batch.identity) offered to \(sink) after it was acknowledged")
                #expect(
                    model.inFlight[sink, default: []].insert(batch.identity).inserted,
                    "\(batch.identity) offered twice while in flight")
                #expect(
                    model.corrupted
                        || spool!.dictionary(schemaID: batch.schemaID) == model.dictionaries[batch.schemaID],
                    "the dictionary for \(batch.identity)'s schema is gone")
            }
            let choice = acknowledging.map { $0 ? 0 : 2 } ?? Int.random(in: 0...3, using: &random)
            var acked: [BatchIdentity] = [], released: [BatchIdentity] = []
            for batch in batches {
                if choice == 0 || choice == 3 || (choice == 1 && Bool.random(using: &random)) {
                    acked.append(batch.identity)
                } else {
                    released.append(batch.identity)
                }
            }
            if choice == 3 { acked.shuffle(using: &random) }
            spool!.acknowledge(sink: sink, acked)
            spool!.release(sink: sink, released)
            model.acknowledged[sink, default: []].formUnion(acked)
            model.inFlight[sink, default: []].subtract(acked)
            model.inFlight[sink, default: []].subtract(released)
            return batches.count
        }

        mutating func sync() {
            try! spool!.sync()
            model.unsynced.removeAll()
            model.syncedAcknowledged = model.acknowledged
        }

        mutating func toggleDiskFull() {
            spool!.simulatedDiskFull.toggle()
        }

        /// Batches still in the RAM ring when the process dies were never stored anywhere.
        mutating func forgetHeld() {
            let ring = Set(spool!.heldIdentities)
            #expect(ring.isSubset(of: model.held), "the ring holds batches that were not held")
            for identity in ring {
                model.frames[identity] = nil
                model.readings[identity] = nil
                model.mayDrop.remove(identity)
            }
            model.held.removeAll()
        }

        mutating func crash() throws {
            // Held batches that reached the disk before the crash survive; the rest vanish.
            forgetHeld()
            spool = nil
            try reopen(expectUnclean: true)
        }

        mutating func cleanRestart() throws {
            let epoch = spool!.epoch
            try spool!.close()
            model.unsynced.removeAll()
            model.syncedAcknowledged = model.acknowledged
            spool = nil
            try reopen(expectUnclean: false)
            #expect(spool!.epoch == epoch, "a clean restart keeps the epoch")
        }

        /// Drops the process, then lets each file keep a random part of what was written since the last sync.
        mutating func powerCut() throws {
            forgetHeld()
            let durable = spool!.durableSizes
            spool = nil
            for (name, size) in fileSizes(directory).sorted(by: { $0.key < $1.key }) {
                guard let kept = durable[name] else { continue }
                if size > kept {
                    truncate(
                        directory.appending(name).string, off_t(Int.random(in: min(kept, size)...size, using: &random)))
                }
            }
            model.mayDrop.formUnion(model.unsynced)
            for (sink, acked) in model.acknowledged {
                model.ackMaybeLost[sink, default: []].formUnion(
                    acked.subtracting(model.syncedAcknowledged[sink, default: []]))
            }
            model.powerCuts += 1
            try reopen(expectUnclean: true)
        }

        private mutating func reopen(expectUnclean: Bool) throws {
            let before = model.frames.keys.map(\.epoch).max() ?? 0
            spool = try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
            // Opening syncs the ledger, and after an unclean stop the whole file system.
            model.unsynced.removeAll()
            model.syncedAcknowledged = model.acknowledged
            model.inFlight = [:]
            model.held.removeAll()
            // As the agent does after every open: its current dictionary, in case the last copy was lost
            // (held in RAM at a crash, or cut by a power cut).
            model.dictionaries[schema]!.withUnsafeBytes { _ = spool!.appendDictionary($0, schemaID: schema) }
            #expect(spool!.startedUnclean == expectUnclean)
            if expectUnclean { #expect(spool!.epoch > before, "an unclean start must begin a new epoch") }
            check()
        }

        /// Flips one byte in a sealed segment's records.
        mutating func corrupt() {
            let sealed = fileSizes(directory).filter { $0.key.hasSuffix(".seg") && $0.value > 64 }.keys.sorted()
                .dropLast()
            guard let name = sealed.randomElement(using: &random), let size = fileSizes(directory)[name] else { return }
            let fd = open(directory.appending(name).string, O_RDWR)
            var byte: UInt8 = 0
            let offset = off_t(Int.random(in: 32..<size, using: &random))
            pread(fd, &byte, 1, offset)
            byte ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
            pwrite(fd, &byte, 1, offset)
            close(fd)
            // Any batch may be in the flipped record; the check below holds the spool to exact counts.
            model.mayDrop.formUnion(model.frames.keys)
            model.corrupted = true
        }

        func check() {
            let counters = spool!.counters
            #expect(counters.balances, "appended \(counters.appended) != delivered + buffered + dropped")
        }

        /// Drains every sink and checks the books against the model.
        mutating func finish() throws {
            // Space returns: what waited in RAM is written within the retry interval.
            spool!.simulatedDiskFull = false
            clock.advance(milliseconds: 200)
            spool!.tick()
            #expect(spool!.heldIdentities.isEmpty, "space returned, yet batches still wait in RAM")
            for sink in options.sinks {
                var rounds = 0
                while deliver(sink, acknowledging: true) > 0 { rounds += 1; precondition(rounds < 100_000) }
            }
            let counters = spool!.counters
            check()
            #expect(counters.buffered == Tally(), "everything was delivered, yet \(counters.buffered) are buffered")
            if getenv("TRAM_SPOOL_TRACE") != nil, counters.buffered != Tally() {
                print("BUFFERED", spool!.debugDescription.prefix(300))
                for (name, _) in fileSizes(directory).sorted(by: { $0.key < $1.key }) where name.hasSuffix(".seg") {
                    let bytes = readFile(directory.appending(name))
                    if case .success(let scan) = bytes.withUnsafeBytes({ SegmentScanner.scan($0) }) {
                        print(
                            name,
                            scan.records.map { r in
                                bytes.withUnsafeBytes {
                                    RecordHeader.decode(
                                        UnsafeRawBufferPointer(rebasing: $0[r.offset..<r.offset + r.length]))!.0
                                        .identity.description
                                }
                            }, scan.corrupt, scan.tornBytes)
                    }
                }
            }
            let deliveredEverywhere = Set(
                model.frames.keys.filter { id in
                    options.sinks.allSatisfy { model.acknowledged[$0, default: []].contains(id) }
                })
            let notDelivered = Set(model.frames.keys).subtracting(deliveredEverywhere)
            let silentlyLost = notDelivered.subtracting(model.mayDrop)
            #expect(
                silentlyLost.isEmpty,
                "batches never offered again and not droppable: \(silentlyLost.sorted().prefix(5))")
            if model.powerCuts == 0 {
                // Exact: every batch the model appended is delivered or counted dropped, with its readings.
                let dropped =
                    notDelivered.reduce(Tally()) { $0 + Tally(readings: model.readings[$1]!, batches: 1) }
                    + model.refused
                let delivered = deliveredEverywhere.reduce(Tally()) {
                    $0 + Tally(readings: model.readings[$1]!, batches: 1)
                }
                #expect(counters.delivered == delivered)
                #expect(counters.droppedTotal == dropped)
                #expect(counters.appended == delivered + dropped)
            } else {
                #expect(counters.delivered.batches <= deliveredEverywhere.count)
                #expect(counters.appended.batches <= model.frames.count + model.refused.batches)
            }
        }
    }

    @Test("random operations keep every invariant", arguments: 0..<60)
    func randomOperations(seed: Int) throws {
        let scratch = ScratchDirectory()
        var run = try Run(seed: UInt64(seed) &* 7919 &+ 17, directory: scratch.path)
        // TRAM_SPOOL_TRACE=<seed> prints one seed's operations and files, for reproducing a failure.
        let trace = getenv("TRAM_SPOOL_TRACE").map { String(cString: $0) == "\(seed)" } ?? false
        if trace {
            print(
                "options", run.options.maximumBytes, run.options.overflow, run.options.segmentBytes, run.options.sinks,
                run.options.maximumAgeMilliseconds)
        }
        for _ in 0..<400 {
            let sinks = run.options.sinks
            let op = Int.random(in: 0..<100, using: &run.random)
            if trace {
                print(
                    "op", op, run.spool!.nextIdentity,
                    fileSizes(scratch.path).sorted { $0.key < $1.key }.map {
                        "\($0.key.prefix(16).suffix(3)):\($0.value)"
                    }.joined(separator: " "))
            }
            switch op {
            case 0..<45: run.append()
            case 45..<47: run.appendDictionary()
            case 47..<70: _ = run.deliver(sinks.randomElement(using: &run.random)!)
            case 70..<78: run.sync()
            case 78..<86:
                run.clock.advance(milliseconds: Int64.random(in: 0...900_000, using: &run.random))
                run.spool!.tick()
                run.check()
            case 86..<91: try run.crash()
            case 91..<94: try run.cleanRestart()
            case 94..<97: try run.powerCut()
            case 97..<99: run.corrupt()
            default: run.toggleDiskFull()
            }
        }
        try run.finish()
        // And once more after a crash: nothing comes back that was acknowledged.
        try run.crash()
        try run.finish()
    }
}
