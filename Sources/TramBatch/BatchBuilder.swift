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

    public init(mapping: SchemaMapping, maximumBytes: Int, maximumAge: Duration) {
        self.mapping = mapping
        self.maximumBytes = maximumBytes
        maximumAgeMilliseconds = maximumAge.milliseconds
        let capacity = maximumBytes + (1 << 20)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        encoder = ReadingEncoder(mapping: mapping, buffer: buffer)
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

    /// Appends one device cycle as a group. Throws when the batch has no room for it (or no batch is open); the
    /// batch is unchanged then.
    public func append(_ reading: DeviceReading, clock: ClockFlags = .synchronised) throws(WireError) {
        guard open != nil else { throw .invalid("no batch is open") }
        try encoder.append(reading, clock: clock)
        open!.readings += reading.points.count
    }

    /// Whether the open batch reached `maximumBytes`.
    public var isFull: Bool { open != nil && encoder.encoder.byteCount >= maximumBytes }

    /// When the open batch reaches `max_age` (monotonic ms), if one is open.
    public var dueAtMilliseconds: Int64? { open.map { $0.openedAtMilliseconds + maximumAgeMilliseconds } }

    /// Whether the open batch is old enough to seal at `now` (monotonic ms).
    public func isDue(atMonotonicMilliseconds now: Int64) -> Bool { dueAtMilliseconds.map { now >= $0 } ?? false }

    /// Seals and compresses the open batch; the builder has no open batch afterwards, whatever the outcome.
    public func seal() throws(WireError) -> Sealed {
        guard let batch = open else { throw .invalid("no batch is open") }
        open = nil
        let plain = try encoder.encoder.seal()
        let frame = try compressor.compress(plain)
        return Sealed(identity: batch.identity, readings: batch.readings, plainBytes: plain.count, frame: frame)
    }

    /// Drops the open batch without sealing it (an empty batch nobody needs).
    public func discard() { open = nil }
}
