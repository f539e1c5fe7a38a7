import SystemPackage
import Testing
@_spi(Testing) import TramSpool
import TramSchema
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A spool directory with a known backlog, for tests that damage its files and reopen it.
///
/// It remembers every batch it appended (bytes and readings) and which it acknowledged, so
/// a test can say exactly which batches must come back and which must be counted lost.
final class Backlog {
    static let schema: UInt64 = 0xDA4A_0001
    static let dictionary = testFrame(BatchIdentity(epoch: 0, sequence: 0xD1C7), length: 40)

    let scratch = ScratchDirectory()
    let clock = ManualClock()
    let options: SpoolOptions
    var random: SeededRandom
    private(set) var frames: [BatchIdentity: [UInt8]] = [:]
    private(set) var readings: [BatchIdentity: Int] = [:]
    var acknowledged: Set<BatchIdentity> = []

    var directory: FilePath { scratch.path }
    var appended: Set<BatchIdentity> { Set(frames.keys) }

    init(seed: UInt64, segmentBytes: Int = 1500) {
        random = SeededRandom(seed: seed)
        options = SpoolOptions(
            directory: scratch.path, maximumBytes: 1 << 30, maximumAgeMilliseconds: 86_400_000 * 365,
            syncIntervalMilliseconds: 1000, segmentBytes: segmentBytes)
    }

    func open() throws -> Spool {
        try Spool(options: options, clock: clock.spoolClock, logger: quietLogger)
    }

    /// Appends `count` batches of random sizes (after the dictionary, on a fresh spool).
    func append(_ spool: Spool, count: Int) {
        if spool.dictionary(schemaID: Self.schema) == nil {
            Self.dictionary.withUnsafeBytes { _ = spool.appendDictionary($0, schemaID: Self.schema) }
        }
        for _ in 0..<count {
            let identity = spool.nextIdentity
            let frame = testFrame(identity, length: Int.random(in: 20...300, using: &random))
            let count = Int.random(in: 1...150, using: &random)
            let outcome = frame.withUnsafeBytes {
                spool.appendBatch($0, identity: identity, readings: count, schemaID: Self.schema)
            }
            #expect(outcome == .stored)
            frames[identity] = frame
            readings[identity] = count
            clock.advance(milliseconds: 10)
        }
    }

    /// Acknowledges each of `identities` with probability `percent`/100, out of order.
    func acknowledge(_ spool: Spool, _ identities: some Sequence<BatchIdentity>, percent: Int) {
        var chosen = identities.filter { _ in Int.random(in: 0..<100, using: &random) < percent }
        chosen.shuffle(using: &random)
        spool.acknowledge(sink: "collector", chosen)
        acknowledged.formUnion(chosen)
    }

    /// Drops batches from what the test expects (for losses nothing on disk records).
    func forget(_ identities: some Sequence<BatchIdentity>) {
        for identity in identities {
            frames[identity] = nil
            readings[identity] = nil
            acknowledged.remove(identity)
        }
    }

    func tally(_ identities: some Sequence<BatchIdentity>) -> Tally {
        identities.reduce(Tally()) { $0 + Tally(readings: readings[$1] ?? 0, batches: 1) }
    }

    /// Segment files, oldest first.
    var segmentNames: [String] {
        fileSizes(directory).keys.filter { $0.hasSuffix(".seg") }.sorted()
    }

    /// The records of one segment file: which batch (nil for a dictionary) and the bytes it spans.
    func records(_ name: String) -> [(identity: BatchIdentity?, range: Range<Int>)] {
        let bytes = readFile(directory.appending(name))
        guard case .success(let scan) = bytes.withUnsafeBytes({ SegmentScanner.scan($0) }) else { return [] }
        return bytes.withUnsafeBytes { all in
            scan.records.map { record in
                let header = RecordHeader.decode(
                    UnsafeRawBufferPointer(rebasing: all[record.offset..<record.offset + record.length]))?.0
                let identity = header?.kind == .batch ? header?.identity : nil
                return (identity, record.offset - SegmentFormat.recordHeaderSize..<record.offset + record.length)
            }
        }
    }

    /// Every batch the spool still offers, read to the end.
    func drain(_ spool: Spool) -> [SpoolBatch] {
        var all: [SpoolBatch] = []
        while true {
            let batches = spool.nextBatches(for: "collector", limit: 50)
            if batches.isEmpty { return all }
            all += batches
        }
    }

    /// Drains the spool and holds it to the exact outcome: every batch that is neither acknowledged
    /// nor in `lost` comes back once with its bytes; none in `lost` does, and those are counted under
    /// `cause` (or `alternative`, where the spool cannot tell the two apart) with their readings;
    /// acknowledged ones stay delivered. Returns what came back.
    @discardableResult
    func expectReplay(
        _ spool: Spool, lost: Set<BatchIdentity>, cause: DropCause, or alternative: DropCause? = nil, _ note: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Set<BatchIdentity> {
        var returned = Set<BatchIdentity>()
        for batch in drain(spool) {
            #expect(
                returned.insert(batch.identity).inserted, "\(note): \(batch.identity) offered twice",
                sourceLocation: sourceLocation)
            #expect(
                frames[batch.identity] == batch.frame && readings[batch.identity] == batch.readings,
                "\(note): \(batch.identity) came back changed", sourceLocation: sourceLocation)
        }
        let expected = appended.subtracting(acknowledged).subtracting(lost)
        #expect(
            returned == expected,
            "\(note): missing \(expected.subtracting(returned).sorted().prefix(6)), unexpected \(returned.subtracting(expected).sorted().prefix(6))",
            sourceLocation: sourceLocation)
        let counters = spool.counters
        #expect(counters.balances, "\(note): the books do not balance", sourceLocation: sourceLocation)
        let dropped = tally(lost.subtracting(acknowledged))
        let counted =
            counters.dropped[cause, default: Tally()] + (alternative.flatMap { counters.dropped[$0] } ?? Tally())
        #expect(
            counted == dropped, "\(note): \(cause) \(counters.dropped) expected \(dropped)",
            sourceLocation: sourceLocation)
        #expect(
            counters.droppedTotal == dropped, "\(note): dropped \(counters.dropped)", sourceLocation: sourceLocation)
        #expect(
            counters.delivered == tally(acknowledged),
            "\(note): delivered \(counters.delivered) expected \(tally(acknowledged))", sourceLocation: sourceLocation)
        #expect(counters.buffered == tally(expected), "\(note): buffered", sourceLocation: sourceLocation)
        if !expected.isEmpty {
            #expect(
                spool.dictionary(schemaID: Self.schema) == Self.dictionary, "\(note): the backlog's dictionary is gone",
                sourceLocation: sourceLocation)
        }
        return returned
    }
}

/// Flips one bit of a file in place.
func flipBit(_ path: FilePath, at offset: Int, bit: Int) {
    var bytes = readFile(path)
    bytes[offset] ^= UInt8(1 << bit)
    writeFile(path, bytes)
}

/// Zeroes `range` of a file in place.
func zero(_ path: FilePath, _ range: Range<Int>) {
    var bytes = readFile(path)
    for index in range where index < bytes.count { bytes[index] = 0 }
    writeFile(path, bytes)
}
