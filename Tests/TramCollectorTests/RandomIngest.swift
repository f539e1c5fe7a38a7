import TramCollectorStore
import TramCollectorRelay
import TramSchema
import TramTestSupport

/// Random ingest requests for the rollup exactness tests, made by the real encoder and decoded by the real decoder,
/// then stored through `CollectorStore.store` in process (the HTTP path adds nothing the rollups see).
///
/// Every feature the rollups treat differently: several points of a float, a scaled integer, two counters with
/// resets, a bool and a string; missing values of several qualities; groups of a subset of the points; readings at
/// the same time, across minute and hour boundaries and with gaps longer than the hold limit; out-of-order batches
/// (stamped before what is stored); duplicates (a batch sent again, also in the same request); two epochs with
/// sequence gaps filled later; clock changes. Values are multiples of 0.25 of modest size, so every sum is exact in
/// any order and the comparisons can be exact.
struct RandomIngest {
    static let dictionary = SchemaDictionary(
        gateway: "gw-random",
        points: [
            PointDescriptor(device: "meter", name: "temperature", unit: "°C", type: .float64),
            PointDescriptor(device: "meter", name: "energy", unit: "kWh", type: .uint32),
            PointDescriptor(device: "meter", name: "half", unit: "", type: .int16, scale: 0.5),
            PointDescriptor(device: "pv", name: "closed", unit: "", type: .bool),
            PointDescriptor(device: "pv", name: "model", unit: "", type: .string),
            PointDescriptor(device: "pv", name: "total", unit: "Wh", type: .uint64),
        ])

    private var random: SeededRandom
    /// The newest group time so far; in-order batches continue from it.
    private var time: Int64 = 1_764_000_000_000 - 1_764_000_000_000 % 3_600_000 + 3_000_000
    private var nextSequence: [UInt64: UInt64] = [1: 0, 2: 0]
    /// Sequence numbers skipped, sent later.
    private var skipped: [(epoch: UInt64, sequence: UInt64)] = []
    private var sent: [[UInt8]] = []
    private var counters: [UInt64] = [1_000, 50_000]
    private var synchronised = true
    private(set) var dictionarySent = false

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    private mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &random) < p }
    private mutating func int(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &random) }

    /// The next request's frames: a few new batches and perhaps duplicates.
    mutating func request() throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for _ in 0..<int(1...3) {
            frames.append(try batch())
            if chance(0.1) { frames.append(frames.last!) }  // the same batch twice in one request
        }
        if !sent.isEmpty && chance(0.25) { frames.append(sent[Int(int(0...Int64(sent.count - 1)))]) }
        sent += frames
        return frames
    }

    /// A request of nothing but batches already sent.
    mutating func duplicates() -> [[UInt8]] {
        (0..<3).map { _ in sent[Int(int(0...Int64(sent.count - 1)))] }
    }

    private mutating func identity() -> (epoch: UInt64, sequence: UInt64) {
        if !skipped.isEmpty && chance(0.3) { return skipped.removeFirst() }
        let epoch: UInt64 = chance(0.2) ? 2 : 1
        if chance(0.1) {
            skipped.append((epoch, nextSequence[epoch]!))
            nextSequence[epoch]! += 1
        }
        defer { nextSequence[epoch]! += 1 }
        return (epoch, nextSequence[epoch]!)
    }

    private mutating func batch() throws -> [UInt8] {
        let (epoch, sequence) = identity()
        let outOfOrder = chance(0.15)
        var clock = time
        if outOfOrder { clock -= int(60_000...3 * 3_600_000) }
        var groups: [(time: Int64, clock: ClockFlags, first: Int, values: [WireValue])] = []
        for _ in 0..<int(1...8) {
            let step = Double.random(in: 0..<1, using: &random)
            if step < 0.1 {
                // the same time as the group before
            } else if step < 0.8 {
                clock += int(1...75_000)
            } else if step < 0.95 {
                clock += int(60_000...300_000)
            } else {
                clock += int(720_000...3_000_000)  // longer than the default hold limit
            }
            if chance(0.08) { synchronised.toggle() }
            let first = chance(0.7) ? 0 : Int(int(0...5))
            let count = first == 0 && chance(0.7) ? 6 : Int(int(1...Int64(6 - first)))
            let values = (first..<first + count).map { self.value(alias: $0) }
            groups.append((clock, synchronised ? .synchronised : [], first, values))
        }
        if !outOfOrder { time = max(time, clock) }
        return try Frames.batch(Self.dictionary, epoch: epoch, sequence: sequence, groups: groups)
    }

    private mutating func value(alias: Int) -> WireValue {
        if chance(0.12) {
            let qualities: [WireQuality] = [.timeout, .exception(2), .linkDown, .notAvailable, .unsupported]
            return .missing(qualities[Int(int(0...4))])
        }
        switch alias {
        case 0: return .float64(bits: (Double(int(-400...400)) / 4).bitPattern)
        case 1, 5:
            let index = alias == 1 ? 0 : 1
            if chance(0.06) { counters[index] = UInt64(int(0...5)) } else { counters[index] += UInt64(int(0...20)) }
            return .uint(counters[index])
        case 2: return .int(int(-100...100))
        case 3: return .bool(chance(0.5))
        default: return .string(["SE7600", "SE5000"][Int(int(0...1))])
        }
    }

    /// Stores `frames` as one request (the dictionary with the first), like the collector's ingest path.
    mutating func store(_ frames: [[UInt8]], in store: CollectorStore, gateway: Int64, now: Int64) throws
        -> IngestSummary
    {
        var dictionaries: [(dictionary: SchemaDictionary, schemaID: UInt64, frame: [UInt8])] = []
        if !dictionarySent {
            dictionaries.append((Self.dictionary, Self.dictionary.schemaID, Self.dictionary.frame()))
            dictionarySent = true
        }
        let batches = try frames.map { frame -> DecodedBatch in
            guard case .batch(let batch) = try FrameDecoder.decode(frame, dictionary: { _ in Self.dictionary }).frame
            else { throw HTTPReply.Failure(what: "not a batch") }
            return batch
        }
        return try store.store(
            dictionaries: dictionaries, batches: batches, gateway: gateway, bytes: frames.reduce(0) { $0 + $1.count },
            now: now)
    }
}
