import Testing
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// The example in vectors/README.md, built in code. The committed hex files are the spec;
/// this test checks the encoder still writes them and the decoder still reads them.
enum GoldenExample {
    static let dictionary = SchemaDictionary(
        gateway: "gw-demo",
        points: [
            PointDescriptor(device: "incomer", name: "voltage_l1", unit: "V", type: .float32),
            PointDescriptor(device: "incomer", name: "energy", unit: "kWh", type: .uint32, scale: 0.1),
            PointDescriptor(device: "incomer", name: "breaker_closed", type: .bool),
            PointDescriptor(device: "pv", name: "power", unit: "W", type: .int16, exponentAlias: 4),
            PointDescriptor(device: "pv", name: "w_sf", type: .int16),
            PointDescriptor(device: "pv", name: "model", type: .string),
        ])

    static let base: Int64 = 1_764_000_000_000

    static let groups: [(time: Int64, clock: ClockFlags, first: Int, values: [WireValue])] = [
        (base, .synchronised, 0, [.float32(bits: Float(230.4).bitPattern), .uint(12345), .bool(true)]),
        (base + 1000, .synchronised, 0, [.float32(bits: Float(230.5).bitPattern), .uint(12347), .bool(true)]),
        (base + 1003, [.synchronised, .stepped], 3, [.int(17822), .int(-1), .string("SE7600")]),
        (base + 2001, .synchronised, 0, [.float32(bits: 0x7FC0_0000), .missing(.exception(2)), .bool(false)]),
    ]

    static func batchFrame() throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        encoder.begin(epoch: 3, sequence: 42, baseTimeMilliseconds: base)
        for group in groups {
            try group.values.withUnsafeBufferPointer {
                try encoder.append(
                    timeMilliseconds: group.time, clock: group.clock, firstAlias: group.first, values: $0)
            }
        }
        return Array(try encoder.seal())
    }
}

enum Vectors {
    static let directory: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/vectors"
    }()

    static func read(_ name: String) -> String? {
        guard let file = fopen(directory + "/" + name, "r") else { return nil }
        defer { fclose(file) }
        var text = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            text += String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return text
    }

    static func write(_ name: String, _ text: String) {
        guard let file = fopen(directory + "/" + name, "w") else { return }
        fputs(text, file)
        fclose(file)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var lines: [String] = []
        for start in stride(from: 0, to: bytes.count, by: 16) {
            lines.append(
                bytes[start..<min(start + 16, bytes.count)].map {
                    String([digits[Int($0 >> 4)], digits[Int($0 & 15)]])
                }.joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func bytes(_ hex: String) -> [UInt8] {
        hex.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt8($0, radix: 16) }
    }
}

@Suite("Golden vectors")
struct GoldenVectorTests {
    @Test("the encoder writes the committed frames byte for byte, and the decoder reads them back")
    func vectors() throws {
        let dictionaryFrame = GoldenExample.dictionary.frame()
        let batchFrame = try GoldenExample.batchFrame()
        if getenv("TRAM_RECORD_VECTORS") != nil {
            Vectors.write("dictionary.hex", Vectors.hex(dictionaryFrame))
            Vectors.write("batch.hex", Vectors.hex(batchFrame))
        }
        let committedDictionary = try #require(Vectors.read("dictionary.hex"), "vectors/dictionary.hex missing")
        let committedBatch = try #require(Vectors.read("batch.hex"), "vectors/batch.hex missing")
        #expect(Vectors.hex(dictionaryFrame) == committedDictionary)
        #expect(Vectors.hex(batchFrame) == committedBatch)

        let (decodedDictionary, _) = try FrameDecoder.decode(
            Vectors.bytes(committedDictionary), dictionary: { _ in nil })
        guard case .dictionary(let dictionary, let id) = decodedDictionary else {
            Issue.record("not a dictionary"); return
        }
        #expect(dictionary == GoldenExample.dictionary)
        let (decodedBatch, _) = try FrameDecoder.decode(
            Vectors.bytes(committedBatch), dictionary: { $0 == id ? dictionary : nil })
        guard case .batch(let batch) = decodedBatch else { Issue.record("not a batch"); return }
        #expect(batch.gateway == "gw-demo" && batch.epoch == 3 && batch.sequence == 42 && batch.schemaID == id)
        #expect(batch.groups.map(\.timeMilliseconds) == GoldenExample.groups.map(\.time))
        #expect(batch.groups.map(\.values) == GoldenExample.groups.map(\.values))
        #expect(batch.groups.map(\.clock) == GoldenExample.groups.map(\.clock))
    }
}
