import Testing
import TramSchema
import TramTestSupport

/// Hostile frames: the decoder must answer every one with a value or an error, never a trap.
@Suite("Decoder fuzz")
struct DecoderFuzzTests {
    /// Re-seals a mutated frame so that it gets past the checksum and exercises the payload parser.
    static func reseal(_ frame: inout [UInt8]) {
        guard frame.count >= 13 else { return }
        let length = frame.count - 13
        for i in 0..<4 { frame[5 + i] = UInt8(truncatingIfNeeded: length >> (8 * i)) }
        let crc = CRC32C.checksum(Array(frame[..<(frame.count - 4)]))
        for i in 0..<4 { frame[frame.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * i)) }
    }

    @Test("30,000 mutated frames (checksums fixed up) decode or fail cleanly")
    func mutations() throws {
        var random = SeededRandom(seed: 3)
        let dictionary = GoldenExample.dictionary
        let id = dictionary.schemaID
        let seeds = [try GoldenExample.batchFrame(), try GoldenVersion2.batchFrame(), dictionary.frame()]
        var decoded = 0, rejected = 0
        for _ in 0..<30_000 {
            var frame = seeds.randomElement(using: &random)!
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    frame[Int.random(in: 0..<frame.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                case 1:
                    frame.insert(
                        UInt8.random(in: 0...255, using: &random),
                        at: Int.random(in: 9...frame.count - 4, using: &random))
                case 2: if frame.count > 14 { frame.remove(at: Int.random(in: 9..<frame.count - 4, using: &random)) }
                default:
                    frame[Int.random(in: 9..<frame.count - 4, using: &random)] ^=
                        1 << UInt8.random(in: 0...7, using: &random)
                }
            }
            if Bool.random(using: &random) { Self.reseal(&frame) }
            do {
                _ = try FrameDecoder.decode(frame, dictionary: { $0 == id ? dictionary : nil })
                decoded += 1
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 0 && decoded + rejected == 30_000)
    }

    @Test("truncations at every length and a checksum flip are rejected")
    func truncations() throws {
        let frame = try GoldenExample.batchFrame()
        let dictionary = GoldenExample.dictionary
        for length in 0..<frame.count {
            #expect(throws: WireError.self) {
                try FrameDecoder.decode(Array(frame[..<length]), dictionary: { _ in dictionary })
            }
        }
        var flipped = frame
        flipped[20] ^= 0x10
        do {
            _ = try FrameDecoder.decode(flipped, dictionary: { _ in dictionary })
            Issue.record("a flipped bit decoded")
        } catch {
            guard case .checksumMismatch = error else {
                Issue.record("expected a checksum mismatch, got \(error)"); return
            }
        }
    }
}

@Suite("Checksums")
struct ChecksumTests {
    @Test("CRC-32C matches the standard check value")
    func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("invalid UTF-8 in a string is rejected")
    func invalidUTF8() {
        let dictionary = SchemaDictionary(gateway: "gw", points: [])
        var payload: [UInt8] = Array(repeating: 0, count: 8)  // schema id placeholder
        payload += [2, 0xC3, 0x28, 0]  // gateway "\u{C3}(" (invalid), 0 points
        let id = payload[8...].reduce(UInt64(0xCBF2_9CE4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
        for i in 0..<8 { payload[i] = UInt8(truncatingIfNeeded: id >> UInt64(8 * i)) }
        let frame = Frame.wrap(kind: .dictionary, payload: payload)
        #expect(throws: WireError.self) { try FrameDecoder.decode(frame, dictionary: { _ in dictionary }) }
    }
}
