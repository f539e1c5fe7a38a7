import Testing
import TramCompression
import TramSchema
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Version 2's example (vectors/README.md, "batch-v2.hex"): the golden dictionary, and a batch that uses each rule
/// version 2 adds, a version-2 quality code, a snapshot group, a sparse group and dropped ranges.
enum GoldenVersion2 {
    static let base = GoldenExample.base
    static let dropped: [Range<UInt64>] = [30..<35, 40..<41]

    static func batchFrame() throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: GoldenExample.dictionary, buffer: buffer)
        encoder.begin(epoch: 3, sequence: 43, baseTimeMilliseconds: base)
        let snapshot: [WireValue] = [.float32(bits: Float(230.4).bitPattern), .uint(12345), .bool(true)]
        try snapshot.withUnsafeBufferPointer {
            try encoder.append(
                timeMilliseconds: base, clock: .synchronised, firstAlias: 0, values: $0, snapshot: true)
        }
        let aliases = [1, 4]
        let sparse: [WireValue] = [.uint(12350), .missing(.absent)]
        try aliases.withUnsafeBufferPointer { aliases in
            try sparse.withUnsafeBufferPointer {
                try encoder.append(timeMilliseconds: base + 1000, clock: .synchronised, aliases: aliases, values: $0)
            }
        }
        let range: [WireValue] = [.missing(.disabled), .missing(.notReady), .string("SE7600")]
        try range.withUnsafeBufferPointer {
            try encoder.append(timeMilliseconds: base + 2000, clock: [], firstAlias: 3, values: $0)
        }
        return Array(try encoder.seal(droppedSequences: dropped))
    }
}

@Suite("Wire format version 2")
struct WireVersion2Tests {
    static func decode(_ frame: [UInt8]) throws -> DecodedBatch {
        let dictionary = GoldenExample.dictionary
        let (decoded, _) = try FrameDecoder.decode(frame, dictionary: { $0 == dictionary.schemaID ? dictionary : nil })
        guard case .batch(let batch) = decoded else { throw WireError.invalid("not a batch") }
        return batch
    }

    @Test("the encoder writes batch-v2.hex byte for byte, and the decoder reads every version-2 rule back")
    func goldenVector() throws {
        let frame = try GoldenVersion2.batchFrame()
        if getenv("TRAM_RECORD_VECTORS") != nil { Vectors.write("batch-v2.hex", Vectors.hex(frame)) }
        let committed = try #require(Vectors.read("batch-v2.hex"), "vectors/batch-v2.hex missing")
        #expect(Vectors.hex(frame) == committed)
        #expect(frame[Frame.versionOffset] == 2)

        let batch = try Self.decode(Vectors.bytes(committed))
        #expect(batch.version == 2 && batch.epoch == 3 && batch.sequence == 43)
        #expect(batch.droppedSequences == GoldenVersion2.dropped)
        #expect(batch.groups.count == 3)
        let (snapshot, sparse, range) = (batch.groups[0], batch.groups[1], batch.groups[2])
        #expect(snapshot.snapshot && snapshot.clock == .synchronised && snapshot.aliases == nil)
        #expect(snapshot.values == [.float32(bits: Float(230.4).bitPattern), .uint(12345), .bool(true)])
        #expect(!sparse.snapshot && sparse.aliases == [1, 4] && sparse.firstAlias == 1)
        #expect(sparse.values == [.uint(12350), .missing(.absent)])
        #expect((0..<2).map(sparse.alias(at:)) == [1, 4])
        #expect(sparse.offset(of: 4) == 1 && sparse.offset(of: 2) == nil && sparse.offset(of: 1) == 0)
        #expect(range.clock == [] && range.firstAlias == 3 && range.offset(of: 5) == 2)
        #expect(range.values == [.missing(.disabled), .missing(.notReady), .string("SE7600")])
    }

    @Test("a batch that needs none of version 2's rules stays version 1, byte for byte")
    func versionOneStaysVersionOne() throws {
        let frame = try GoldenExample.batchFrame()
        #expect(frame[Frame.versionOffset] == 1)
        #expect(Vectors.hex(frame) == Vectors.read("batch.hex"))
        #expect(try Self.decode(frame).version == 1)
    }

    @Test(
        "each of version 2's rules alone makes the frame version 2",
        arguments: ["quality", "snapshot", "sparse", "dropped"])
    func eachRuleNeedsVersion2(rule: String) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: GoldenExample.dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: 9, baseTimeMilliseconds: 0)
        var values: [WireValue] = [.float32(bits: 0), rule == "quality" ? .missing(.absent) : .uint(1), .bool(false)]
        try values.withUnsafeBufferPointer {
            try encoder.append(timeMilliseconds: 0, clock: [], firstAlias: 0, values: $0, snapshot: rule == "snapshot")
        }
        if rule == "sparse" {
            values = [.bool(true)]
            try [2].withUnsafeBufferPointer { aliases in
                try values.withUnsafeBufferPointer {
                    try encoder.append(timeMilliseconds: 1, clock: [], aliases: aliases, values: $0)
                }
            }
        }
        let frame = Array(try encoder.seal(droppedSequences: rule == "dropped" ? [2..<4] : []))
        #expect(frame[Frame.versionOffset] == 2)
        let batch = try Self.decode(frame)
        #expect(batch.version == 2)
        #expect(batch.droppedSequences == (rule == "dropped" ? [2..<4] : []))
    }

    @Test("a version-2 quality code in a version-1 frame is rejected, and so is a version this build does not know")
    func versionOneRejectsVersionTwoCodes() throws {
        var frame = try GoldenVersion2.batchFrame()
        frame[Frame.versionOffset] = 1
        // A version-1 reader of these bytes takes the snapshot and sparse bits for reserved clock bits and the
        // codes 8–10 for unknown ones: rejected, never misread.
        DecoderFuzzTests.reseal(&frame)
        #expect(throws: WireError.self) { try Self.decode(frame) }
        frame[Frame.versionOffset] = 3
        DecoderFuzzTests.reseal(&frame)
        #expect(throws: WireError.unsupportedVersion(3)) { try Self.decode(frame) }
    }

    @Test("dropped ranges that are empty, out of order, touching, or not before the batch are refused when sealed")
    func droppedRangesAreCanonical() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: GoldenExample.dictionary, buffer: buffer)
        for ranges in [[5..<5], [6..<8, 2..<3], [2..<4, 4..<6], [8..<11]] as [[Range<UInt64>]] {
            encoder.begin(epoch: 1, sequence: 10, baseTimeMilliseconds: 0)
            #expect(throws: WireError.self) { _ = try encoder.seal(droppedSequences: ranges) }
        }
        encoder.begin(epoch: 1, sequence: 10, baseTimeMilliseconds: 0)
        let batch = try Self.decode(Array(try encoder.seal(droppedSequences: [2..<4, 5..<10])))
        #expect(batch.droppedSequences == [2..<4, 5..<10] && batch.groups.isEmpty)
    }

    @Test("sparse aliases must rise within the dictionary")
    func sparseAliasesRise() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: GoldenExample.dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: 0)
        let values: [WireValue] = [.uint(1), .bool(true)]
        for aliases in [[2, 1], [1, 1], [1, 6]] {
            #expect(throws: WireError.self) {
                try aliases.withUnsafeBufferPointer { aliases in
                    try values.withUnsafeBufferPointer {
                        try encoder.append(timeMilliseconds: 0, clock: [], aliases: aliases, values: $0)
                    }
                }
            }
        }
    }

    @Test("compression keeps a frame's version, and 20,000 random sparse groups round-trip")
    func compressionAndRoundTrip() throws {
        var random = SeededRandom(seed: 11)
        let points = (0..<40).map {
            PointDescriptor(device: "d", name: "p\($0)", type: $0 % 2 == 0 ? .int32 : .float64)
        }
        let dictionary = SchemaDictionary(gateway: "g", points: points)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        var expected: [(aliases: [Int], values: [WireValue])] = []
        encoder.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: 0)
        for group in 0..<20_000 {
            let aliases = (0..<40).filter { _ in Int.random(in: 0..<5, using: &random) == 0 }
            let values: [WireValue] = aliases.map { alias in
                switch Int.random(in: 0..<6, using: &random) {
                case 0: .missing([.timeout, .absent, .notReady, .exception(4)].randomElement(using: &random)!)
                default:
                    alias % 2 == 0
                        ? .int(Int64.random(in: -1000...1000, using: &random))
                        : .float64(bits: (Double(Int.random(in: -99_999...99_999, using: &random)) / 100).bitPattern)
                }
            }
            try aliases.withUnsafeBufferPointer { a in
                try values.withUnsafeBufferPointer {
                    try encoder.append(timeMilliseconds: Int64(group), clock: .synchronised, aliases: a, values: $0)
                }
            }
            expected.append((aliases, values))
        }
        let frame = Array(try encoder.seal())
        #expect(frame[Frame.versionOffset] == 2)
        let compressor = FrameCompressor(capacity: 4 << 20)
        let compressed = try frame.withUnsafeBytes { Array(try compressor.compress($0)) }
        #expect(compressed[Frame.versionOffset] == 2 && compressed[4] & Frame.compressedFlag != 0)
        #expect(try FrameCodec.decompress(compressed) == frame)
        let (decoded, _) = try FrameDecoder.decode(frame, dictionary: { _ in dictionary })
        guard case .batch(let batch) = decoded else { Issue.record("not a batch"); return }
        #expect(batch.groups.count == expected.count)
        for (group, want) in zip(batch.groups, expected)
        where group.aliases ?? [] != want.aliases || group.values != want.values {
            Issue.record("group at \(group.timeMilliseconds) differs")
            break
        }
    }
}
