import TramCompression
import TramLineProtocol
import TramSchema
import TramSpool

/// Spooled batches as one Influx line-protocol body, for a `.lineProtocol` sink (docs/uplink.md).
///
/// A line-protocol receiver (VictoriaMetrics, InfluxDB) knows nothing of Tram frames, so the uplink opens each batch
/// (decompresses it and decodes it against its dictionary from the spool) and writes its readings as lines by the
/// collector relay's rules, through the same code (``InfluxLine``, ``ReadingValue``, ``HoldBackRule``): measurement
/// `tram`, tags `gateway` and `device`, one field per point, the engineering value, millisecond timestamps (the write
/// URL carries `precision=ms`). A plant that feeds its time-series store from the gateway gets the very lines it
/// would get through the collector.
public struct LineProtocolBody {
    public let measurement: String
    /// Decoded dictionaries by schema id. A schema id is a hash of its dictionary's content, so an entry never goes stale.
    private var dictionaries: [UInt64: SchemaDictionary] = [:]

    public init(measurement: String = "tram") {
        self.measurement = measurement
    }

    /// One body, and what became of the batches and their readings.
    public struct Rendered {
        /// The lines of every batch in `batches`; empty when none of their readings has anything to send.
        public var body: [UInt8] = []
        /// The batches whose readings the body carries, in their order.
        public var batches: [SpoolBatch] = []
        /// Batches whose frame does not decode. No sink could ever take them: the uplink sets them aside.
        public var malformed: [(batch: SpoolBatch, problem: String)] = []
        /// Schemas of batches whose dictionary the spool does not hold (or holds damaged). Those batches are in
        /// neither list: they may be fine, and the uplink keeps them.
        public var unknownSchemas: [UInt64] = []
        /// The readings of `batches`: sent as fields, skipped, held back.
        public var tally = LineTally()
        public var lines = 0
    }

    /// Renders `batches`.
    /// - Parameters:
    ///   - now: the wall clock in milliseconds, for the hold-back rule (a reading over a day ahead is not sent).
    ///   - dictionary: the dictionary frame the spool holds for a schema id (`DeliveryQueue.dictionary(schemaID:)`).
    public mutating func render(_ batches: [SpoolBatch], now: Int64, dictionary frame: (UInt64) -> [UInt8]?) -> Rendered
    {
        var rendered = Rendered()
        var writer = InfluxLine.Writer(measurement: measurement)
        for batch in batches {
            guard let dictionary = dictionary(batch.schemaID, frame: frame) else {
                if !rendered.unknownSchemas.contains(batch.schemaID) { rendered.unknownSchemas.append(batch.schemaID) }
                continue
            }
            let decoded: DecodedBatch
            do {
                let opened = try FrameCodec.decode(batch.frame) { $0 == batch.schemaID ? dictionary : nil }
                guard case .batch(let b) = opened.frame else {
                    throw WireError.invalid("a dictionary frame where a batch was spooled")
                }
                guard opened.size == batch.frame.count else {
                    throw WireError.invalid("\(batch.frame.count - opened.size) stray byte(s) after the frame")
                }
                decoded = b
            } catch {
                rendered.malformed.append((batch, "\(error)"))
                continue
            }
            rendered.batches.append(batch)
            for group in decoded.groups {
                let synchronised = group.clock.contains(.synchronised)
                for index in group.values.indices {
                    let point = dictionary.points[group.alias(at: index)]
                    let value = ReadingValue(group, index: index, descriptor: point)
                    writer.append(
                        gateway: decoded.gateway, device: point.device, point: point.name, time: group.timeMilliseconds,
                        synchronised: synchronised, type: point.type.rawValue, value: value.engineering,
                        rawInt: value.rawInt,
                        rawText: value.rawText, quality: Int(value.quality), now: now, tally: &rendered.tally)
                }
            }
        }
        rendered.lines = writer.lines
        rendered.body = writer.finish()
        return rendered
    }

    /// The dictionary for `schemaID`, decoded once; nil when the spool holds none, or a damaged one.
    private mutating func dictionary(_ schemaID: UInt64, frame: (UInt64) -> [UInt8]?) -> SchemaDictionary? {
        if let known = dictionaries[schemaID] { return known }
        guard let bytes = frame(schemaID),
            case .dictionary(let dictionary, let id)? = try? FrameCodec.decode(bytes, dictionary: { _ in nil }).frame,
            id == schemaID
        else { return nil }
        dictionaries[schemaID] = dictionary
        return dictionary
    }
}
