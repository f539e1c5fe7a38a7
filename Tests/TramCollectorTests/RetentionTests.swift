import Foundation
import Testing
import TramCollector
import TramCollectorStore
import TramSchema

@Suite("Collector retention", .serialized)
struct RetentionTests {
    @Test("durations: a whole number and one unit")
    func durations() {
        let expected: [(String, Int64)] = [
            ("30d", 30 * 86_400_000), ("12h", 12 * 3_600_000), ("90m", 90 * 60_000),
            ("45s", 45_000), ("2w", 14 * 86_400_000), (" 7D ", 7 * 86_400_000),
        ]
        for (text, milliseconds) in expected {
            #expect(Retention.parseDuration(text) == milliseconds, "\(text)")
        }
        for bad in ["", "d", "0d", "-1d", "1.5h", "10", "10y", "99999999999999999w"] {
            #expect(Retention.parseDuration(bad) == nil, "\(bad)")
        }
    }

    @Test("old readings go in bounded chunks, new ones stay, and a deleted batch sent again is still a duplicate")
    func deletesOldKeepsDedupe() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        #expect(try await collector.post(plant.frame(), token: token).status == 200)
        // meterBatch(s): three readings at 1_764_000_000_000 + s s. Batches 0…6 are "old", 7…9 are "new".
        var body: [UInt8] = []
        for sequence in 0..<10 as Range<UInt64> { body += try meterBatch(sequence) }
        #expect(try await collector.post(body, token: token).status == 200)

        let store = try CollectorStore(path: collector.databasePath)  // a second connection, as the CLI's would be
        let cutoff: Int64 = 1_764_000_000_000 + 7 * 1000
        var chunks: [Int] = []
        while true {
            let deleted = try store.deleteReadings(olderThan: cutoff, limit: 8)
            chunks.append(deleted)
            if deleted < 8 { break }
        }
        #expect(chunks == [8, 8, 5])  // 7 batches × 3 readings, at most 8 a transaction

        let peek = try Peek(collector.databasePath)
        #expect(try peek.count("SELECT count(*) FROM readings") == 9)
        #expect(try peek.count("SELECT min(time_ms) FROM readings") == cutoff)
        // Dedupe state is kept: the old batches sent again are duplicates, not stored a second time.
        let reply = try await collector.post(try meterBatch(2) + meterBatch(3), token: token)
        #expect(reply.status == 200)
        #expect(reply.json["stored"] as? [Int] == [])
        #expect(reply.json["duplicates"] as? [Int] == [2, 3])
        #expect(try peek.count("SELECT count(*) FROM readings") == 9)
        // Dictionaries, devices and points stay too: a new batch of the same schema is stored without a 409.
        #expect(try await collector.post(try meterBatch(10), token: token).json["stored"] as? [Int] == [10])
        #expect(try store.deleteReadings(olderThan: cutoff, limit: 8) == 0)
    }
}
