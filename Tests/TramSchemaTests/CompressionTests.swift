import CAllocationCounter
import Testing
import TramCompression
import TramSchema

@Suite("Frame compression")
struct CompressionTests {
    /// A minute of 60 random walks at 1 Hz, as the standard trace has them.
    static func minuteBatch(into buffer: UnsafeMutableRawBufferPointer) throws -> (SchemaDictionary, [UInt8]) {
        let dictionary = SchemaDictionary(
            gateway: "gw", points: (0..<60).map { PointDescriptor(device: "m", name: "w\($0)", type: .float32) })
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: 0)
        var hundredths = [Int](repeating: 10_000, count: 60)
        for second in 0..<60 {
            for i in hundredths.indices { hundredths[i] += (i * 7 + second * 13) % 21 - 10 }
            let values = hundredths.map { WireValue.float32(bits: Float(Double($0) / 100).bitPattern) }
            try values.withUnsafeBufferPointer {
                try encoder.append(
                    timeMilliseconds: Int64(second) * 1000, clock: .synchronised, firstAlias: 0, values: $0)
            }
        }
        return (dictionary, Array(try encoder.seal()))
    }

    @Test("a compressed batch is smaller, and decodes to exactly the plain batch's readings")
    func roundTrip() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        let (dictionary, plain) = try Self.minuteBatch(into: buffer)
        let compressor = FrameCompressor(capacity: 1 << 16)
        let compressed = try plain.withUnsafeBytes { Array(try compressor.compress($0)) }
        #expect(compressed.count < plain.count)
        #expect(compressed[4] & Frame.compressedFlag != 0)
        // The plain decoder refuses it with a pointer to the codec; the codec reads both forms.
        #expect(throws: WireError.self) { try FrameDecoder.decode(compressed, dictionary: { _ in dictionary }) }
        let viaCodec = try FrameCodec.decode(compressed, dictionary: { _ in dictionary })
        let direct = try FrameDecoder.decode(plain, dictionary: { _ in dictionary })
        #expect(viaCodec.frame == direct.frame)
        #expect(viaCodec.size == compressed.count)
        #expect(try FrameCodec.decompress(compressed) == plain)
    }

    @Test("steady-state compression allocates nothing")
    func noAllocations() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        let (_, plain) = try Self.minuteBatch(into: buffer)
        let compressor = FrameCompressor(capacity: 1 << 16)
        var total = 0
        try plain.withUnsafeBytes { frame in
            _ = try compressor.compress(frame)  // warm-up: zstd sizes its workspace once
            let before = tram_allocations_on_this_thread()
            for _ in 0..<20 { total += try compressor.compress(frame).count }
            #expect(tram_allocations_on_this_thread() - before == 0)
        }
        #expect(total > 0)
    }

    @Test("corruption is caught by the checksum before decompression; bombs and junk are refused")
    func hostile() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        let (_, plain) = try Self.minuteBatch(into: buffer)
        let compressor = FrameCompressor(capacity: 1 << 16)
        let compressed = try plain.withUnsafeBytes { Array(try compressor.compress($0)) }
        var flipped = compressed
        flipped[12] ^= 0x40
        #expect(throws: WireError.self) { try FrameCodec.decompress(flipped) }
        // A well-sealed frame whose payload is not zstd at all.
        let junk = Frame.wrap(kind: .batch, payload: [1, 2, 3, 4, 5, 6, 7, 8], flags: Frame.compressedFlag)
        #expect(throws: WireError.self) { try FrameCodec.decompress(junk) }
    }
}
