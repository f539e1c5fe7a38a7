import Foundation
import Testing
import TramCollectorTestSupport
import TramSchema

/// The collector's half of the wire format negotiation (docs/wire-format.md, "Who may receive version 2").
@Suite("Ingest of wire format version 2")
struct WireVersionIngestTests {
    @Test("GET /v1/ingest answers 204 with the versions; every ingest answer carries them too")
    func advertises() async throws {
        for (versions, text) in [(1...2, "1, 2"), (1...1, "1")] as [(ClosedRange<UInt8>, String)] {
            let collector = try await LiveCollector.start(wireVersions: versions)
            let asked = try await collector.get("/v1/ingest", token: nil)
            #expect(asked.status == 204 && asked.headers["tram-wire-versions"] == text)
            let refused = try await collector.post(try Frames.vector("batch.hex"), token: nil)
            #expect(refused.status == 401 && refused.headers["tram-wire-versions"] == text)
            await collector.stop()
        }
    }

    @Test("batch-v2.hex is stored exactly: its new quality codes, its sparse group's aliases, its snapshot")
    func storesVersion2() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath, "gw-demo")
        let reply = try await collector.post(
            try Frames.vector("dictionary.hex") + Frames.vector("batch-v2.hex"), token: token)
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.json["stored"] as? [Int] == [43])
        let rows = try Peek(collector.databasePath).rows(
            """
            SELECT p.name, r.time_ms - 1764000000000, r.raw_int, r.raw_text, r.quality, r.clock
            FROM readings r JOIN points p ON p.id = r.point ORDER BY r.time_ms, p.id
            """)
        let expected: [[AnyHashable?]] = [
            ["voltage_l1", Int64(0), Int64(0x4366_6666), nil, Int64(0), Int64(1)],
            ["energy", Int64(0), Int64(12345), nil, Int64(0), Int64(1)],
            ["breaker_closed", Int64(0), Int64(1), nil, Int64(0), Int64(1)],
            ["energy", Int64(1000), Int64(12350), nil, Int64(0), Int64(1)],
            ["w_sf", Int64(1000), nil, nil, Int64(9), Int64(1)],
            ["power", Int64(2000), nil, nil, Int64(8), Int64(0)],
            ["w_sf", Int64(2000), nil, nil, Int64(10), Int64(0)],
            ["model", Int64(2000), nil, "SE7600", Int64(0), Int64(0)],
        ]
        #expect(rows == expected)
    }

    @Test("a collector held at version 1 refuses a version-2 frame as unsupported, not malformed, and stores nothing")
    func heldAtVersion1() async throws {
        let collector = try await LiveCollector.start(wireVersions: 1...1)
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath, "gw-demo")
        let reply = try await collector.post(
            try Frames.vector("dictionary.hex") + Frames.vector("batch-v2.hex"), token: token)
        #expect(reply.status == 422)
        #expect(reply.json["reason"] as? String == "unsupported-version")
        #expect(reply.json["accepted"] as? [Int] == [1])
        #expect(try Peek(collector.databasePath).rows("SELECT count(*) FROM readings") == [[Int64(0)]])
        // A frame of a version no build knows is the same answer, never "malformed".
        var unknown = try Frames.vector("batch.hex")
        unknown[Frame.versionOffset] = 9
        let future = try await collector.post(try Frames.vector("dictionary.hex") + unknown, token: token)
        #expect(future.status == 422 && future.json["reason"] as? String == "unsupported-version")
    }
}
