import TramCompression
import TramSchema
import TramSpool

/// Real sealed batches for the spool benchmark, encoded and zstd-compressed exactly as the agent seals them.
///
/// A batch holds `batchSeconds` of polls from `devices` devices, each a stream like the standard trace
/// (100 points at 1 Hz; device 1 is the standard trace itself, device d its recipe with seed 1755 + d − 1),
/// under one gateway-wide dictionary, as the agent's schema mapping gives: one group per device and second.
final class SpoolBatches {
    let traces: [Trace]
    let batchSeconds: Int
    let devices: Int
    let dictionary: SchemaDictionary
    let dictionaryFrame: [UInt8]
    /// Stored: `SchemaDictionary.schemaID` hashes the whole dictionary each time it is read.
    let schemaID: UInt64
    var pointsPerDevice: Int { traces[0].names.count }
    var readingsPerBatch: Int { batchSeconds * devices * pointsPerDevice }
    /// The traces cut into whole batches: 60 of them for 60 s batches of the hour-long standard trace.
    var windows: Int { traces[0].ticks.count / batchSeconds }
    /// Added to every timestamp: the uplink benchmark keeps its live batches after its backlog's.
    var timeOffsetMilliseconds: Int64 = 0
    private let buffer: UnsafeMutableRawBufferPointer
    private let encoder: BatchEncoder
    private let compressor: FrameCompressor

    /// - Parameter traceSeconds: how long each device's trace is (batches cycle through it).
    init(batchSeconds: Int, devices: Int = 1, traceSeconds: Int = 3600) {
        precondition(
            batchSeconds >= 1 && batchSeconds <= traceSeconds && devices >= 1,
            "a batch lasts 1 s to one trace, from one device or more")
        self.batchSeconds = batchSeconds
        self.devices = devices
        let traces = (0..<devices).map { Trace.standard(seconds: traceSeconds, seed: 1755 + UInt64($0)) }
        self.traces = traces
        dictionary =
            devices == 1
            ? traces[0].dictionary
            : SchemaDictionary(
                gateway: "gw-bench",
                points: (0..<devices).flatMap { device in
                    zip(traces[0].names, traces[0].types).map {
                        PointDescriptor(device: "line\(device + 1)", name: $0, type: $1)
                    }
                })
        schemaID = dictionary.schemaID
        dictionaryFrame = dictionary.frame()
        // A raw batch takes about 1.1 B a reading on the standard trace: 4 B is ample.
        buffer = .allocate(byteCount: max(16 << 20, batchSeconds * devices * 100 * 4), alignment: 8)
        encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        compressor = FrameCompressor(capacity: buffer.count)
    }

    deinit { buffer.deallocate() }

    /// The batch the agent would seal for `identity`: window `sequence mod windows` of the trace, its
    /// timestamps moved on by whole traces so that time keeps rising. Valid until the next call.
    /// About 0.1 ms for a 60 s batch (encode 9.6 ns and zstd 6 ns a reading), so the paced mode seals
    /// every batch this way, and the flat-out phases cycle a pool of them (`pool(epoch:)`).
    func seal(_ identity: BatchIdentity) -> UnsafeRawBufferPointer {
        let index = Int(identity.sequence % UInt64(windows))
        let shift =
            Int64(identity.sequence / UInt64(windows)) * Int64(traces[0].ticks.count) * 1000 + timeOffsetMilliseconds
        let seconds = index * batchSeconds..<(index + 1) * batchSeconds
        encoder.begin(
            epoch: identity.epoch, sequence: identity.sequence,
            baseTimeMilliseconds: traces[0].ticks[seconds.lowerBound].timeMilliseconds + shift)
        for second in seconds {
            for (device, trace) in traces.enumerated() {
                let tick = trace.ticks[second]
                tick.values.withUnsafeBufferPointer { values in
                    do {
                        try encoder.append(
                            timeMilliseconds: tick.timeMilliseconds + shift, clock: .synchronised,
                            firstAlias: device * pointsPerDevice, values: values)
                    } catch {
                        fatalError("spool benchmark: encoding a batch failed: \(error)")
                    }
                }
            }
        }
        do {
            return try compressor.compress(try encoder.seal())
        } catch {
            fatalError("spool benchmark: sealing a batch failed: \(error)")
        }
    }

    /// One sealed batch per window of the trace (60 for 60 s batches, about 3.9 KB each), for phases
    /// that append faster than batches can be sealed. Cycling them changes only the identity the spool
    /// records; the identity inside a frame is that of its first use. The spool never decodes a frame,
    /// and sizes differ from exact sealing only by a sequence varint byte now and then.
    func pool(epoch: UInt64) -> [[UInt8]] {
        (0..<windows).map { Array(seal(BatchIdentity(epoch: epoch, sequence: UInt64($0)))) }
    }
}
