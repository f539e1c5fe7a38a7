import Testing
import TramCollectorStore
import TramSchema

/// What the dictionary's trailer says reaches the store's read side: a dictionary read back from its stored frame
/// (by a fresh store, so nothing comes from an ingest's cache) carries the kinds, intervals and batch max age.
/// The frame is put in `schemas` by SQL, as ingest stores it, so this checks the decode side on its own.
@Suite("Dictionary trailer in the store")
struct DictionaryTrailerStoreTests {
    @Test("the trailer vector's kinds, intervals and batch max age come back from the stored dictionary")
    func storedTrailer() throws {
        let frame = try Frames.vector("dictionary-trailer.hex")
        guard case .dictionary(let sent, let id) = try FrameDecoder.decode(frame, dictionary: { _ in nil }).frame else {
            Issue.record("dictionary-trailer.hex is not a dictionary")
            return
        }
        let path = LiveCollector.temporaryDatabase()
        _ = try enroll(path, "gw-demo")
        let hex = frame.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        try Peek.write(
            path,
            """
            INSERT INTO schemas(gateway, schema_id, frame, received_ms)
            SELECT id, \(Int64(bitPattern: id)), X'\(hex)', 0 FROM gateways WHERE name = 'gw-demo'
            """)
        let gateway = try #require(
            try Peek(path).rows("SELECT id FROM gateways WHERE name = 'gw-demo'").first?.first as? Int64)

        let stored = try #require(try CollectorStore(path: path).dictionary(gateway: gateway, schemaID: id))
        #expect(stored == sent)
        #expect(stored.points.map(\.kind) == [.gauge, .counter, .gauge, .gauge, .gauge, .gauge])
        #expect(stored.points.map(\.kind.rawValue) == [0, 1, 0, 0, 0, 0], "points.kind's codes")
        #expect(stored.points.map(\.intervalMilliseconds) == [1000, 1000, 1000, 60_000, 60_000, 60_000])
        #expect(stored.batchMaximumAgeMilliseconds == 10_000)
    }
}
