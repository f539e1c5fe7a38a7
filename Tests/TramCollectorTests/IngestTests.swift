import Foundation
import Testing
import TramCollector
import TramCollectorStore
import TramCompression
import TramSchema

/// A small plant: a meter and a SunSpec inverter with a scale-factor point.
let plant = SchemaDictionary(
    gateway: "gw-a",
    points: [
        PointDescriptor(device: "meter", name: "voltage", unit: "V", type: .float32),
        PointDescriptor(device: "meter", name: "energy", unit: "kWh", type: .uint32, scale: 0.1),
        PointDescriptor(device: "meter", name: "counter", unit: "", type: .uint64),
        PointDescriptor(device: "pv", name: "power", unit: "W", type: .int16, exponentAlias: 4),
        PointDescriptor(device: "pv", name: "w_sf", unit: "", type: .int16),
        PointDescriptor(device: "pv", name: "model", unit: "", type: .string),
        PointDescriptor(device: "pv", name: "closed", unit: "", type: .bool),
        PointDescriptor(device: "pv", name: "temp", unit: "°C", type: .float64, scale: 1, offset: -273.15),
    ])

/// One meter group per batch, with values that say which batch they came from.
func meterBatch(_ sequence: UInt64, epoch: UInt64 = 7, compressed: Bool = false) throws -> [UInt8] {
    try Frames.batch(
        plant, epoch: epoch, sequence: sequence,
        groups: [
            (
                1_764_000_000_000 + Int64(sequence) * 1000, .synchronised, 0,
                [.float32(bits: Float(230 + Float(sequence) / 10).bitPattern), .uint(1000 + sequence), .uint(sequence)]
            )
        ], compressed: compressed)
}

func enroll(_ path: String, _ name: String = "gw-a") throws -> String {
    try CollectorStore(path: path).addGateway(name, now: Int64(Date().timeIntervalSince1970 * 1000))
}

@Suite("Collector ingest over HTTP", .serialized)
struct IngestTests {
    @Test("readings from the real encoder are stored exactly, under their dictionary's names")
    func storesExactValues() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        let groups: [(time: Int64, clock: ClockFlags, first: Int, values: [WireValue])] = [
            (
                1_764_000_000_000, .synchronised, 0,
                [.float32(bits: Float(230.4).bitPattern), .uint(12345), .uint(UInt64.max)]
            ),
            (
                1_764_000_000_500, [], 3,
                [.int(17822), .int(-1), .string("SE7600"), .bool(true), .float64(bits: (300.15).bitPattern)]
            ),
            (
                1_764_000_001_000, [.synchronised, .stepped], 0,
                [.float32(bits: 0x7FC0_0001), .missing(.exception(2)), .uint(0)]
            ),
            (
                1_764_000_001_500, .synchronised, 3,
                [.int(100), .missing(.timeout), .missing(.linkDown), .bool(false), .float64(bits: (-0.0).bitPattern)]
            ),
        ]
        let body = plant.frame() + (try Frames.batch(plant, epoch: 7, sequence: 0, groups: groups, compressed: true))
        let reply = try await collector.post(body, token: token, gateway: "gw-a")
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.json["stored"] as? [Int] == [0])
        #expect(reply.json["readings"] as? Int == 16)

        let peek = try Peek(collector.databasePath)
        let rows = try peek.rows(
            """
            SELECT d.name, p.name, r.time_ms, r.value, r.raw_int, r.raw_text, r.quality, r.exception, r.clock
            FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device ORDER BY r.time_ms, r.rowid
            """)
        let t0: Int64 = 1_764_000_000_000
        let expected: [[AnyHashable?]] = [
            [
                "meter", "voltage", t0, Double(Float(230.4)), Int64(Float(230.4).bitPattern), nil, Int64(0), nil,
                Int64(1),
            ],
            ["meter", "energy", t0, 12345 * 0.1, Int64(12345), nil, Int64(0), nil, Int64(1)],
            ["meter", "counter", t0, Double(UInt64.max), nil, "18446744073709551615", Int64(0), nil, Int64(1)],
            // SunSpec: 17822 × 10^−1, done as ÷ 10.
            ["pv", "power", t0 + 500, 17822.0 / 10, Int64(17822), nil, Int64(0), nil, Int64(0)],
            ["pv", "w_sf", t0 + 500, -1.0, Int64(-1), nil, Int64(0), nil, Int64(0)],
            ["pv", "model", t0 + 500, nil, nil, "SE7600", Int64(0), nil, Int64(0)],
            ["pv", "closed", t0 + 500, nil, Int64(1), nil, Int64(0), nil, Int64(0)],
            ["pv", "temp", t0 + 500, 300.15 - 273.15, Int64((300.15).bitPattern), nil, Int64(0), nil, Int64(0)],
            // A NaN keeps its payload in raw_int; it has no engineering value.
            ["meter", "voltage", t0 + 1000, nil, Int64(0x7FC0_0001), nil, Int64(0), nil, Int64(3)],
            ["meter", "energy", t0 + 1000, nil, nil, nil, Int64(2), Int64(2), Int64(3)],
            ["meter", "counter", t0 + 1000, 0.0, Int64(0), nil, Int64(0), nil, Int64(3)],
            // The scale-factor point is missing from the group: no engineering value, the raw is kept.
            ["pv", "power", t0 + 1500, nil, Int64(100), nil, Int64(0), nil, Int64(1)],
            ["pv", "w_sf", t0 + 1500, nil, nil, nil, Int64(3), nil, Int64(1)],
            ["pv", "model", t0 + 1500, nil, nil, nil, Int64(4), nil, Int64(1)],
            ["pv", "closed", t0 + 1500, nil, Int64(0), nil, Int64(0), nil, Int64(1)],
            [
                "pv", "temp", t0 + 1500, -0.0 - 273.15, Int64(bitPattern: (-0.0).bitPattern), nil, Int64(0), nil,
                Int64(1),
            ],
        ]
        #expect(rows.count == expected.count)
        for (row, want) in zip(rows, expected) { #expect(row == want) }

        // The read API: latest per point, and a range.
        let reader = try CollectorStore(path: collector.databasePath).addReader("grafana", now: 0)
        let latest = try await collector.get("/v1/points/latest?gateway=gw-a", token: reader)
        #expect(latest.status == 200)
        let points = latest.json["points"] as? [[String: Any]] ?? []
        #expect(points.count == 8)
        let power = points.first { $0["point"] as? String == "power" }
        #expect(power?["raw"] as? Int == 100)
        #expect(power?["time_ms"] as? Int == Int(t0 + 1500))
        let range = try await collector.get("/v1/points/gw-a/pv/power?from=\(t0)&to=\(t0 + 1000)", token: reader)
        #expect(range.status == 200, "\(range.body)")
        let readings = range.json["readings"] as? [[String: Any]] ?? []
        #expect(readings.count == 1)
        #expect(readings.first?["value"] as? Double == 1782.2)
        // Read tokens cannot ingest, and gateway tokens cannot read.
        #expect(try await collector.post(body, token: reader).status == 403)
        #expect(try await collector.get("/v1/points/latest", token: token).status == 403)
        #expect(try await collector.get("/v1/points/latest", token: nil).status == 401)
        #expect(try await collector.get("/health", token: nil).status == 200)

        // The fleet: both devices' newest groups hold a missing value (the meter's an exception, pv's a timeout and
        // a link_down), so both are degraded. The request sent again counts as a duplicate in the day's tally.
        #expect(try await collector.post(body, token: token).json["duplicates"] as? [Int] == [0])
        let fleet = try await collector.get("/v1/fleet", token: reader)
        #expect(fleet.status == 200, "\(fleet.body)")
        let gateway = (fleet.json["gateways"] as? [[String: Any]])?.first
        #expect(gateway?["name"] as? String == "gw-a")
        #expect(gateway?["devices_online"] as? Int == 0)
        let devices = gateway?["devices"] as? [[String: Any]] ?? []
        #expect(devices.map { $0["name"] as? String } == ["meter", "pv"])
        #expect(devices.map { $0["state"] as? String } == ["degraded", "degraded"])
        let days = gateway?["days"] as? [[String: Any]] ?? []
        #expect(days.count == 1)
        #expect(days.first?["bytes"] as? Int == body.count * 2)
        #expect(days.first?["batches"] as? Int == 1)
        #expect(days.first?["duplicates"] as? Int == 1)
        #expect(days.first?["readings"] as? Int == 16)
    }

    @Test("the wire format's golden vectors are stored as their README spells them out")
    func goldenVectors() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath, "gw-demo")
        let reply = try await collector.post(
            try Frames.vector("dictionary.hex") + Frames.vector("batch.hex"), token: token)
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.json["batches"] as? [[String: Any]] != nil)
        #expect(reply.json["stored"] as? [Int] == [42])
        let rows = try Peek(collector.databasePath).rows(
            """
            SELECT p.name, r.time_ms - 1764000000000, r.value, r.raw_int, r.raw_text, r.quality, r.exception, r.clock
            FROM readings r JOIN points p ON p.id = r.point ORDER BY r.time_ms, r.rowid
            """)
        let expected: [[AnyHashable?]] = [
            ["voltage_l1", Int64(0), Double(Float(230.4)), Int64(0x4366_6666), nil, Int64(0), nil, Int64(1)],
            ["energy", Int64(0), 12345 * 0.1, Int64(12345), nil, Int64(0), nil, Int64(1)],
            ["breaker_closed", Int64(0), nil, Int64(1), nil, Int64(0), nil, Int64(1)],
            ["voltage_l1", Int64(1000), Double(Float(230.5)), Int64(0x4366_8000), nil, Int64(0), nil, Int64(1)],
            ["energy", Int64(1000), 12347 * 0.1, Int64(12347), nil, Int64(0), nil, Int64(1)],
            ["breaker_closed", Int64(1000), nil, Int64(1), nil, Int64(0), nil, Int64(1)],
            ["power", Int64(1003), 17822.0 / 10, Int64(17822), nil, Int64(0), nil, Int64(3)],
            ["w_sf", Int64(1003), -1.0, Int64(-1), nil, Int64(0), nil, Int64(3)],
            ["model", Int64(1003), nil, nil, "SE7600", Int64(0), nil, Int64(3)],
            ["voltage_l1", Int64(2001), nil, Int64(0x7FC0_0000), nil, Int64(0), nil, Int64(1)],
            ["energy", Int64(2001), nil, nil, nil, Int64(2), Int64(2), Int64(1)],
            ["breaker_closed", Int64(2001), nil, Int64(0), nil, Int64(0), nil, Int64(1)],
        ]
        #expect(rows.count == expected.count)
        for (row, want) in zip(rows, expected) { #expect(row == want) }
    }

    @Test("duplicates and out-of-order batches are stored exactly once")
    func duplicatesAndOutOfOrder() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        #expect(try await collector.post(plant.frame(), token: token).status == 200)
        // Live-first replay: 5 arrives first, then 3, then 5 again, then 3 and 4 together, then 0…2.
        var reply = try await collector.post(try meterBatch(5), token: token)
        #expect(reply.json["stored"] as? [Int] == [5])
        reply = try await collector.post(try meterBatch(3, compressed: true), token: token)
        #expect(reply.json["stored"] as? [Int] == [3])
        reply = try await collector.post(try meterBatch(5), token: token)
        #expect(reply.status == 200)
        #expect(reply.json["stored"] as? [Int] == [])
        #expect(reply.json["duplicates"] as? [Int] == [5])
        reply = try await collector.post(
            try meterBatch(3) + meterBatch(4) + meterBatch(4, compressed: true), token: token)
        #expect(reply.json["stored"] as? [Int] == [4])
        #expect(reply.json["duplicates"] as? [Int] == [3, 4])
        reply = try await collector.post(try meterBatch(2) + meterBatch(0) + meterBatch(1), token: token)
        #expect(reply.json["stored"] as? [Int] == [2, 0, 1])
        // The same sequence number in another epoch is another batch.
        reply = try await collector.post(try meterBatch(0, epoch: 8), token: token)
        #expect(reply.json["stored"] as? [Int] == [0])

        let peek = try Peek(collector.databasePath)
        #expect(try peek.count("SELECT count(*) FROM readings") == 7 * 3)
        #expect(try peek.count("SELECT count(DISTINCT time_ms) FROM readings") == 6)
        // Six batches 0…5 in epoch 7: the watermark passed them all and no run is left.
        #expect(
            try peek.rows("SELECT epoch, watermark FROM dedupe_epochs ORDER BY epoch") == [
                [Int64(7), Int64(6)], [Int64(8), Int64(1)],
            ])
        #expect(try peek.count("SELECT count(*) FROM dedupe_runs") == 0)
        let energy = try peek.rows(
            "SELECT raw_int FROM readings r JOIN points p ON p.id = r.point WHERE p.name = 'energy' ORDER BY raw_int")
        #expect(energy == [1000, 1000, 1001, 1002, 1003, 1004, 1005].map { [Int64($0)] })
    }

    @Test("a batch of an unknown schema gets 409 and stores nothing; after its dictionary it is stored")
    func unknownSchema() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        let reply = try await collector.post(try meterBatch(0) + meterBatch(1, compressed: true), token: token)
        #expect(reply.status == 409)
        #expect(reply.json["reason"] as? String == "schema-unknown")
        #expect(reply.json["schema_id"] as? String == String(plant.schemaID, radix: 16).leftPadded(16))
        let peek = try Peek(collector.databasePath)
        #expect(try peek.count("SELECT count(*) FROM readings") == 0)
        #expect(try peek.count("SELECT count(*) FROM dedupe_epochs") == 0)
        // The agent sends the dictionary, then the batches again.
        #expect(try await collector.post(plant.frame(), token: token).status == 200)
        let retry = try await collector.post(try meterBatch(0) + meterBatch(1, compressed: true), token: token)
        #expect(retry.status == 200)
        #expect(retry.json["stored"] as? [Int] == [0, 1])
        #expect(try peek.count("SELECT count(*) FROM readings") == 6)
        // Another dictionary with the same points in another order: each batch resolves names through its own schema.
        let reordered = SchemaDictionary(
            gateway: "gw-a",
            points: [
                PointDescriptor(device: "meter", name: "energy", unit: "kWh", type: .uint32, scale: 0.1),
                PointDescriptor(device: "meter", name: "voltage", unit: "V", type: .float32),
            ])
        let swapped = try Frames.batch(
            reordered, epoch: 7, sequence: 2,
            groups: [(1_764_000_009_000, .synchronised, 0, [.uint(4242), .float32(bits: Float(231).bitPattern)])])
        #expect(try await collector.post(swapped, token: token).status == 409)
        #expect(try await collector.post(reordered.frame() + swapped, token: token).status == 200)
        #expect(
            try peek.rows(
                """
                SELECT p.name, r.raw_int FROM readings r JOIN points p ON p.id = r.point WHERE r.time_ms = 1764000009000 ORDER BY p.name
                """) == [["energy", Int64(4242)], ["voltage", Int64(Float(231).bitPattern)]])
    }

    @Test("tokens: none or unknown 401, another gateway's id 403, rotation grace, revocation")
    func authentication() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let tokenA = try enroll(collector.databasePath, "gw-a")
        let tokenB = try enroll(collector.databasePath, "gw-b")
        let body = plant.frame() + (try meterBatch(0))
        #expect(try await collector.post(body, token: nil).status == 401)
        let unknown = try await collector.post(body, token: "tramgw_not-a-token")
        #expect(unknown.status == 401)
        #expect(unknown.json["reason"] as? String == "unauthorized")
        // gw-b's token with frames that say gw-a: refused, and nothing stored.
        let other = try await collector.post(body, token: tokenB)
        #expect(other.status == 403)
        #expect(other.json["reason"] as? String == "forbidden")
        #expect(try await collector.post(body, token: tokenA, gateway: "gw-b").status == 403)
        #expect(try Peek(collector.databasePath).count("SELECT count(*) FROM readings") == 0)
        #expect(try await collector.post(body, token: tokenA, gateway: "gw-a").status == 200)

        // Rotation: both tokens work during the grace period; an expired one does not.
        let store = try CollectorStore(path: collector.databasePath)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let rotated = try store.rotateGateway("gw-a", graceMilliseconds: 3_600_000, now: now)
        #expect(try await collector.post(try meterBatch(1), token: tokenA).status == 200)
        #expect(try await collector.post(try meterBatch(2), token: rotated).status == 200)
        let again = try store.rotateGateway("gw-a", graceMilliseconds: 0, now: now)
        #expect(try await collector.post(try meterBatch(3), token: rotated).status == 401)
        #expect(try await collector.post(try meterBatch(3), token: again).status == 200)
        // Revocation: 401 from then on; the data stays.
        try store.revokeGateway("gw-a", now: now)
        #expect(try await collector.post(try meterBatch(4), token: again).status == 401)
        let peek = try Peek(collector.databasePath)
        #expect(try peek.count("SELECT count(*) FROM readings") == 12)
        // Only hashes are stored: 64 hex digits, never the token.
        #expect(
            try peek.count("SELECT count(*) FROM tokens WHERE length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'") == 4)
    }

    @Test("limits: oversize body 413, zstd bomb and corrupt frames 422, rate limit 429 with Retry-After")
    func limits() async throws {
        let limits = IngestLimits(maximumBody: 64 << 10, maximumFrameDecoded: 1 << 20, maximumDecoded: 3 << 19)
        let collector = try await LiveCollector.start(limits: limits, rate: 1, burst: 4)
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        let big = [UInt8](repeating: 0x54, count: 100 << 10)
        let tooLarge = try await collector.post(big, token: token)
        #expect(tooLarge.status == 413)
        #expect(tooLarge.json["reason"] as? String == "too-large")

        // A small zstd frame that claims 64 MiB of zeros: refused before anything is allocated.
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let bomb = Frame.wrap(
            kind: .batch, payload: zeros.withUnsafeBytes { Zstd.compress($0) }, flags: Frame.compressedFlag)
        #expect(bomb.count < 64 << 10)
        let refused = try await collector.post(plant.frame() + bomb, token: token)
        #expect(refused.status == 422)
        #expect(refused.json["reason"] as? String == "malformed")
        #expect(refused.json["frame"] as? Int == 1)
        #expect((refused.json["detail"] as? String ?? "").contains("limit"))

        var corrupt = try meterBatch(0)
        corrupt[corrupt.count - 10] ^= 0x01
        let crc = try await collector.post(plant.frame() + corrupt, token: token)
        #expect(crc.status == 422)
        #expect((crc.json["detail"] as? String ?? "").contains("checksum"))
        #expect(try Peek(collector.databasePath).count("SELECT count(*) FROM schemas") == 0)

        // Two real batches of 0.9 MiB each, compressed: each fits, both together decode to more than a request may.
        // That is no malformed frame but too much at once (413): the agent sends them one at a time.
        let labels = SchemaDictionary(
            gateway: "gw-a", points: [PointDescriptor(device: "d", name: "label", type: .string)])
        let long = { (s: UInt64) in
            try Frames.batch(
                labels, epoch: 1, sequence: s,
                groups: [(0, .synchronised, 0, [.string(String(repeating: "x", count: 900 << 10))])], compressed: true)
        }
        let pair = try await collector.post(labels.frame() + long(0) + long(1), token: token)
        #expect(pair.status == 413)
        #expect(pair.json["reason"] as? String == "too-large")

        // The burst of 4 is spent by the three requests above and the ones below, back to back: then the gateway waits.
        var limited = try await collector.post(plant.frame(), token: token)
        for _ in 0..<4 where limited.status != 429 { limited = try await collector.post(plant.frame(), token: token) }
        #expect(limited.status == 429)
        #expect(limited.headers["retry-after"] == "1")
        #expect(limited.json["reason"] as? String == "rate-limited")
        let metrics = try await collector.get("/metrics", token: nil)
        #expect(metrics.body.contains("tram_collector_rejects_total{reason=\"malformed\"} 2"))
        #expect(metrics.body.contains("tram_collector_rejects_total{reason=\"too-large\"} 2"))
        #expect(metrics.body.contains("tram_collector_rejects_total{reason=\"rate-limited\"} 1"))
    }

    @Test("a store failure is a 500 and commits nothing, not even the dedupe entry")
    func storeFailure() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        #expect(try await collector.post(plant.frame() + meterBatch(0), token: token).status == 200)
        // An operator's mistake from a second connection: the readings table is gone.
        try Peek.write(collector.databasePath, "ALTER TABLE readings RENAME TO readings_away")
        let failed = try await collector.post(try meterBatch(1), token: token)
        #expect(failed.status == 500)
        #expect(failed.json["reason"] as? String == "store-error")
        #expect(try Peek(collector.databasePath).rows("SELECT watermark FROM dedupe_epochs") == [[Int64(1)]])
        try Peek.write(collector.databasePath, "ALTER TABLE readings_away RENAME TO readings")
        let retried = try await collector.post(try meterBatch(1), token: token)
        #expect(retried.json["stored"] as? [Int] == [1])
        #expect(try Peek(collector.databasePath).count("SELECT count(*) FROM readings") == 6)
    }

    @Test("after a restart on the same database, dedupe still holds")
    func restartKeepsDedupe() async throws {
        let first = try await LiveCollector.start()
        let token = try enroll(first.databasePath)
        #expect(
            try await first.post(plant.frame() + meterBatch(0) + meterBatch(2) + meterBatch(3), token: token).status
                == 200)
        await first.stop()

        let second = try await LiveCollector.start(database: first.databasePath)
        defer { Task { await second.stop() } }
        // The dictionary and the dedupe state come from disk.
        let reply = try await second.post(
            try meterBatch(2) + meterBatch(1) + meterBatch(0, compressed: true) + meterBatch(4), token: token)
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.json["stored"] as? [Int] == [1, 4])
        #expect(reply.json["duplicates"] as? [Int] == [2, 0])
        let peek = try Peek(second.databasePath)
        #expect(try peek.count("SELECT count(*) FROM readings") == 5 * 3)
        #expect(try peek.rows("SELECT watermark FROM dedupe_epochs") == [[Int64(5)]])
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
