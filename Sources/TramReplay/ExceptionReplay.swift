import TramBatch
import TramCompression
import TramCore
import TramModbus
import TramSchema

/// Replays a trace through the agent's own report-by-exception path (``ReadingEncoder`` and its
/// ``ExceptionFilter``, sealed by ``BatchBuilder``), drops whole batches at random as a spool would, names them in
/// the next batch as the writer does, decodes what is delivered, and rebuilds what a consumer sees: the step-hold
/// of sent values, ended at every reported loss. Then checks the promise at every poll of every point:
///
/// - while the polled quality is good and the consumer holds a value, |held − polled| ≤ the point's deadband
///   (equal, for a deadband of 0 and for booleans and strings; NaN holds NaN);
/// - the consumer's quality is the polled one (every quality change is seen at its own poll);
/// - no two sends of a point are further apart than its heartbeat, in monotonic time;
/// - after a loss, every point is sent again at its device's next cycle (a snapshot).
public enum ExceptionReplay {
    public struct Options: Sendable {
        /// Polls per batch (a batch's max age at the trace's poll rate).
        public var pollsPerBatch = 10
        /// The chance that the spool drops a sealed batch before it is delivered.
        public var dropProbability = 0.0
        public var seed: UInt64 = 1
        public var reference: ExceptionFilter.Reference = .lastSent
        public init(
            pollsPerBatch: Int = 10, dropProbability: Double = 0, seed: UInt64 = 1,
            reference: ExceptionFilter.Reference = .lastSent
        ) {
            self.pollsPerBatch = pollsPerBatch
            self.dropProbability = dropProbability
            self.seed = seed
            self.reference = reference
        }
    }

    /// One broken promise, for the report.
    public struct Violation: Sendable, CustomStringConvertible {
        public var poll: Int
        public var point: String
        public var what: String
        public var description: String { "poll \(poll), \(point): \(what)" }
    }

    public struct Report: Sendable {
        public var polled = 0
        public var sent = 0
        public var suppressed = 0
        public var batches = 0
        public var batchesDropped = 0
        /// Frame bytes before and after zstd, over every sealed batch (dropped ones included).
        public var plainBytes = 0
        public var compressedBytes = 0
        /// Readings a consumer stores: those in delivered batches.
        public var delivered = 0
        /// The largest |held − polled| seen, and the largest as a fraction of its point's deadband.
        public var maximumError = 0.0
        public var maximumErrorOverDeadband = 0.0
        /// The longest gap between two sends of a point, in monotonic ms, and the most it went over a heartbeat.
        public var longestGapMilliseconds: Int64 = 0
        public var qualityChanges = 0
        public var qualityChangesSeen = 0
        /// Polls at which a consumer held no value because a loss ended the hold (not errors: gaps it knows of).
        public var heldNothingAfterLoss = 0
        /// Polls after the last delivered batch, in batches no later one names as lost: not judged.
        public var unjudgedAtEnd = 0
        public var violations: [Violation] = []
        public var violationCount = 0
    }

    public static func run(_ trace: ReplayTrace, options: Options = Options()) throws(WireError) -> Report {
        let dictionary = trace.dictionary
        let mapping = SchemaMapping(dictionary: dictionary)
        let builder = BatchBuilder(
            mapping: mapping, maximumBytes: 4 << 20, maximumAge: .seconds(86_400), reference: options.reference)
        var random = SplitMix64(state: options.seed)
        var report = Report()
        // Per poll: the batch sequence it went into, and whether it produced a group.
        var pollBatch = [UInt64](repeating: 0, count: trace.polls.count)
        var pollGroup = [Bool](repeating: false, count: trace.polls.count)
        var delivered: [(sequence: UInt64, polls: [Int], batch: DecodedBatch)] = []
        // Per alias: each send's monotonic time and its device's poll ordinal.
        var sentTimes = [[(time: Int64, ordinal: Int)]](repeating: [], count: dictionary.points.count)
        var ordinals = [Int](repeating: 0, count: trace.polls.count)
        var perDevice: [String: Int] = [:]
        // The polls that must carry a snapshot: each device's first after a drop was noted.
        var snapshotDue = Set<String>()
        // Only a device reported by exception owes a snapshot: one that sends every poll sends all of it anyway.
        let byException = Set(dictionary.points.filter(\.reportsByException).map(\.device))
        var expectSnapshot = Set<Int>()
        var batchPolls: [Int] = []
        var sequence: UInt64 = 0

        func seal() throws(WireError) {
            guard builder.open != nil else { return }
            let sealed = try builder.seal()
            report.batches += 1
            report.plainBytes += sealed.plainBytes
            report.compressedBytes += sealed.frame.count
            let plain = try FrameCodec.decompress(Array(sealed.frame))
            guard case .batch(let batch) = try FrameDecoder.decode(plain, dictionary: { _ in dictionary }).0 else {
                throw .invalid("the replay sealed something that is not a batch")
            }
            let withGroups = batchPolls.filter { pollGroup[$0] }
            for (group, poll) in zip(batch.groups, withGroups) {
                for offset in group.values.indices {
                    sentTimes[group.alias(at: offset)].append((trace.polls[poll].monotonicMilliseconds, ordinals[poll]))
                }
            }
            if Double(random.next() >> 11) / 9_007_199_254_740_992 < options.dropProbability {
                report.batchesDropped += 1
                builder.noteDropped([batch.sequence...batch.sequence])  // as the writer does with the spool's drops
                snapshotDue = byException
            } else {
                delivered.append((batch.sequence, withGroups, batch))
                report.delivered += batch.groups.reduce(0) { $0 + $1.values.count }
            }
            batchPolls = []
        }

        for (index, poll) in trace.polls.enumerated() {
            if builder.open == nil {
                sequence += 1
                builder.begin(
                    BatchIdentity(epoch: 1, sequence: sequence), baseTimeMilliseconds: poll.wallMilliseconds,
                    atMonotonicMilliseconds: poll.monotonicMilliseconds)
            }
            ordinals[index] = perDevice[poll.device, default: 0]
            perDevice[poll.device, default: 0] += 1
            if snapshotDue.remove(poll.device) != nil { expectSnapshot.insert(index) }
            let outcome = try builder.append(reading(poll), clock: .synchronised)
            report.polled += poll.values.count
            report.sent += outcome.sent
            report.suppressed += outcome.suppressed
            pollBatch[index] = sequence
            pollGroup[index] = outcome.sent > 0
            batchPolls.append(index)
            if batchPolls.count >= options.pollsPerBatch { try seal() }
        }
        try seal()
        check(
            trace, delivered: delivered, pollBatch: pollBatch, sentTimes: sentTimes, expectSnapshot: expectSnapshot,
            into: &report)
        return report
    }

    /// A poll as the agent's I/O thread hands it over: the cycle stamped with the poll's time, a failed point with
    /// an older one, as ``DevicePoller`` keeps a failed point's last good timestamp (here an hour before), so a group
    /// stamped from its points instead of its cycle shows up as broken heartbeats.
    public static func reading(_ poll: ReplayTrace.Poll) -> DeviceReading {
        let stamp = Timestamp(
            wallMilliseconds: poll.wallMilliseconds,
            monotonicNanoseconds: UInt64(poll.monotonicMilliseconds) * 1_000_000)
        let stale = Timestamp(
            wallMilliseconds: poll.wallMilliseconds - 3_600_000, monotonicNanoseconds: stamp.monotonicNanoseconds / 2)
        var health = DeviceHealth()
        let failed = poll.values.allSatisfy { if case .missing = $0 { true } else { false } }
        health.state = failed ? .offline : .online
        return DeviceReading(
            device: poll.device,
            points: poll.values.enumerated().map { index, value in
                let (raw, quality) = pointValue(value)
                let answered = quality == .good || quality == .notAvailable
                return PointReading(point: index, value: raw, quality: quality, timestamp: answered ? stamp : stale)
            },
            requests: [], health: health, timestamp: stamp)
    }

    static func pointValue(_ value: WireValue) -> (RawValue?, Quality) {
        switch value {
        case .bool(let b): (.bool(b), .good)
        case .int(let v): (.int(v), .good)
        case .uint(let v): (.uint(v), .good)
        case .float32(let bits): (.float32(Float(bitPattern: bits)), .good)
        case .float64(let bits): (.float64(Double(bitPattern: bits)), .good)
        case .string(let s): (.string(s), .good)
        case .missing(let quality):
            switch quality {
            case .notAvailable: (nil, .notAvailable)
            case .exception(let code): (nil, .exception(Int(code)))
            case .timeout: (nil, .timeout)
            case .linkDown: (nil, .linkDown)
            case .ioError: (nil, .ioError)
            case .unsupported: (nil, .unsupported)
            case .unexpected: (nil, .unexpected)
            case .disabled: (nil, .disabled)
            case .absent: (nil, .absent)
            case .notReady: (nil, .notReady)
            }
        }
    }
}
