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

@Suite("Retention of readings and rollups, at hour boundaries")
struct RollupRetentionTests {
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    @Test("limits: rollups outlive the readings; minute rollups 45 days unless the readings are kept longer")
    func limits() {
        #expect(Retention(limitMilliseconds: Self.day).rollupLimitMilliseconds == 396 * Self.day)
        #expect(Retention(limitMilliseconds: Self.day).minuteRollupLimitMilliseconds == 45 * Self.day)
        #expect(Retention(limitMilliseconds: 60 * Self.day).minuteRollupLimitMilliseconds == 60 * Self.day)
        #expect(
            Retention(limitMilliseconds: Self.day, rollupLimitMilliseconds: 10 * Self.day)
                .minuteRollupLimitMilliseconds == 10 * Self.day)
        let short = Retention(limitMilliseconds: 30 * Self.day, rollupLimitMilliseconds: Self.day)
        #expect(short.rollupLimitMilliseconds == 30 * Self.day && short.minuteRollupLimitMilliseconds == 30 * Self.day)
        // Each cut is the start of the hour holding now − limit.
        let now: Int64 = 1_764_000_000_000 - 1_764_000_000_000 % Self.hour + 30 * 60_000 + 1
        let cutoffs = Retention(limitMilliseconds: 2 * Self.hour).cutoffs(now: now)
        #expect(cutoffs.readings == now - 1 - 30 * 60_000 - 2 * Self.hour)
        #expect(cutoffs.minuteRollups == now - 1 - 30 * 60_000 - 45 * Self.day)
        #expect(cutoffs.hourRollups == now - 1 - 30 * 60_000 - 396 * Self.day)
        #expect(Retention(limitMilliseconds: Self.hour).cutoffs(now: 5 * Self.hour).readings == 4 * Self.hour)
    }

    @Test("a cut at an hour leaves the kept hours' rollups equal to their raw rows; rollups and latest states stay")
    func cutsAtHours() throws {
        let (path, _) = try RollupExactnessTests.ingest(seed: 11, requests: 80)
        let peek = try Peek(path)
        let latest = try peek.rows("SELECT * FROM point_latest ORDER BY point")
        let rollups = try peek.rows("SELECT * FROM rollups ORDER BY 1, 2, 3")
        let span = try peek.rows("SELECT min(time_ms), max(time_ms) FROM readings").first!
        let middle = ((span[0] as! Int64) + (span[1] as! Int64)) / 2
        let cutoff = middle - middle % Self.hour
        let store = try CollectorStore(path: path)
        var deleted = 0
        while true {
            let chunk = try store.deleteReadings(olderThan: cutoff, limit: 100)
            deleted += chunk
            if chunk < 100 { break }
        }
        #expect(deleted > 100)
        // The newest rowid stays whatever its time (the relay's rowids are never reused): nothing else before the cut.
        #expect(
            try peek.count(
                "SELECT count(*) FROM readings WHERE time_ms < \(cutoff) AND rowid != (SELECT max(rowid) FROM readings)"
            )
                == 0)
        try RollupExactnessTests.expectGroupByAgrees(peek, from: cutoff)
        #expect(try peek.rows("SELECT * FROM rollups ORDER BY 1, 2, 3") == rollups)
        #expect(try peek.rows("SELECT * FROM point_latest ORDER BY point") == latest)

        // The minute rollups' own cut, in chunks; the hour rollups and the latest states are not touched.
        let minuteCut = cutoff + Self.hour
        var chunks: [Int] = []
        while true {
            chunks.append(try store.deleteRollups(width: 60_000, olderThan: minuteCut, limit: 50))
            if chunks.last! < 50 { break }
        }
        #expect(chunks.count > 1 && chunks.dropLast().allSatisfy { $0 == 50 })
        #expect(try peek.count("SELECT count(*) FROM rollups WHERE width_ms = 60000 AND bucket_ms < \(minuteCut)") == 0)
        #expect(
            try peek.rows("SELECT * FROM rollups WHERE width_ms = 60000 AND bucket_ms >= \(minuteCut) ORDER BY 1, 2, 3")
                == rollups.filter { $0[1] as! Int64 == 60_000 && $0[2] as! Int64 >= minuteCut })
        #expect(
            try peek.rows("SELECT * FROM rollups WHERE width_ms = 3600000 ORDER BY 1, 2, 3")
                == rollups.filter { $0[1] as! Int64 == 3_600_000 })
        #expect(try peek.rows("SELECT * FROM point_latest ORDER BY point") == latest)
    }
}
