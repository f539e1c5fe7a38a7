/// A decoded batch: its identity, and its groups with every value raw and bit-exact.
public struct DecodedBatch: Sendable, Equatable {
    public var gateway: String
    public var epoch: UInt64
    public var sequence: UInt64
    public var schemaID: UInt64
    public var baseTimeMilliseconds: Int64
    public var groups: [DecodedGroup]
    /// The frame's wire format version (1 or 2).
    public var version: UInt8 = 1
    /// Sequences of this epoch the gateway dropped before they were delivered (spool overflow, say), as it knew
    /// them when it sealed this batch. Version 2; always empty in version 1.
    public var droppedSequences: [Range<UInt64>] = []

    /// The batch's epoch and sequence, as the spool, the uplink and the collector name it.
    public var identity: BatchIdentity { BatchIdentity(epoch: epoch, sequence: sequence) }
}

public struct DecodedGroup: Sendable, Equatable {
    public var timeMilliseconds: Int64
    public var clock: ClockFlags
    /// A range group's first alias (its values are aliases `firstAlias ..< firstAlias + values.count`); a sparse
    /// group's lowest.
    public var firstAlias: Int
    public var values: [WireValue]
    /// A sparse group's aliases, rising, one per value (version 2); nil for a range group.
    public var aliases: [Int]? = nil
    /// The group holds every point of its devices: a full state, not only what changed (version 2).
    public var snapshot = false

    /// The alias of `values[offset]`.
    @inline(__always)
    public func alias(at offset: Int) -> Int { aliases?[offset] ?? firstAlias + offset }

    /// Where `alias` is in `values` (nil: the group does not hold it).
    public func offset(of alias: Int) -> Int? {
        guard let aliases else {
            let offset = alias - firstAlias
            return offset >= 0 && offset < values.count ? offset : nil
        }
        var low = 0, high = aliases.count
        while low < high {
            let middle = (low + high) / 2
            if aliases[middle] < alias { low = middle + 1 } else { high = middle }
        }
        return low < aliases.count && aliases[low] == alias ? low : nil
    }
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
        let (kind, flags, payload, size, version) = try Frame.open(bytes)
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
            return (.batch(try decodeBatch(&reader, version: version, dictionary: dictionary)), size)
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

    private static func decodeBatch(
        _ reader: inout WireReader, version: UInt8, dictionary lookup: (UInt64) -> SchemaDictionary?
    ) throws(WireError) -> DecodedBatch {
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
            var flags = try reader.byte()
            var snapshot = false
            var aliases: [Int]?
            let first: Int
            let count: Int
            if version >= 2 {
                snapshot = flags & GroupFlags.snapshot != 0
                let sparse = flags & GroupFlags.sparse != 0
                flags &= ~(GroupFlags.snapshot | GroupFlags.sparse)
                if sparse {
                    let listed = try readSparseAliases(&reader, points: types.count)
                    aliases = listed
                    first = listed.first ?? 0
                    count = listed.count
                } else {
                    (first, count) = try readRange(&reader, points: types.count)
                }
            } else {
                (first, count) = try readRange(&reader, points: types.count)
            }
            var values = [WireValue?](repeating: nil, count: count)
            let missing = try reader.uvarint()
            guard missing <= UInt64(count) else { throw .invalid("\(missing) missing values in a group of \(count)") }
            for _ in 0..<missing {
                let offset = try reader.uvarint()
                guard offset < UInt64(count), values[Int(offset)] == nil else {
                    throw .invalid("missing-value offset \(offset) repeated or outside the group")
                }
                let code = try reader.byte()
                let detail = code == 2 ? try reader.byte() : 0
                guard let quality = WireQuality(code: code, detail: detail, version: version) else {
                    throw .invalid("unknown quality code \(code) in a version-\(version) frame")
                }
                values[Int(offset)] = .missing(quality)
            }
            for offset in 0..<count where values[offset] == nil {
                let alias = aliases?[offset] ?? first + offset
                values[offset] = try readValue(
                    &reader, type: types[alias], previous: &previous[alias], exponent: &exponent[alias])
            }
            groups.append(
                DecodedGroup(
                    timeMilliseconds: time, clock: ClockFlags(rawValue: flags), firstAlias: first,
                    values: values.map { $0! }, aliases: aliases, snapshot: snapshot))
        }
        var dropped: [Range<UInt64>] = []
        if version >= 2 { dropped = try readDroppedSequences(&reader, sequence: sequence) }
        guard reader.remaining == 0 else { throw .invalid("\(reader.remaining) stray byte(s) after the last group") }
        return DecodedBatch(
            gateway: gateway, epoch: epoch, sequence: sequence, schemaID: schemaID, baseTimeMilliseconds: base,
            groups: groups, version: version, droppedSequences: dropped)
    }

    /// A range group's first alias and count.
    private static func readRange(_ reader: inout WireReader, points: Int) throws(WireError) -> (Int, Int) {
        let first = try reader.uvarint()
        let count = try reader.uvarint()
        guard first <= UInt64(points), count <= UInt64(points) - first else {
            throw .invalid("group aliases \(first)+\(count) outside the dictionary's \(points) points")
        }
        return (Int(first), Int(count))
    }

    /// A sparse group's aliases: a count, the first alias, then each next one as its gap after the previous minus 1.
    private static func readSparseAliases(_ reader: inout WireReader, points: Int) throws(WireError) -> [Int] {
        let count = try reader.uvarint()
        guard count <= UInt64(points), count <= UInt64(reader.remaining) else {
            throw .invalid("sparse group of \(count) aliases in a dictionary of \(points) points")
        }
        var aliases: [Int] = []
        aliases.reserveCapacity(Int(count))
        var next: UInt64 = 0
        for _ in 0..<count {
            let gap = try reader.uvarint()
            let (alias, overflow) = next.addingReportingOverflow(gap)
            guard !overflow, alias < UInt64(points) else {
                throw .invalid("sparse group alias beyond the dictionary's \(points) points")
            }
            aliases.append(Int(alias))
            next = alias + 1
        }
        return aliases
    }

    /// Version 2's batch end: the dropped ranges, rising and apart, each before this batch's own sequence.
    private static func readDroppedSequences(_ reader: inout WireReader, sequence: UInt64) throws(WireError)
        -> [Range<UInt64>]
    {
        let count = try reader.uvarint()
        guard count <= UInt64(reader.remaining) / 2 else {
            throw .invalid("\(count) dropped ranges exceed the bytes left")
        }
        var ranges: [Range<UInt64>] = []
        var floor: UInt64 = 0
        for _ in 0..<count {
            let first = try reader.uvarint()
            let length = try reader.uvarint()
            let (end, overflow) = first.addingReportingOverflow(length)
            guard length > 0, !overflow, first >= floor, end <= sequence else {
                throw .invalid(
                    "dropped range \(first)+\(length) empty, out of order, or not before sequence \(sequence)")
            }
            ranges.append(first..<end)
            floor = end == .max ? .max : end + 1
        }
        return ranges
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
