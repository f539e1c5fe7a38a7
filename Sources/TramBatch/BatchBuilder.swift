import TramCompression
import TramModbus
import TramSchema

/// Builds one batch at a time from poll cycles: begin, append cycles, see when it is full or old enough, seal and
/// compress. The agent's writer thread and `tramctl poll --frames/--spool` both seal through it, so a batch that a
/// technician writes by hand is byte for byte what the agent would have spooled.
///
/// Owns its encode buffer (`maximumBytes` plus 1 MiB of headroom, so the cycle that crosses the limit still fits)
/// and its zstd context; both are allocated once, so appending a cycle allocates nothing once each device's scratch
/// row exists (`BatchBuilderTests` counts). Not thread-safe: one owner, the writer thread.
public final class BatchBuilder {
    /// The batch being built.
    public struct Open: Sendable, Equatable {
        public var identity: BatchIdentity
        /// Readings appended so far.
        public var readings: Int
        /// When it was begun, on the monotonic clock (ms): `max_age` counts from here.
        public var openedAtMilliseconds: Int64
    }

    /// A sealed batch: its compressed frame lives in the builder's buffer until the next `seal`.
    public struct Sealed {
        public var identity: BatchIdentity
        public var readings: Int
        /// The frame before compression, in bytes.
        public var plainBytes: Int
        /// The zstd-compressed frame, valid until the next `seal` (copy it to keep it).
        public var frame: UnsafeRawBufferPointer
    }

    public let mapping: SchemaMapping
    /// A batch is sealed once its encoded size reaches this.
    public let maximumBytes: Int
    /// A batch is sealed once it has been open this long (monotonic milliseconds).
    public let maximumAgeMilliseconds: Int64
    public private(set) var open: Open?

    private let buffer: UnsafeMutableRawBufferPointer
    private let encoder: ReadingEncoder
    private let compressor: FrameCompressor
    /// Drops still to be named, and in how many more batches.
    private var recentDrops: [(range: ClosedRange<UInt64>, remaining: Int)] = []

    /// - Parameter reference: what report by exception compares with; only the replay check asks for another.
    public init(
        mapping: SchemaMapping, maximumBytes: Int, maximumAge: Duration,
        reference: ExceptionFilter.Reference = .lastSent
    ) {
        self.mapping = mapping
        self.maximumBytes = maximumBytes
        maximumAgeMilliseconds = maximumAge.milliseconds
        let capacity = maximumBytes + (1 << 20)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        encoder = ReadingEncoder(mapping: mapping, buffer: buffer, reference: reference)
        compressor = FrameCompressor(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// The schema's dictionary frame, which must reach a spool before the batches that use it.
    public var dictionaryFrame: [UInt8] { mapping.dictionary.frame() }
    public var schemaID: UInt64 { mapping.dictionary.schemaID }

    /// Starts a batch. `baseTimeMilliseconds` is the wall time the group times are stored against (the first
    /// cycle's first response).
    public func begin(_ identity: BatchIdentity, baseTimeMilliseconds: Int64, atMonotonicMilliseconds now: Int64) {
        encoder.encoder.begin(
            epoch: identity.epoch, sequence: identity.sequence, baseTimeMilliseconds: baseTimeMilliseconds)
        open = Open(identity: identity, readings: 0, openedAtMilliseconds: now)
    }

    /// Appends one device cycle as a group (reported by exception: what of it is sent). Throws when the batch has
    /// no room for it (or no batch is open); the batch is unchanged then.
    @discardableResult
    public func append(_ reading: DeviceReading, clock: ClockFlags = .synchronised) throws(WireError)
        -> ReadingEncoder.Outcome
    {
        guard open != nil else { throw .invalid("no batch is open") }
        let outcome = try encoder.append(reading, clock: clock)
        open!.readings += outcome.sent
        return outcome
    }

    /// The next cycle of every device reported by exception sends all its points (``ReadingEncoder/requestSnapshot()``).
    public func requestSnapshot() { encoder.requestSnapshot() }

    /// The filter that decides what is sent (its rules are the dictionary's).
    public var filter: ExceptionFilter { encoder.filter }

    /// Whether the open batch reached `maximumBytes`.
    public var isFull: Bool { open != nil && encoder.encoder.byteCount >= maximumBytes }

    /// When the open batch reaches `max_age` (monotonic ms), if one is open.
    public var dueAtMilliseconds: Int64? { open.map { $0.openedAtMilliseconds + maximumAgeMilliseconds } }

    /// Whether the open batch is old enough to seal at `now` (monotonic ms).
    public func isDue(atMonotonicMilliseconds now: Int64) -> Bool { dueAtMilliseconds.map { now >= $0 } ?? false }

    /// Seals and compresses the open batch; the builder has no open batch afterwards, whatever the outcome.
    /// Notes batches of this epoch that the spool dropped undelivered. Each batch sealed from now on names them
    /// (wire format version 2's dropped ranges), in the next ``namingsPerDrop`` batches, so that a consumer holding
    /// values between sends ends its holds there even when the batch that first named them is lost too; and the
    /// next cycle of every device reported by exception is a snapshot, since the lost batches may have held sends.
    public func noteDropped(_ sequences: [ClosedRange<UInt64>]) {
        guard !sequences.isEmpty else { return }
        for range in sequences { recentDrops.append((range, Self.namingsPerDrop)) }
        encoder.requestSnapshot()
    }

    /// How many batches name each drop. A consumer misses a drop only if all of them are lost as well.
    public static let namingsPerDrop = 8

    /// Seals and compresses the open batch; the builder has no open batch afterwards, whatever the outcome.
    public func seal() throws(WireError) -> Sealed {
        guard let batch = open else { throw .invalid("no batch is open") }
        open = nil
        let plain = try encoder.encoder.seal(droppedSequences: droppedToName(before: batch.identity.sequence))
        let frame = try compressor.compress(plain)
        return Sealed(identity: batch.identity, readings: batch.readings, plainBytes: plain.count, frame: frame)
    }

    /// The noted drops below `sequence`, merged rising and apart; each counts one naming.
    private func droppedToName(before sequence: UInt64) -> [Range<UInt64>] {
        guard !recentDrops.isEmpty else { return [] }
        var ranges = SortedRanges()
        for index in recentDrops.indices where recentDrops[index].range.upperBound < sequence {
            ranges.insert(recentDrops[index].range)
            recentDrops[index].remaining -= 1
        }
        recentDrops.removeAll { $0.remaining <= 0 }
        return ranges.halfOpen
    }

    /// Drops the open batch without sealing it (an empty batch nobody needs).
    public func discard() { open = nil }
}

/// Closed ranges merged as they are added (overlapping or touching ones become one), rising.
struct SortedRanges {
    private(set) var ranges: [ClosedRange<UInt64>] = []

    mutating func insert(_ range: ClosedRange<UInt64>) {
        var merged = range
        ranges.removeAll { other in
            let touches =
                other.lowerBound <= (merged.upperBound == .max ? .max : merged.upperBound + 1)
                && merged.lowerBound <= (other.upperBound == .max ? .max : other.upperBound + 1)
            if touches {
                merged = min(merged.lowerBound, other.lowerBound)...max(merged.upperBound, other.upperBound)
            }
            return touches
        }
        ranges.append(merged)
        ranges.sort { $0.lowerBound < $1.lowerBound }
    }

    var halfOpen: [Range<UInt64>] { ranges.map { $0.lowerBound..<($0.upperBound + 1) } }
}
