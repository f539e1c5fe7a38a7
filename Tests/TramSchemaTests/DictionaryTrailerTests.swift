import Testing
import TramSchema
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The golden example with what the trailer adds: the energy register is a counter, the incomer is polled every
/// second and the PV inverter every minute, and batches wait at most 10 s. vectors/README.md spells it out.
enum TrailerExample {
    static let dictionary: SchemaDictionary = {
        var dictionary = GoldenExample.dictionary
        for index in dictionary.points.indices {
            dictionary.points[index].intervalMilliseconds = dictionary.points[index].device == "incomer" ? 1000 : 60_000
        }
        dictionary.points[1].kind = .counter
        dictionary.batchMaximumAgeMilliseconds = 10_000
        return dictionary
    }()

    /// The trailer as vectors/README.md writes it out.
    static let trailer: [UInt8] =
        [0x01, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]
        + [0x02, 0x0F, 0xE8, 0x07, 0xE8, 0x07, 0xE8, 0x07, 0xE0, 0xD4, 0x03, 0xE0, 0xD4, 0x03, 0xE0, 0xD4, 0x03]
        + [0x03, 0x02, 0x90, 0x4E]

    /// A dictionary frame of the golden example's gateway and points followed by `trailer`, with its schema id
    /// and checksum right, so that only the trailer can be wrong.
    static func frame(trailer: [UInt8]) -> [UInt8] {
        let plain = GoldenExample.dictionary.frame()
        let body = Array(plain[(Frame.headerSize + 8)..<(plain.count - Frame.trailerSize)]) + trailer
        let id = body.reduce(UInt64(0xCBF2_9CE4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
        let payload = (0..<8).map { UInt8(truncatingIfNeeded: id >> UInt64(8 * $0)) } + body
        return Frame.wrap(kind: .dictionary, payload: payload)
    }

    /// The committed negative vectors: file, trailer, and a phrase of the error they must give.
    static let invalid: [(file: String, trailer: [UInt8], error: String)] = [
        ("invalid-trailer-overrun.hex", [0x03, 0x05, 0x90, 0x4E], "says 5 bytes; 2 left"),
        ("invalid-point-kind.hex", [0x01, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02], "point 5 has unknown kind 2"),
    ]
}

@Suite("Dictionary trailer")
struct DictionaryTrailerTests {
    static func decodeDictionary(_ frame: [UInt8]) throws(WireError) -> (SchemaDictionary, UInt64) {
        guard case .dictionary(let dictionary, let id) = try FrameDecoder.decode(frame, dictionary: { _ in nil }).frame
        else { throw .invalid("not a dictionary") }
        return (dictionary, id)
    }

    @Test("the encoder writes the committed trailer vector byte for byte, and the decoder reads it back")
    func goldenTrailer() throws {
        let frame = TrailerExample.dictionary.frame()
        if getenv("TRAM_RECORD_VECTORS") != nil {
            Vectors.write("dictionary-trailer.hex", Vectors.hex(frame))
            for vector in TrailerExample.invalid {
                Vectors.write(vector.file, Vectors.hex(TrailerExample.frame(trailer: vector.trailer)))
            }
        }
        let committed = try #require(Vectors.read("dictionary-trailer.hex"), "vectors/dictionary-trailer.hex missing")
        #expect(Vectors.hex(frame) == committed)
        #expect(frame == TrailerExample.frame(trailer: TrailerExample.trailer), "the trailer is the README's")
        let (dictionary, id) = try Self.decodeDictionary(Vectors.bytes(committed))
        #expect(dictionary == TrailerExample.dictionary)
        #expect(id == TrailerExample.dictionary.schemaID && id != GoldenExample.dictionary.schemaID)
        #expect(dictionary.points.map(\.kind) == [.gauge, .counter, .gauge, .gauge, .gauge, .gauge])
        #expect(dictionary.points.map(\.intervalMilliseconds) == [1000, 1000, 1000, 60_000, 60_000, 60_000])
        #expect(dictionary.batchMaximumAgeMilliseconds == 10_000)
    }

    @Test("defaults write no trailer: the plain vector keeps its bytes when every value is spelled out")
    func defaultsWriteNothing() throws {
        var dictionary = GoldenExample.dictionary
        for index in dictionary.points.indices {
            dictionary.points[index].kind = .gauge
            dictionary.points[index].intervalMilliseconds = nil
        }
        dictionary.batchMaximumAgeMilliseconds = nil
        let committed = try #require(Vectors.read("dictionary.hex"))
        #expect(Vectors.hex(dictionary.frame()) == committed)
        // 0 is how the wire says unknown, so a 0 given to an initialiser is nil too
        #expect(
            PointDescriptor(device: "d", name: "p", type: .bool, intervalMilliseconds: 0).intervalMilliseconds == nil)
        #expect(
            SchemaDictionary(gateway: "g", points: [], batchMaximumAgeMilliseconds: 0).frame()
                == SchemaDictionary(gateway: "g", points: []).frame())
    }

    @Test("each section is written only when it has something to say")
    func sectionsApart() throws {
        let plain = GoldenExample.dictionary.frame().count
        var kinds = GoldenExample.dictionary
        kinds.points[1].kind = .counter
        #expect(kinds.frame().count == plain + 2 + 6)
        var age = GoldenExample.dictionary
        age.batchMaximumAgeMilliseconds = 1
        #expect(age.frame().count == plain + 3)
        var interval = GoldenExample.dictionary
        interval.points[5].intervalMilliseconds = 100
        #expect(interval.frame().count == plain + 2 + 6)  // five unknowns (0) and one 100, a byte each
        for dictionary in [kinds, age, interval] {
            #expect(try Self.decodeDictionary(dictionary.frame()).0 == dictionary)
        }
    }

    @Test("the committed negative vectors are rejected for what they say is wrong")
    func negativeVectors() throws {
        for vector in TrailerExample.invalid {
            let committed = try #require(Vectors.read(vector.file), "vectors/\(vector.file) missing")
            #expect(Vectors.bytes(committed) == TrailerExample.frame(trailer: vector.trailer))
            let error = #expect(throws: WireError.self) { try Self.decodeDictionary(Vectors.bytes(committed)) }
            #expect(
                error.map { "\($0)".contains(vector.error) } == true, "\(vector.file): \(String(describing: error))")
        }
    }

    @Test(
        "malformed trailers are rejected",
        arguments: [
            ([0x00, 0x00] as [UInt8], "tag 0"),
            ([0x03, 0x01, 0x05, 0x03, 0x01, 0x05], "does not follow tag 3"),
            ([0x03, 0x01, 0x05, 0x01, 0x06, 0, 0, 0, 0, 0, 0], "does not follow tag 3"),
            ([0x01, 0x05, 0, 0, 0, 0, 0], "5 bytes for 6 points"),
            ([0x01, 0x07, 0, 0, 0, 0, 0, 0, 0], "7 bytes for 6 points"),
            ([0x02, 0x05, 1, 1, 1, 1, 1], "truncated"),
            ([0x02, 0x07, 1, 1, 1, 1, 1, 1, 1], "1 stray byte(s) after 6 points"),
            ([0x03, 0x02, 0x05, 0x00], "1 stray byte(s) after the value"),
            ([0x03, 0x00], "truncated"),
            ([0x09], "truncated"),
            ([0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "bytes; 0 left"),
        ])
    func malformed(trailer: [UInt8], error phrase: String) {
        let error = #expect(throws: WireError.self) {
            try Self.decodeDictionary(TrailerExample.frame(trailer: trailer))
        }
        #expect(error.map { "\($0)".contains(phrase) } == true, "\(String(describing: error))")
    }

    @Test("deadbands and heartbeats (tags 4 and 5) round trip, and make the dictionary a version-2 frame")
    func reportByException() throws {
        let points = [
            PointDescriptor(
                device: "m", name: "v", type: .float32, intervalMilliseconds: 1000, deadband: 0.5,
                heartbeatMilliseconds: 15_000),
            PointDescriptor(
                device: "m", name: "s", type: .uint16, intervalMilliseconds: 1000, deadband: 0,
                heartbeatMilliseconds: 15_000),
            PointDescriptor(device: "m", name: "p", type: .float32, intervalMilliseconds: 1000),
        ]
        let dictionary = SchemaDictionary(gateway: "gw", points: points)
        #expect(dictionary.isVersion2)
        let frame = dictionary.frame()
        #expect(Frame.peekVersion(frame) == 2)
        let (decoded, id) = try Self.decodeDictionary(frame)
        #expect(decoded == dictionary && id == dictionary.schemaID)
        #expect(decoded.points.map(\.deadband) == [0.5, 0, nil])
        #expect(decoded.points.map(\.heartbeatMilliseconds) == [15_000, 15_000, nil])
        let plain = SchemaDictionary(
            gateway: "gw",
            points: points.map { point in
                var point = point; point.deadband = nil; point.heartbeatMilliseconds = nil; return point
            })
        #expect(!plain.isVersion2 && Frame.peekVersion(plain.frame()) == 1, "without rules, the frame stays version 1")
    }

    @Test("unknown sections are skipped, and still count in the schema id")
    func unknownSections() throws {
        let trailer: [UInt8] = [0x01, 0x06, 0, 1, 0, 0, 0, 0] + [0x06, 0x03, 0xAA, 0xBB, 0xCC] + [0x07, 0x00]
        let frame = TrailerExample.frame(trailer: trailer)
        let (dictionary, id) = try Self.decodeDictionary(frame)
        #expect(dictionary.points.map(\.kind) == [.gauge, .counter, .gauge, .gauge, .gauge, .gauge])
        #expect(dictionary.batchMaximumAgeMilliseconds == nil)
        #expect(
            id == frame.withUnsafeBytes { raw in raw.loadUnaligned(fromByteOffset: Frame.headerSize, as: UInt64.self) })
        #expect(id != dictionary.schemaID, "the known parts alone hash differently: receivers key by the frame's id")
    }

    @Test("10,000 trailer mutations with the schema id and checksum fixed up decode or fail cleanly")
    func mutations() {
        var random = SeededRandom(seed: 15)
        var decoded = 0
        for _ in 0..<10_000 {
            var trailer = TrailerExample.trailer
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = Int.random(in: 0..<trailer.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: trailer[at] = UInt8.random(in: 0...255, using: &random)
                case 1: trailer.insert(UInt8.random(in: 0...255, using: &random), at: at)
                default: trailer.remove(at: at)
                }
                if trailer.isEmpty { break }
            }
            if (try? Self.decodeDictionary(TrailerExample.frame(trailer: trailer))) != nil { decoded += 1 }
        }
        #expect(decoded > 0 && decoded < 10_000)
    }
}
