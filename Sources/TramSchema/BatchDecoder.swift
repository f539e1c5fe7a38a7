/// A decoded batch: its identity, and its groups with every value raw and bit-exact.
public struct DecodedBatch: Sendable, Equatable {
    public var gateway: String
    public var epoch: UInt64
    public var sequence: UInt64
    public var schemaID: UInt64
    public var baseTimeMilliseconds: Int64
    public var groups: [DecodedGroup]

    /// The batch's epoch and sequence, as the spool, the uplink and the collector name it.
    public var identity: BatchIdentity { BatchIdentity(epoch: epoch, sequence: sequence) }
}

public struct DecodedGroup: Sendable, Equatable {
    public var timeMilliseconds: Int64
    public var clock: ClockFlags
    public var firstAlias: Int
    public var values: [WireValue]
}

/// Decodes frames. Shared by tramctl and the collector; every malformed input is an error, never a trap.
public enum FrameDecoder {
    /// What one frame holds.
    public enum Decoded: Sendable, Equatable {
        case dictionary(SchemaDictionary, schemaID: UInt64)
        case batch(DecodedBatch)
    }

    /// Decodes the frame at the start of `bytes`; `size` says where the next frame starts.
    /// - Parameter dictionary: looks up a batch's dictionary by schema id.
    public static func decode(_ bytes: UnsafeRawBufferPointer, dictionary: (UInt64) -> SchemaDictionary?)
        throws(WireError) -> (frame: Decoded, size: Int)
    {
        let (kind, flags, payload, size) = try Frame.open(bytes)
        guard flags & Frame.compressedFlag == 0 else {
            throw .invalid("the payload is compressed: decode it with TramCompression's FrameCodec")
        }
        var reader = WireReader(payload)
        switch kind {
        case .dictionary:
            let id = try reader.littleEndian64()
            // The id is checked against the bytes as sent: they may hold trailer sections this build skips.
            guard SchemaDictionary.hash(UnsafeRawBufferPointer(rebasing: payload[reader.offset...])) == id else {
                throw .invalid("schema id 0x\(String(id, radix: 16)) does not match the dictionary's content")
            }
            let decoded = try SchemaDictionary.decodeBody(&reader)
            return (.dictionary(decoded, schemaID: id), size)
        case .batch:
            return (.batch(try decodeBatch(&reader, dictionary: dictionary)), size)
        }
    }

    public static func decode(_ bytes: [UInt8], dictionary: (UInt64) -> SchemaDictionary?) throws(WireError) -> (
        frame: Decoded, size: Int
    ) {
        do {
            return try bytes.withUnsafeBytes { raw in try decode(raw, dictionary: dictionary) }
        } catch let error as WireError {
            throw error
        } catch {
            throw .invalid("\(error)")
        }
    }

    private static func decodeBatch(_ reader: inout WireReader, dictionary lookup: (UInt64) -> SchemaDictionary?)
        throws(WireError) -> DecodedBatch
    {
        let gateway = try reader.string()
        let epoch = try reader.uvarint()
        let sequence = try reader.uvarint()
        let schemaID = try reader.littleEndian64()
        let base = try reader.svarint()
        let groupCount = Int(try reader.littleEndian32())
        guard groupCount <= reader.remaining / 5 else {
            throw .invalid("group count \(groupCount) exceeds the bytes left")
        }
        guard let dictionary = lookup(schemaID) else {
            throw .invalid(
                "no dictionary for schema id 0x\(String(schemaID, radix: 16)): keep dictionaries as long as batches that use them"
            )
        }
        let types = dictionary.points.map(\.type)
        var previous = [Int64](repeating: 0, count: types.count)
        var exponent = [Int](repeating: -1, count: types.count)
        var time = base
        var groups: [DecodedGroup] = []
        groups.reserveCapacity(groupCount)
        for _ in 0..<groupCount {
            time = time &+ (try reader.svarint())
            let clock = ClockFlags(rawValue: try reader.byte())
            let first = try reader.uvarint()
            let count = try reader.uvarint()
            guard first <= UInt64(types.count), count <= UInt64(types.count) - first else {
                throw .invalid("group aliases \(first)+\(count) outside the dictionary's \(types.count) points")
            }
            var values = [WireValue?](repeating: nil, count: Int(count))
            let missing = try reader.uvarint()
            guard missing <= count else { throw .invalid("\(missing) missing values in a group of \(count)") }
            for _ in 0..<missing {
                let offset = try reader.uvarint()
                guard offset < count, values[Int(offset)] == nil else {
                    throw .invalid("missing-value offset \(offset) repeated or outside the group")
                }
                let code = try reader.byte()
                let detail = code == 2 ? try reader.byte() : 0
                guard let quality = WireQuality(code: code, detail: detail) else {
                    throw .invalid("unknown quality code \(code)")
                }
                values[Int(offset)] = .missing(quality)
            }
            for offset in 0..<Int(count) where values[offset] == nil {
                let alias = Int(first) + offset
                values[offset] = try readValue(
                    &reader, type: types[alias], previous: &previous[alias], exponent: &exponent[alias])
            }
            groups.append(
                DecodedGroup(timeMilliseconds: time, clock: clock, firstAlias: Int(first), values: values.map { $0! }))
        }
        guard reader.remaining == 0 else { throw .invalid("\(reader.remaining) stray byte(s) after the last group") }
        return DecodedBatch(
            gateway: gateway, epoch: epoch, sequence: sequence, schemaID: schemaID, baseTimeMilliseconds: base,
            groups: groups)
    }

    private static func readValue(
        _ reader: inout WireReader, type: WireType, previous: inout Int64, exponent: inout Int
    ) throws(WireError) -> WireValue {
        switch type {
        case .bool:
            let b = try reader.byte()
            guard b <= 1 else { throw .invalid("bool byte \(b)") }
            return .bool(b == 1)
        case .int16, .int32, .int64:
            previous = previous &+ (try reader.svarint())
            guard fits(previous, type) else { throw .invalid("\(previous) does not fit \(type)") }
            return .int(previous)
        case .uint16, .uint32, .uint64:
            previous = previous &+ (try reader.svarint())
            let value = UInt64(bitPattern: previous)
            guard fits(value, type) else { throw .invalid("\(value) does not fit \(type)") }
            return .uint(value)
        case .float32, .float64:
            let head = try reader.uvarint()
            let delta = Int64(bitPattern: (head >> 2) ^ (0 &- ((head >> 1) & 1)))
            if head & 1 == 0 {
                guard exponent >= 0 else { throw .invalid("float delta without an exponent") }
                previous = previous &+ delta
            } else {
                let k = try reader.byte()
                if k == 0xFF {
                    guard head == 1 else { throw .invalid("raw float with a delta") }
                    previous = 0
                    exponent = -1
                    return type == .float32
                        ? .float32(bits: try reader.littleEndian32()) : .float64(bits: try reader.littleEndian64())
                }
                guard Int(k) <= DecimalFloat.maximumExponent else { throw .invalid("float exponent \(k)") }
                previous = DecimalFloat.rescale(previous, from: exponent, to: Int(k)) &+ delta
                exponent = Int(k)
            }
            guard DecimalFloat.isMantissa(previous) else { throw .invalid("float mantissa \(previous) out of range") }
            return type == .float32
                ? .float32(bits: DecimalFloat.float32(previous, exponent))
                : .float64(bits: DecimalFloat.float64(previous, exponent))
        case .string:
            return .string(try reader.string())
        }
    }

    private static func fits(_ v: Int64, _ type: WireType) -> Bool {
        switch type {
        case .int16: Int64(Int16.min)...Int64(Int16.max) ~= v
        case .int32: Int64(Int32.min)...Int64(Int32.max) ~= v
        default: true
        }
    }

    private static func fits(_ v: UInt64, _ type: WireType) -> Bool {
        switch type {
        case .uint16: v <= UInt64(UInt16.max)
        case .uint32: v <= UInt64(UInt32.max)
        default: true
        }
    }
}
