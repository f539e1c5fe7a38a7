import SystemPackage
import Testing
@_spi(Testing) import TramSpool
import TramSchema
import TramTestSupport
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// A real ENOSPC: a 1 MiB tmpfs that the test mounts (so it needs root; CI runs as root), mostly
/// taken by a filler file, under a spool whose own bound is far larger. The spool must keep
/// running, hold the newest batches in its RAM ring, count what the ring gives up, and write
/// again within 1 s of the filler's deletion, on its real clock.
@Suite("Spool disk full")
struct SpoolDiskFullTests {
    static let canMount = geteuid() == 0 && access("/bin/mount", X_OK) == 0 && access("/bin/umount", X_OK) == 0

    /// A tmpfs mounted for one test and unmounted (lazily if still busy) when released.
    final class SmallFileSystem {
        private let parent = ScratchDirectory()
        let root: FilePath

        init(size: String) throws {
            root = parent.path.appending("fs")
            mkdir(root.string, 0o755)
            let status = try ChildProcess.run(
                "/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", root.string])
            guard status == 0 else {
                rmdir(root.string)
                throw SmallFileSystemError.mountFailed(status)
            }
        }

        deinit {
            if (try? ChildProcess.run("/bin/umount", [root.string])) != 0 {
                _ = try? ChildProcess.run("/bin/umount", ["-l", root.string])
            }
            rmdir(root.string)
        }
    }

    enum SmallFileSystemError: Error { case mountFailed(Int32) }

    /// The ring as the spool should keep it: newest batches, oldest given up beyond the byte bound.
    struct RingModel {
        let capacity: Int
        var held: [(BatchIdentity, Int)] = []
        var bytes: Int { held.reduce(0) { $0 + $1.1 } }

        /// Adds a batch; returns the ones given up.
        mutating func push(_ identity: BatchIdentity, bytes size: Int) -> [BatchIdentity] {
            held.append((identity, size))
            var evicted: [BatchIdentity] = []
            while bytes > capacity, held.count > 1 { evicted.append(held.removeFirst().0) }
            return evicted
        }
    }

    @Test(
        "ENOSPC on a small tmpfs: the RAM ring keeps the newest, counts what it drops, writing resumes within 1 s",
        .enabled(if: canMount, "needs root to mount a tmpfs (CI runs as root)"))
    func diskFull() throws {
        let fs = try SmallFileSystem(size: "1m")
        let filler = fs.root.appending("filler")
        writeFile(filler, [UInt8](repeating: 0xAB, count: 800 << 10))
        let ringBytes = 16 << 10
        let options = SpoolOptions(
            directory: fs.root.appending("spool"), maximumBytes: 64 << 20, segmentBytes: 32 << 10,
            diskFullRingBytes: ringBytes)
        var spool: Spool? = try Spool(options: options, logger: quietLogger)
        defer { spool = nil }
        var random = SeededRandom(seed: 0xD15C)
        var frames: [BatchIdentity: [UInt8]] = [:]
        var readings: [BatchIdentity: Int] = [:]
        var ring = RingModel(capacity: ringBytes)
        var evicted = Set<BatchIdentity>()
        var acknowledged = Set<BatchIdentity>()
        func tally(_ identities: some Sequence<BatchIdentity>) -> Tally {
            identities.reduce(Tally()) { $0 + Tally(readings: readings[$1]!, batches: 1) }
        }

        /// One append (all frames the same size, so a record that once did not fit never fits
        /// until space returns), checked against the model.
        func append(_ note: String) -> AppendOutcome {
            let identity = spool!.nextIdentity
            let frame = testFrame(identity, length: 1000)
            frames[identity] = frame
            readings[identity] = Int.random(in: 1...100, using: &random)
            let outcome = frame.withUnsafeBytes {
                spool!.appendBatch($0, identity: identity, readings: readings[identity]!, schemaID: 1)
            }
            switch outcome {
            case .stored: break
            case .heldInMemory: evicted.formUnion(ring.push(identity, bytes: frame.count))
            case .dropped(let cause):
                Issue.record("\(note): \(identity) dropped (\(cause)); the spool's own bound is far away")
            }
            let status = spool!.status
            if status.heldInMemory == 0 { ring.held.removeAll() }
            #expect(status.counters.balances, "\(note): the books do not balance")
            #expect(
                status.heldInMemory == ring.held.count,
                "\(note): \(status.heldInMemory) held in RAM, expected \(ring.held.count)")
            #expect(ring.bytes <= ringBytes)
            #expect(
                status.counters.dropped == (evicted.isEmpty ? [:] : [.diskFull: tally(evicted)]),
                "\(note): dropped \(status.counters.dropped)")
            #expect(status.counters.appended == tally(frames.keys), "\(note): appended")
            #expect(status.counters.delivered == tally(acknowledged), "\(note): delivered")
            return outcome
        }

        // Fill the disk.
        var storedBeforeFull = 0
        while append("filling") == .stored {
            storedBeforeFull += 1
            try #require(storedBeforeFull < 2000, "the disk never filled")
        }
        #expect(storedBeforeFull > 50, "only \(storedBeforeFull) batches fit before the disk was full")
        // Keep appending on a full disk: the ring keeps the newest 16, the older ones are counted dropped.
        // Deliveries go on meanwhile (the acknowledgements cannot reach the full disk yet).
        for step in 0..<40 {
            #expect(append("full, step \(step)") == .heldInMemory)
            if step % 10 == 0 {
                let batches = spool!.nextBatches(for: "collector", limit: 5)
                spool!.acknowledge(sink: "collector", batches.map(\.identity))
                acknowledged.formUnion(batches.map(\.identity))
            }
            spool!.tick()
        }
        #expect(
            evicted.count == 40 - ringBytes / 1000 + 1,
            "the ring held \(ring.held.count) of the batches appended while full")

        // Free the disk; appends and ticks every 10 ms, as the agent's poll loop would.
        unlink(filler.string)
        let start = monotonicMilliseconds()
        var resumed: Int64?
        while monotonicMilliseconds() - start < 3000 {
            let outcome = append("after space returned")
            spool!.tick()
            if outcome == .stored && spool!.status.heldInMemory == 0 {
                resumed = monotonicMilliseconds() - start
                break
            }
            usleep(10_000)
        }
        let elapsed = try #require(resumed, "writing never resumed within 3 s of space returning")
        #expect(elapsed < 1000, "writing resumed \(elapsed) ms after space returned")

        // Everything not counted dropped replays exactly, and still does after a clean restart.
        func replay(_ note: String) {
            var returned = Set<BatchIdentity>()
            while true {
                let batches = spool!.nextBatches(for: "collector", limit: 64)
                if batches.isEmpty { break }
                for batch in batches {
                    #expect(returned.insert(batch.identity).inserted, "\(note): \(batch.identity) twice")
                    #expect(
                        batch.frame == frames[batch.identity] && batch.readings == readings[batch.identity],
                        "\(note): \(batch.identity) changed")
                }
            }
            let expected = Set(frames.keys).subtracting(evicted).subtracting(acknowledged)
            #expect(
                returned == expected,
                "\(note): missing \(expected.subtracting(returned).sorted().prefix(5)), extra \(returned.subtracting(expected).sorted().prefix(5))"
            )
            let counters = spool!.counters
            #expect(
                counters.balances && counters.appended == tally(frames.keys), "\(note): appended \(counters.appended)")
            #expect(counters.dropped == [.diskFull: tally(evicted)], "\(note): dropped \(counters.dropped)")
            #expect(
                counters.delivered == tally(acknowledged) && counters.buffered == tally(expected),
                "\(note): delivered/buffered")
        }
        replay("after space returned")
        try spool!.close()
        spool = nil
        spool = try Spool(options: options, logger: quietLogger)
        replay("after a clean restart")
    }

    private func monotonicMilliseconds() -> Int64 { TramClock.system.monotonicMilliseconds() }
}
