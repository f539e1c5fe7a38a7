/// Encodes readings into batch frames, in a caller-owned buffer, without allocating.
///
/// A batch is: gateway, epoch, sequence, schema id, base time, then groups.
/// A group is one request's (or poll's) readings: a time delta, clock flags, a
/// run of consecutive aliases, the missing ones with their quality, and the
/// values of the rest. Each alias's value is written as a delta from its
/// previous value in the same batch, so a batch decodes on its own given its
/// dictionary. See docs/wire-format.md.
public final class BatchEncoder {
    public let dictionary: SchemaDictionary
    public let schemaID: UInt64
    private let buffer: UnsafeMutableRawBufferPointer
    private var writer: WireWriter
    private let previous: UnsafeMutablePointer<Int64>
    private let previousExponent: UnsafeMutablePointer<Int8>
    private let types: UnsafeMutablePointer<WireType>
    /// Alias state saved before an optimistic group write, to undo it.
    private let savedPrevious: UnsafeMutablePointer<Int64>
    private let savedExponent: UnsafeMutablePointer<Int8>
    private let gatewayID: [UInt8]
    private let pointCount: Int
    /// Batches under a dictionary of version 2 (report by exception) are version 2 too, so neither reaches a
    /// collector that has not accepted version 2.
    private let dictionaryIsVersion2: Bool
    private var lastTime: Int64 = 0
    private var sequence: UInt64 = 0
    private var groupCountOffset = 0
    private var lengthOffset = 0
    public private(set) var groupCount = 0
    public private(set) var readingCount = 0
    private var open = false
    /// The open batch uses a rule of version 2 (a quality code of its, a snapshot or sparse group): it is sealed as a
    /// version-2 frame. Otherwise it stays version 1, byte for byte what it always was.
    public private(set) var needsVersion2 = false

    /// - Parameter buffer: where frames are built; owned by the caller and reused for every batch.
    public init(dictionary: SchemaDictionary, buffer: UnsafeMutableRawBufferPointer) {
        self.dictionary = dictionary
        schemaID = dictionary.schemaID
        self.buffer = buffer
        writer = WireWriter(buffer)
        pointCount = dictionary.points.count
        dictionaryIsVersion2 = dictionary.isVersion2
        let count = max(1, pointCount)
        previous = .allocate(capacity: count)
        previousExponent = .allocate(capacity: count)
        types = .allocate(capacity: count)
        savedPrevious = .allocate(capacity: count)
        savedExponent = .allocate(capacity: count)
        for (alias, point) in dictionary.points.enumerated() { types[alias] = point.type }
        gatewayID = Array(dictionary.gateway.utf8)
    }

    deinit {
        previous.deallocate()
        previousExponent.deallocate()
        types.deallocate()
        savedPrevious.deallocate()
        savedExponent.deallocate()
    }

    /// Bytes written so far in the open batch (for size-based sealing).
    public var byteCount: Int { writer.count }

    /// Starts a batch. Per-alias history resets, so each batch stands alone.
    public func begin(epoch: UInt64, sequence: UInt64, baseTimeMilliseconds: Int64) {
        writer.reset()
        writer.byte(Frame.magic.0)
        writer.byte(Frame.magic.1)
        writer.byte(Frame.version)
        writer.byte(Frame.Kind.batch.rawValue)
        writer.byte(0)
        lengthOffset = writer.count
        writer.littleEndian32(0)
        writer.uvarint(UInt64(gatewayID.count))
        // Through a buffer pointer: a debug build's array iterator here allocated once per byte.
        gatewayID.withUnsafeBufferPointer { id in
            for b in id { writer.byte(b) }
        }
        writer.uvarint(epoch)
        writer.uvarint(sequence)
        self.sequence = sequence
        writer.littleEndian64(schemaID)
        writer.svarint(baseTimeMilliseconds)
        groupCountOffset = writer.count
        writer.littleEndian32(0)
        lastTime = baseTimeMilliseconds
        groupCount = 0
        readingCount = 0
        needsVersion2 = dictionaryIsVersion2
        previous.update(repeating: 0, count: pointCount)
        previousExponent.update(repeating: -1, count: pointCount)
        open = true
    }

    /// Appends one group: the values of aliases `firstAlias ..< firstAlias + values.count`, stamped `timeMilliseconds`.
    /// A `snapshot` group holds every point of its devices (version 2).
    public func append(
        timeMilliseconds: Int64, clock: ClockFlags, firstAlias: Int, values: UnsafeBufferPointer<WireValue>,
        snapshot: Bool = false
    ) throws(WireError) {
        guard open else { throw .invalid("append before begin") }
        guard firstAlias >= 0, firstAlias + values.count <= pointCount else {
            throw .invalid(
                "aliases \(firstAlias)..<\(firstAlias + values.count) outside the dictionary's \(pointCount) points")
        }
        // A local writer: the hot loop then pays no exclusivity checks on the class's stored property.
        var w = writer
        defer { writer = w }
        let mark = w.count
        w.svarint(timeMilliseconds &- lastTime)
        w.byte(Self.flags(clock, snapshot: snapshot, sparse: false))
        w.uvarint(UInt64(firstAlias))
        w.uvarint(UInt64(values.count))
        // Most groups have no missing values: write them in one pass, optimistically, with the
        // alias state saved; on the first missing value, restore it and take the two-pass path.
        let missingCountOffset = w.count
        w.byte(0)
        let range = firstAlias..<(firstAlias + values.count)
        savedPrevious.update(from: previous + firstAlias, count: values.count)
        savedExponent.update(from: previousExponent + firstAlias, count: values.count)
        var alias = firstAlias
        var sawMissing = false
        for index in values.indices {
            if write(values[index], alias: alias, into: &w) {
                alias += 1
                continue
            }
            guard case .missing = values[index] else {
                w.rewind(to: mark)
                restore(range)
                throw .invalid("value for alias \(alias) does not match its type \(types[alias])")
            }
            sawMissing = true
            break
        }
        var usesVersion2 = snapshot
        if sawMissing {
            restore(range)
            w.rewind(to: missingCountOffset)
            if try writeWithMissing(values, firstAlias: firstAlias, into: &w, mark: mark) { usesVersion2 = true }
        }
        if w.overflowed {
            // The group is dropped whole, and its aliases' state with it, so the batch stays decodable.
            w.rewind(to: mark)
            restore(range)
            throw .bufferFull(capacity: buffer.count)
        }
        lastTime = timeMilliseconds
        groupCount += 1
        readingCount += values.count
        if usesVersion2 { needsVersion2 = true }
    }

    /// Appends one sparse group (version 2): `values[i]` is alias `aliases[i]`, the aliases rising. For a group that
    /// holds a few of many points (report by exception), where a range would have to mark the rest missing.
    public func append(
        timeMilliseconds: Int64, clock: ClockFlags, aliases: UnsafeBufferPointer<Int>,
        values: UnsafeBufferPointer<WireValue>, snapshot: Bool = false
    ) throws(WireError) {
        guard open else { throw .invalid("append before begin") }
        guard aliases.count == values.count else {
            throw .invalid("\(aliases.count) aliases for \(values.count) values")
        }
        var next = 0
        for index in 0..<aliases.count {
            let alias = aliases[index]
            guard alias >= next, alias < pointCount else {
                throw .invalid("sparse aliases must rise within the dictionary's \(pointCount) points")
            }
            next = alias + 1
        }
        var w = writer
        defer { writer = w }
        let mark = w.count
        w.svarint(timeMilliseconds &- lastTime)
        w.byte(Self.flags(clock, snapshot: snapshot, sparse: true))
        w.uvarint(UInt64(aliases.count))
        next = 0
        // By index, with no nested function: a debug build boxes what a local function captures, and iterators
        // allocate there too (BatchBuilderTests counts).
        for index in 0..<aliases.count {
            let alias = aliases[index]
            w.uvarint(UInt64(alias - next))
            next = alias + 1
            savedPrevious[index] = previous[alias]
            savedExponent[index] = previousExponent[alias]
        }
        _ = Self.writeMissingList(values, into: &w)  // a sparse group is version 2 whatever its qualities
        var mismatch: Int?
        for index in 0..<values.count {
            if case .missing = values[index] { continue }
            if !write(values[index], alias: aliases[index], into: &w) {
                mismatch = index
                break
            }
        }
        if mismatch != nil || w.overflowed {
            w.rewind(to: mark)
            for index in 0..<aliases.count {
                previous[aliases[index]] = savedPrevious[index]
                previousExponent[aliases[index]] = savedExponent[index]
            }
            if let mismatch {
                throw .invalid(
                    "value for alias \(aliases[mismatch]) does not match its type \(types[aliases[mismatch]])")
            }
            throw .bufferFull(capacity: buffer.count)
        }
        lastTime = timeMilliseconds
        groupCount += 1
        readingCount += values.count
        needsVersion2 = true
    }

    /// The missing list: its count, then each missing value's offset, quality and (for an exception) its code.
    /// Returns whether a quality of version 2 is among them.
    private static func writeMissingList(_ values: UnsafeBufferPointer<WireValue>, into w: inout WireWriter) -> Bool {
        var missing = 0
        for index in values.indices {
            if case .missing = values[index] { missing += 1 }
        }
        w.uvarint(UInt64(missing))
        var usesVersion2 = false
        for index in values.indices {
            guard case .missing(let quality) = values[index] else { continue }
            w.uvarint(UInt64(index))
            w.byte(quality.code)
            if quality.code == 2 { w.byte(quality.detail) }
            if quality.minimumVersion >= 2 { usesVersion2 = true }
        }
        return usesVersion2
    }

    /// The group's flags byte: the clock's bits 0–1, and version 2's snapshot and sparse bits.
    @inline(__always)
    private static func flags(_ clock: ClockFlags, snapshot: Bool, sparse: Bool) -> UInt8 {
        (clock.rawValue & ~(GroupFlags.snapshot | GroupFlags.sparse)) | (snapshot ? GroupFlags.snapshot : 0)
            | (sparse ? GroupFlags.sparse : 0)
    }

    private func restore(_ range: Range<Int>) {
        (previous + range.lowerBound).update(from: savedPrevious, count: range.count)
        (previousExponent + range.lowerBound).update(from: savedExponent, count: range.count)
    }

    /// The general path: the missing list first, then the present values. Returns whether a missing value has a
    /// quality of version 2.
    private func writeWithMissing(
        _ values: UnsafeBufferPointer<WireValue>, firstAlias: Int, into w: inout WireWriter, mark: Int
    ) throws(WireError) -> Bool {
        let usesVersion2 = Self.writeMissingList(values, into: &w)
        var alias = firstAlias
        for index in values.indices {
            defer { alias += 1 }
            if case .missing = values[index] { continue }
            guard write(values[index], alias: alias, into: &w) else {
                w.rewind(to: mark)
                restore(firstAlias..<(firstAlias + values.count))
                throw .invalid("value for alias \(alias) does not match its type \(types[alias])")
            }
        }
        return usesVersion2
    }

    /// Closes the batch: patches its length and group count, appends the checksum.
    /// Returns the frame, valid until the next `begin`.
    ///
    /// - Parameter droppedSequences: sequences of this epoch the gateway dropped undelivered since its previous
    ///   batch was sealed, rising and apart, each before this batch's own. Any make the frame version 2; so does
    ///   any version-2 rule the groups used. A version-1 seal writes exactly the bytes it always did.
    public func seal(droppedSequences: [Range<UInt64>] = []) throws(WireError) -> UnsafeRawBufferPointer {
        guard open else { throw .invalid("seal before begin") }
        if needsVersion2 || !droppedSequences.isEmpty {
            let mark = writer.count
            writer.uvarint(UInt64(droppedSequences.count))
            var floor: UInt64 = 0
            for range in droppedSequences {
                guard !range.isEmpty, range.lowerBound >= floor, range.upperBound <= sequence else {
                    writer.rewind(to: mark)
                    throw .invalid("dropped ranges must be non-empty, rising, apart and before the batch's sequence")
                }
                writer.uvarint(range.lowerBound)
                writer.uvarint(range.upperBound - range.lowerBound)
                floor = range.upperBound == .max ? .max : range.upperBound + 1
            }
            if writer.overflowed || writer.count + Frame.trailerSize > buffer.count {
                writer.rewind(to: mark)
                throw .bufferFull(capacity: buffer.count)
            }
            writer.patch(at: Frame.versionOffset, 2)
        }
        guard writer.count + Frame.trailerSize <= buffer.count else { throw .bufferFull(capacity: buffer.count) }
        open = false
        let payload = UInt32(writer.count - Frame.headerSize)
        patch32(at: lengthOffset, payload)
        patch32(at: groupCountOffset, UInt32(groupCount))
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[..<writer.count]))
        writer.littleEndian32(crc)
        return UnsafeRawBufferPointer(rebasing: buffer[..<writer.count])
    }

    private func patch32(at offset: Int, _ value: UInt32) {
        for i in 0..<4 { writer.patch(at: offset + i, UInt8(truncatingIfNeeded: value >> UInt32(8 * i))) }
    }

    @inline(__always)
    private func write(_ value: WireValue, alias: Int, into w: inout WireWriter) -> Bool {
        let type = types[alias]
        switch value {
        case .bool(let b) where type == .bool:
            w.byte(b ? 1 : 0)
        case .int(let v) where type.isSigned:
            w.svarint(v &- previous[alias])
            previous[alias] = v
        case .uint(let v) where type.isUnsigned:
            let bits = Int64(bitPattern: v)
            w.svarint(bits &- previous[alias])
            previous[alias] = bits
        case .float32(let bits) where type == .float32:
            writeFloat(alias: alias, raw: UInt64(bits), into: &w) { DecimalFloat.mantissa(float32: bits, exponent: $0) }
        case .float64(let bits) where type == .float64:
            writeFloat(alias: alias, raw: bits, into: &w) { DecimalFloat.mantissa(float64: bits, exponent: $0) }
        case .string(let text) where type == .string:
            w.string(text)
        default:
            return false
        }
        return true
    }

    /// Tag bit 0: delta at the previous exponent. Tag bit 1: an exponent byte follows
    /// (0...6, or 0xFF for raw bits), then the delta (absent for raw bits).
    @inline(__always)
    private func writeFloat(alias: Int, raw: UInt64, into writer: inout WireWriter, mantissa: (Int) -> Int64?) {
        let k = Int(previousExponent[alias])
        if k >= 0, let m = mantissa(k) {
            writer.uvarint(zigzag(m - previous[alias]) << 1)
            previous[alias] = m
            return
        }
        for exponent in 0...DecimalFloat.maximumExponent where exponent != k {
            if let m = mantissa(exponent) {
                let base = DecimalFloat.rescale(previous[alias], from: k, to: exponent)
                writer.uvarint(zigzag(m - base) << 1 | 1)
                writer.byte(UInt8(exponent))
                previous[alias] = m
                previousExponent[alias] = Int8(exponent)
                return
            }
        }
        writer.uvarint(1)
        writer.byte(0xFF)
        if types[alias] == .float32 {
            writer.littleEndian32(UInt32(truncatingIfNeeded: raw))
        } else {
            writer.littleEndian64(raw)
        }
        previous[alias] = 0
        previousExponent[alias] = -1
    }

    @inline(__always)
    private func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
}
