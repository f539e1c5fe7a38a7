import Foundation
import Testing
import TramCollectorStore
import TramSchema

/// The rollups and `point_latest` against the raw rows: random requests (RandomIngest.swift) with every feature the
/// rules treat differently, then every row compared with SQL over `readings` and with RollupReference.swift.
@Suite("Rollups: exactly what the raw readings say")
struct RollupExactnessTests {
    static let now: Int64 = 1_764_100_000_000

    /// Ingests `requests` random requests into a fresh store; returns the database's path.
    static func ingest(seed: UInt64, requests: Int, path: String = LiveCollector.temporaryDatabase()) throws -> (
        path: String, random: RandomIngest
    ) {
        let store = try CollectorStore(path: path)
        _ = try store.addGateway(RandomIngest.dictionary.gateway, now: 0)
        var random = RandomIngest(seed: seed)
        for index in 0..<requests {
            _ = try random.store(try random.request(), in: store, gateway: 1, now: now + Int64(index) * 60_000)
        }
        return (path, random)
    }

    /// Every rollup row's count, good, numeric, sum, min and max equal a GROUP BY over the raw rows of its bucket;
    /// a row without readings only carries held time.
    /// `from`: only the buckets from there on (retention has deleted the raw rows before it).
    static func expectGroupByAgrees(
        _ peek: Peek, from: Int64 = .min, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for width in RollupReference.widths {
            let bucket = "(time_ms - ((time_ms % \(width)) + \(width)) % \(width))"
            let value =
                "CASE WHEN type = 1 THEN raw_int WHEN value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308 THEN value END"
            let disagreeing = try peek.rows(
                """
                WITH raw AS (
                  SELECT point, \(bucket) AS bucket, count(*) AS n, sum(quality = 0) AS good, count(\(value)) AS numeric,
                    total(\(value)) AS sum, min(\(value)) AS lo, max(\(value)) AS hi, min(time_ms) AS first,
                    max(time_ms) AS last
                  FROM readings WHERE time_ms >= \(from) AND \(bucket) >= \(from) GROUP BY point, bucket)
                SELECT raw.point, raw.bucket, raw.n, r.count FROM raw LEFT JOIN rollups r
                  ON r.point = raw.point AND r.width_ms = \(width) AND r.bucket_ms = raw.bucket
                WHERE r.count IS NOT raw.n OR r.good IS NOT raw.good OR r.numeric IS NOT raw.numeric
                  OR r.sum IS NOT raw.sum OR r.min IS NOT raw.lo OR r.max IS NOT raw.hi
                  OR r.first_ms IS NOT raw.first OR r.last_ms IS NOT raw.last
                UNION ALL
                SELECT r.point, r.bucket_ms, NULL, r.count FROM rollups r
                WHERE r.width_ms = \(width) AND r.bucket_ms >= \(from) AND (r.count > 0 OR r.good_ms = 0 OR r.numeric > 0 OR r.min IS NOT NULL)
                  AND NOT EXISTS (SELECT 1 FROM readings x WHERE x.point = r.point AND x.time_ms >= r.bucket_ms
                                  AND x.time_ms < r.bucket_ms + \(width))
                LIMIT 10
                """)
            #expect(disagreeing.isEmpty, "width \(width): \(disagreeing)", sourceLocation: sourceLocation)
        }
        // A cut at an hour keeps whole minutes and hours; a day that straddles it keeps its rollup whole, so each width
        // is compared over its buckets that start at or after the cut.
        for width in RollupReference.widths {
            let bucket = "(time_ms - ((time_ms % \(width)) + \(width)) % \(width))"
            let readings = try peek.count("SELECT count(*) FROM readings WHERE \(bucket) >= \(from)")
            #expect(
                try peek.count(
                    "SELECT coalesce(sum(count), 0) FROM rollups WHERE width_ms = \(width) AND bucket_ms >= \(from)")
                    == readings, sourceLocation: sourceLocation)
        }
    }

    /// `point_latest` holds each point's newest raw row (by time, then the one stored last), since when its quality
    /// has been what it is (along the chain), and the value the next increase starts from.
    static func expectLatestAgrees(
        _ peek: Peek, _ reference: RollupReference, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let columns = "point, time_ms, value, raw_int, raw_text, type, quality, exception, clock"
        let newest = try peek.rows(
            """
            SELECT \(columns) FROM readings r
            WHERE rowid = (SELECT rowid FROM readings WHERE point = r.point ORDER BY time_ms DESC, rowid DESC LIMIT 1)
            ORDER BY point
            """)
        #expect(
            try peek.rows("SELECT \(columns) FROM point_latest ORDER BY point") == newest,
            sourceLocation: sourceLocation)
        let carried = try peek.rows("SELECT point, quality_since_ms, increase_base FROM point_latest ORDER BY point")
        let expected: [[AnyHashable?]] = reference.latest.keys.sorted().map { point in
            let latest = reference.latest[point]!
            return [point, latest.qualitySince, latest.increaseBase]
        }
        #expect(carried == expected, sourceLocation: sourceLocation)
    }

    static func expectExact(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let peek = try Peek(path)
        let reference = try RollupReference(peek)
        let differences = reference.differences(try RollupReference.stored(peek))
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))", sourceLocation: sourceLocation)
        try expectGroupByAgrees(peek, sourceLocation: sourceLocation)
        try expectLatestAgrees(peek, reference, sourceLocation: sourceLocation)
    }

    @Test(
        "random requests: every rollup row and every point's latest state equal the reference",
        arguments: [1, 2, 3, 4] as [UInt64])
    func randomRequests(seed: UInt64) throws {
        let (path, _) = try Self.ingest(seed: seed, requests: 80)
        let peek = try Peek(path)
        // The run has what the rules treat differently: out-of-order readings, held-only buckets, counter resets.
        #expect(try peek.count("SELECT count(*) FROM rollups WHERE count = 0") > 0)
        #expect(try peek.count("SELECT count(*) FROM rollups WHERE good_ms > 0 AND width_ms = 3600000") > 0)
        #expect(try peek.count("SELECT count(*) FROM readings") > 1_000)
        try Self.expectExact(path)
    }

    @Test("a request of duplicates changes no rollup, no latest state and no clock")
    func duplicatesTouchNothing() throws {
        var (path, random) = try Self.ingest(seed: 9, requests: 30)
        let peek = try Peek(path)
        let tables = ["rollups", "point_latest", "readings"]
        let before = try tables.map { try peek.rows("SELECT * FROM \($0) ORDER BY 1, 2, 3") }
        let clockBefore = try peek.rows("SELECT clock, clock_since_ms FROM gateways")
        let store = try CollectorStore(path: path)
        let summary = try random.store(random.duplicates(), in: store, gateway: 1, now: Self.now + 10_000_000)
        #expect(summary.batches.allSatisfy(\.duplicate) && summary.readings == 0)
        #expect(try tables.map { try peek.rows("SELECT * FROM \($0) ORDER BY 1, 2, 3") } == before)
        #expect(try peek.rows("SELECT clock, clock_since_ms FROM gateways") == clockBefore)
        try Self.expectExact(path)
    }

    @Test("held time: split over the buckets a good reading holds, capped, and never for a bad or out-of-order one")
    func heldTime() throws {
        let path = LiveCollector.temporaryDatabase()
        let store = try CollectorStore(path: path)
        _ = try store.addGateway("gw-h", now: 0)
        let dictionary = SchemaDictionary(
            gateway: "gw-h", points: [PointDescriptor(device: "d", name: "p", unit: "", type: .uint32)])
        let hour: Int64 = 1_764_003_600_000  // a whole hour
        func request(_ sequence: UInt64, _ groups: [(Int64, WireValue)]) throws {
            let frame = try Frames.batch(
                dictionary, epoch: 1, sequence: sequence,
                groups: groups.map { ($0.0, .synchronised, 0, [$0.1]) })
            guard case .batch(let batch) = try FrameDecoder.decode(frame, dictionary: { _ in dictionary }).frame
            else { return }
            _ = try store.store(
                dictionaries: sequence == 0 ? [(dictionary, dictionary.schemaID, dictionary.frame())] : [],
                batches: [batch], gateway: 1, now: Self.now)
        }
        // 10 at :00:30, 15 at :02:00 (held 90 s over two minutes), a timeout at :03:00 (10 held 60 s), 12 at
        // :20:00 (the timeout held nothing), 5 at :59:59 (12 held the default limit, 10 minutes), 7 at 1:00:01
        // (5 held 2 s over the hour boundary); then, out of order, 100 at :01:00: counted, nothing held or risen.
        try request(
            0,
            [
                (hour + 30_000, .uint(10)), (hour + 120_000, .uint(15)), (hour + 180_000, .missing(.timeout)),
                (hour + 1_200_000, .uint(12)), (hour + 3_599_000, .uint(5)),
            ])
        try request(1, [(hour + 3_601_000, .uint(7))])
        try request(2, [(hour + 60_000, .uint(100))])
        let peek = try Peek(path)
        let minute = try peek.rows(
            "SELECT bucket_ms - \(hour), count, good_ms, increase FROM rollups WHERE width_ms = 60000 ORDER BY bucket_ms"
        )
        let expected: [[AnyHashable?]] = [
            [Int64(0), Int64(1), Int64(30_000), 0.0],
            [Int64(60_000), Int64(1), Int64(60_000), 0.0],  // the out-of-order 100: counted, no rise
            [Int64(120_000), Int64(1), Int64(60_000), 5.0],
            [Int64(180_000), Int64(1), Int64(0), 0.0],
        ]
        #expect(Array(minute.prefix(4)) == expected)
        // 12 at :20:00 holds :20:00–:30:00 (nine of those ten buckets only held into), and its increase is measured
        // from 15 (the timeout had no value): a fall, so a reset, +12.
        let twenty = try peek.rows(
            """
            SELECT count(*), sum(count), sum(good_ms), sum(increase) FROM rollups
            WHERE width_ms = 60000 AND bucket_ms >= \(hour + 1_200_000) AND bucket_ms < \(hour + 1_800_000)
            """)
        #expect(twenty == [[Int64(10), Int64(1), Int64(600_000), 12.0]])
        let hours = try peek.rows(
            "SELECT bucket_ms - \(hour), count, good, good_ms, increase, first_ms - \(hour), last_ms - \(hour), last_value FROM rollups WHERE width_ms = 3600000 ORDER BY bucket_ms"
        )
        // Good time in the first hour: 90 + 60 + 600 + 1 s (5 from :59:59); increase 5 + 12 + 5 (5 < 12: a reset).
        #expect(
            hours == [
                [Int64(0), Int64(6), Int64(5), Int64(751_000), 22.0, Int64(30_000), Int64(3_599_000), 5.0],
                [Int64(3_600_000), Int64(1), Int64(1), Int64(1_000), 2.0, Int64(3_601_000), Int64(3_601_000), 7.0],
            ])
        // The newest reading is 7 at 1:00:01; it has been good since 12 at :20:00 (the out-of-order 100 is not in
        // the chain).
        #expect(
            try peek.rows(
                "SELECT time_ms - \(hour), value, quality, quality_since_ms - \(hour), increase_base FROM point_latest")
                == [[Int64(3_601_000), 7.0, Int64(0), Int64(1_200_000), 7.0]])
        try Self.expectExact(path)
    }
}
