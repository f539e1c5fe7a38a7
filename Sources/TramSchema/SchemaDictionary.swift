/// The dictionary frame's content: every point a gateway reports, in alias order.
///
/// Its schema id is a hash of its canonical encoding, so the same config always
/// gives the same id and any change gives a new one.
public struct SchemaDictionary: Sendable, Hashable {
    public var gateway: String
    public var points: [PointDescriptor]
    /// The gateway's batch max age (how long a reading can wait before its batch is sealed), in milliseconds; nil
    /// when the dictionary does not say. A receiver can tell a silent gateway from a slow one by it. 0 is nil.
    public var batchMaximumAgeMilliseconds: UInt64?

    public init(gateway: String, points: [PointDescriptor], batchMaximumAgeMilliseconds: UInt64? = nil) {
        self.gateway = gateway
        self.points = points
        self.batchMaximumAgeMilliseconds = batchMaximumAgeMilliseconds == 0 ? nil : batchMaximumAgeMilliseconds
    }

    /// Whether its frame (and every batch under it) is version 2: it carries report-by-exception sections, which a
    /// version-1 reader would skip and then take a quiet point for a stale one.
    public var isVersion2: Bool { DictionaryTrailer.needsVersion2(self) }

    /// FNV-1a 64 over the canonical body (everything after the id).
    public var schemaID: UInt64 {
        canonicalBody().withUnsafeBytes { Self.hash($0) }
    }

    /// FNV-1a 64, the schema id of a body.
    static func hash(_ body: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in body { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    func canonicalBody() -> [UInt8] {
        var size = 64
        while true {
            var bytes = [UInt8](repeating: 0, count: size)
            let written: Int? = bytes.withUnsafeMutableBytes { raw in
                var writer = WireWriter(raw)
                writeBody(&writer)
                return writer.overflowed ? nil : writer.count
            }
            if let written { return Array(bytes[..<written]) }
            size *= 4
        }
    }

    func writeBody(_ writer: inout WireWriter) {
        writer.string(gateway)
        writer.uvarint(UInt64(points.count))
        for point in points {
            writer.string(point.device)
            writer.string(point.name)
            writer.string(point.unit)
            writer.byte(point.type.rawValue)
            writer.littleEndian64(point.scale.bitPattern)
            writer.littleEndian64(point.offset.bitPattern)
            writer.uvarint(point.exponentAlias.map { UInt64($0) + 1 } ?? 0)
        }
        DictionaryTrailer.write(self, to: &writer)
    }

    /// The dictionary as a frame.
    public func frame() -> [UInt8] {
        let body = canonicalBody()
        var payload: [UInt8] = []
        payload.reserveCapacity(body.count + 8)
        let id = schemaID
        for shift in stride(from: 0, to: 64, by: 8) { payload.append(UInt8(truncatingIfNeeded: id >> UInt64(shift))) }
        payload += body
        return Frame.wrap(kind: .dictionary, payload: payload, version: isVersion2 ? 2 : Frame.version)
    }

    /// Reads the body to the end of `reader`'s input (the trailer runs to the payload's end).
    static func decodeBody(_ reader: inout WireReader) throws(WireError) -> SchemaDictionary {
        let gateway = try reader.string()
        let count = try reader.count(minimumSize: 20)
        var points: [PointDescriptor] = []
        points.reserveCapacity(count)
        for _ in 0..<count {
            let device = try reader.string()
            let name = try reader.string()
            let unit = try reader.string()
            let code = try reader.byte()
            guard let type = WireType(rawValue: code) else { throw .invalid("unknown value type \(code)") }
            let scale = Double(bitPattern: try reader.littleEndian64())
            let offset = Double(bitPattern: try reader.littleEndian64())
            let exponent = try reader.uvarint()
            guard exponent <= UInt64(count) else {
                throw .invalid("exponent alias \(exponent - 1) beyond \(count) points")
            }
            points.append(
                PointDescriptor(
                    device: device, name: name, unit: unit, type: type, scale: scale, offset: offset,
                    exponentAlias: exponent == 0 ? nil : Int(exponent - 1)))
        }
        var dictionary = SchemaDictionary(gateway: gateway, points: points)
        try DictionaryTrailer.read(&reader, into: &dictionary)
        return dictionary
    }
}
