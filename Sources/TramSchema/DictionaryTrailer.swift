/// The dictionary's optional trailer: what a reader may want to know about the points beyond how to decode them.
///
///     repeated to the payload's end:  uvarint tag | uvarint length | length bytes
///
/// Tags rise strictly (so each appears once and the encoding stays canonical for the schema id). A section is
/// written only when one of its values differs from its default, so a dictionary with nothing to add has no
/// trailer and keeps the bytes (and schema id) it had before the trailer existed. A decoder skips tags it does
/// not know (a later version may add some) and rejects a length that runs past the payload.
enum DictionaryTrailer {
    enum Tag: UInt64 {
        /// N bytes, one `PointKind` a point in alias order.
        case pointKinds = 1
        /// N uvarints in alias order: the poll interval of the point's device in milliseconds, 0 unknown.
        case pointIntervals = 2
        /// One uvarint: the gateway's batch max age in milliseconds (0 unknown).
        case batchMaximumAge = 3
        /// N `f64le` in alias order: the point's deadband in engineering units; 0 every change, NaN every poll.
        case pointDeadbands = 4
        /// N uvarints in alias order: the point's heartbeat in milliseconds, 0 none.
        case pointHeartbeats = 5
    }

    /// Whether the dictionary needs a version-2 frame: it says some points are reported by exception, which a reader
    /// that skipped the section would take for stale.
    static func needsVersion2(_ dictionary: SchemaDictionary) -> Bool {
        dictionary.points.contains { $0.reportsByException }
    }

    static func write(_ dictionary: SchemaDictionary, to writer: inout WireWriter) {
        let points = dictionary.points
        if points.contains(where: { $0.kind != .gauge }) {
            writer.uvarint(Tag.pointKinds.rawValue)
            writer.uvarint(UInt64(points.count))
            for point in points { writer.byte(point.kind.rawValue) }
        }
        if points.contains(where: { $0.intervalMilliseconds != nil }) {
            writer.uvarint(Tag.pointIntervals.rawValue)
            writer.uvarint(UInt64(points.reduce(0) { $0 + WireWriter.uvarintSize($1.intervalMilliseconds ?? 0) }))
            for point in points { writer.uvarint(point.intervalMilliseconds ?? 0) }
        }
        if let age = dictionary.batchMaximumAgeMilliseconds {
            writer.uvarint(Tag.batchMaximumAge.rawValue)
            writer.uvarint(UInt64(WireWriter.uvarintSize(age)))
            writer.uvarint(age)
        }
        if points.contains(where: { $0.deadband != nil }) {
            writer.uvarint(Tag.pointDeadbands.rawValue)
            writer.uvarint(UInt64(points.count * 8))
            for point in points { writer.littleEndian64((point.deadband ?? .nan).bitPattern) }
        }
        if points.contains(where: { $0.heartbeatMilliseconds != nil }) {
            writer.uvarint(Tag.pointHeartbeats.rawValue)
            writer.uvarint(UInt64(points.reduce(0) { $0 + WireWriter.uvarintSize($1.heartbeatMilliseconds ?? 0) }))
            for point in points { writer.uvarint(point.heartbeatMilliseconds ?? 0) }
        }
    }

    /// Reads sections up to the end of `reader`'s input into `dictionary`.
    static func read(_ reader: inout WireReader, into dictionary: inout SchemaDictionary) throws(WireError) {
        var previous: UInt64 = 0
        while reader.remaining > 0 {
            let at = reader.offset
            let tag = try reader.uvarint()
            guard tag > previous else {
                throw .invalid(
                    tag == 0
                        ? "dictionary trailer section tag 0 at offset \(at) is reserved"
                        : "dictionary trailer section tag \(tag) at offset \(at) does not follow tag \(previous)")
            }
            previous = tag
            let length = try reader.uvarint()
            guard length <= UInt64(reader.remaining) else {
                throw .invalid(
                    "dictionary trailer section \(tag) at offset \(at) says \(length) bytes; \(reader.remaining) left")
            }
            var section = try reader.section(length: Int(length))
            switch Tag(rawValue: tag) {
            case .pointKinds:
                guard section.remaining == dictionary.points.count else {
                    throw .invalid("point kinds: \(section.remaining) bytes for \(dictionary.points.count) points")
                }
                for index in dictionary.points.indices {
                    let code = try section.byte()
                    guard let kind = PointKind(rawValue: code) else {
                        throw .invalid("point \(index) has unknown kind \(code)")
                    }
                    dictionary.points[index].kind = kind
                }
            case .pointIntervals:
                for index in dictionary.points.indices {
                    let interval = try section.uvarint()
                    dictionary.points[index].intervalMilliseconds = interval == 0 ? nil : interval
                }
                guard section.remaining == 0 else {
                    throw .invalid(
                        "point intervals: \(section.remaining) stray byte(s) after \(dictionary.points.count) points")
                }
            case .batchMaximumAge:
                let age = try section.uvarint()
                guard section.remaining == 0 else {
                    throw .invalid("batch max age: \(section.remaining) stray byte(s) after the value")
                }
                dictionary.batchMaximumAgeMilliseconds = age == 0 ? nil : age
            case .pointDeadbands:
                guard section.remaining == dictionary.points.count * 8 else {
                    throw .invalid("point deadbands: \(section.remaining) bytes for \(dictionary.points.count) points")
                }
                for index in dictionary.points.indices {
                    let deadband = Double(bitPattern: try section.littleEndian64())
                    guard deadband.isNaN || (deadband >= 0 && deadband.isFinite) else {
                        throw .invalid("point \(index) has deadband \(deadband)")
                    }
                    dictionary.points[index].deadband = deadband.isNaN ? nil : deadband
                }
            case .pointHeartbeats:
                for index in dictionary.points.indices {
                    let heartbeat = try section.uvarint()
                    dictionary.points[index].heartbeatMilliseconds = heartbeat == 0 ? nil : heartbeat
                }
                guard section.remaining == 0 else {
                    throw .invalid(
                        "point heartbeats: \(section.remaining) stray byte(s) after \(dictionary.points.count) points")
                }
            case nil:
                continue  // a later version's section: its bytes still count in the schema id
            }
        }
    }
}
