import Foundation
import Testing
import TramCollectorStore
import TramSchema

/// A gateway that reports by exception, sent through the real collector over HTTP: a point `meter/v` with a
/// deadband and a 60 s heartbeat, polled every second, and `pump/flow` sent every 10 s. Its batches (the real
/// encoder: sparse groups, snapshots, dropped ranges) drop sequences 3 and 4 (reported by batch 5) and deliver 7
/// before 6 (a backlog drained live-first: a gap that is no loss).
struct ExceptionGateway {
    /// A whole minute, so rollup buckets start at `t`.
    static let t: Int64 = 1_699_999_980_000
    static let dictionary = SchemaDictionary(
        gateway: "gw-a",
        points: [
            PointDescriptor(
                device: "meter", name: "v", unit: "V", type: .float64, intervalMilliseconds: 1_000, deadband: 0.5,
                heartbeatMilliseconds: 60_000),
            PointDescriptor(device: "pump", name: "flow", unit: "l/s", type: .float64, intervalMilliseconds: 10_000),
        ])
    /// 60 s heartbeat + 1 s poll + 2 s margin.
    static let holdLimit: Int64 = 63_000

    /// One group: seconds after `t`, the sent points (v, flow) and whether it is a snapshot.
    struct Group {
        var seconds: Int64
        var v: Double?
        var snapshot = false
    }

    static func batch(_ sequence: UInt64, _ groups: [Group], dropped: [Range<UInt64>] = []) throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: sequence, baseTimeMilliseconds: t + groups[0].seconds * 1000)
        for group in groups {
            let aliases = group.v == nil ? [1] : [0, 1]
            let values: [WireValue] =
                (group.v.map { [.float64(bits: $0.bitPattern)] } ?? []) + [
                    .float64(bits: Double(group.seconds).bitPattern)
                ]
            try aliases.withUnsafeBufferPointer { aliases in
                try values.withUnsafeBufferPointer {
                    try encoder.append(
                        timeMilliseconds: t + group.seconds * 1000, clock: .synchronised, aliases: aliases, values: $0,
                        snapshot: group.snapshot)
                }
            }
        }
        return Array(try encoder.seal(droppedSequences: dropped))
    }

    static func flow(_ seconds: StrideThrough<Int64>) -> [Group] { seconds.map { Group(seconds: $0, v: nil) } }

    /// The requests in arrival order (the dictionary with the first): batches 0, 1, 2, 5 (reporting 3…4), 7, 6.
    static func requests() throws -> [(label: String, body: [UInt8])] {
        [
            (
                "0",
                dictionary.frame()
                    + (try batch(
                        0, [Group(seconds: 0, v: 230, snapshot: true)] + flow(stride(from: 10, through: 50, by: 10))))
            ),
            (
                "1",
                try batch(
                    1,
                    [Group(seconds: 60, v: 230), Group(seconds: 70, v: 231)]
                        + flow(stride(from: 80, through: 90, by: 10)))
            ),
            ("2", try batch(2, flow(stride(from: 100, through: 130, by: 10)))),
            (
                "5",
                try batch(
                    5, [Group(seconds: 220, v: 232, snapshot: true), Group(seconds: 230, v: nil)], dropped: [3..<5])
            ),
            ("7", try batch(7, [Group(seconds: 260, v: nil), Group(seconds: 270, v: 233)])),
            ("6", try batch(6, flow(stride(from: 240, through: 250, by: 10)))),
        ]
    }
}

@Suite("Report by exception at the collector", .serialized)
struct ReportByExceptionTests {
    typealias G = ExceptionGateway

    @Test(
        "the hold limit: heartbeat + interval + margin, never under twice the interval; without one, twice the interval"
    )
    func holdLimits() {
        #expect(RollupRules.holdLimit(intervalMilliseconds: 1_000, heartbeatMilliseconds: 60_000) == 63_000)
        #expect(RollupRules.holdLimit(intervalMilliseconds: 1_000) == 2_000)
        #expect(RollupRules.holdLimit(intervalMilliseconds: nil, heartbeatMilliseconds: 60_000) == 62_000)
        #expect(RollupRules.holdLimit(intervalMilliseconds: 60_000, heartbeatMilliseconds: 1_000) == 120_000)
        #expect(RollupRules.holdLimit(intervalMilliseconds: nil) == RollupRules.defaultHoldLimitMilliseconds)
        #expect(RollupRules.holdLimit(intervalMilliseconds: 1, heartbeatMilliseconds: .max) == .max)
    }

    @Test("a loss mark per reported range, a held value ends at it; an unreported out-of-order gap ends nothing")
    func lossesAndHeldValues() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        let reader = try CollectorStore(path: collector.databasePath).addReader("grafana", now: 0)
        let path = "/v1/points/gw-a/meter/v?from=\(G.t)&to=\(G.t + 280_000)&step=10000"
        var heldBefore6: [[String: Any]] = []
        for (label, body) in try G.requests() {
            let reply = try await collector.post(body, token: token)
            #expect(reply.status == 200, "batch \(label): \(reply.body)")
            if label == "7" {
                heldBefore6 = try await collector.get(path, token: reader).json["held"] as? [[String: Any]] ?? []
            }
        }

        // The point keeps the dictionary's deadband and heartbeat.
        let peek = try Peek(collector.databasePath)
        #expect(try peek.rows("SELECT deadband, heartbeat_ms FROM points WHERE name = 'v'") == [[0.5, Int64(60_000)]])
        #expect(try peek.rows("SELECT deadband, heartbeat_ms FROM points WHERE name = 'flow'") == [[nil, nil]])

        // One mark, for 3…4 only (6 was late, not lost): from batch 2's newest group to batch 5's oldest.
        let marks = try CollectorStore(path: collector.databasePath).lossMarks(gateway: "gw-a")
        #expect(
            marks == [
                LossMark(
                    epoch: 1, sequences: 3...4, window: LossWindow(from: G.t + 130_000, to: G.t + 220_000),
                    reportedMilliseconds: marks.first?.reportedMilliseconds ?? 0)
            ])
        let metrics = try await collector.get("/metrics", token: nil)
        #expect(metrics.body.contains("tram_collector_loss_marks_total 1\n"), "\(metrics.body)")

        // Held every 10 s: 230 through the heartbeat, 231 until the loss starts, nothing in the loss, then 232 across
        // the gap of batch 6 (before and after it arrived), 233.
        var expected: [Double?] = Array(repeating: 230, count: 7) + Array(repeating: 231, count: 6)
        expected += Array(repeating: nil, count: 9) + Array(repeating: 232, count: 5) + [233]
        let reply = try await collector.get(path, token: reader)
        #expect(reply.status == 200, "\(reply.body)")
        let held = reply.json["held"] as? [[String: Any]] ?? []
        #expect(held.map { $0["time_ms"] as? Int } == (0..<28).map { Int(G.t) + $0 * 10_000 })
        #expect(held.map { $0["value"] as? Double } == expected)
        #expect(heldBefore6.map { $0["value"] as? Double } == expected)
        #expect(held[12]["reading_ms"] as? Int == Int(G.t + 70_000))
        #expect(held[13]["reading_ms"] is NSNull)
        #expect(reply.json["step_ms"] as? Int == 10_000)

        // Bad input is refused, never a crash.
        for query in ["step=0&from=0&to=10", "step=10", "step=x&from=0&to=1"] {
            #expect(
                try await collector.get("/v1/points/gw-a/meter/v?\(query)", token: reader).status == 400, "\(query)")
        }
        #expect(try await collector.get("/v1/points/gw-a/meter/nope?from=0&to=10&step=1", token: reader).status == 404)
        #expect(try await collector.get(path, token: nil).status == 401)
    }

    @Test("good_ms: heartbeat holds count in full, and the loss cuts the hold that crosses it")
    func rollupsWeightHeldTime() async throws {
        let collector = try await LiveCollector.start()
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        for (label, body) in try G.requests() {
            #expect(try await collector.post(body, token: token).status == 200, "batch \(label)")
        }
        let rows = try Peek(collector.databasePath).rows(
            """
            SELECT r.bucket_ms, r.good_ms FROM rollups r JOIN points p ON p.id = r.point
            WHERE p.name = 'v' AND r.width_ms = 60000 ORDER BY r.bucket_ms
            """)
        // [0, 60 s): 230 held a minute. [60, 120 s): 230 for 10 s, then 231. [120, 180 s): 231 until the loss at
        // 130 s (13 s without it). [180, 240 s): 232 from 220 s. [240, 300 s): 232 until 233 at 270 s (whose own hold
        // is counted when v's next reading arrives).
        #expect(rows.map { $0[0] as? Int64 } == (0..<5).map { G.t + $0 * 60_000 })
        #expect(rows.map { $0[1] as? Int64 } == [60_000, 60_000, 10_000, 20_000, 30_000])
    }

    /// Version 3 → 4: the points gain deadband and heartbeat (NULL), the span and loss tables come empty.
    @Test("a version-3 file gains the points' deadband and heartbeat, batch_spans and losses")
    func versionThree() throws {
        let path = LiveCollector.temporaryDatabase()
        _ = try CollectorStore(path: path)
        try Peek.write(
            path,
            """
            INSERT INTO gateways(name, created_ms) VALUES ('gw-a', 0);
            INSERT INTO devices(gateway, name) VALUES (1, 'meter');
            INSERT INTO points(device, name, unit, type, interval_ms) VALUES (1, 'v', 'V', 9, 1000);
            ALTER TABLE points DROP COLUMN deadband; ALTER TABLE points DROP COLUMN heartbeat_ms;
            DROP TABLE batch_spans; DROP TABLE losses; PRAGMA user_version = 3
            """)
        _ = try CollectorStore(path: path)
        let peek = try Peek(path)
        #expect(try peek.count("PRAGMA user_version") == 4)
        #expect(
            try peek.rows("SELECT name, interval_ms, deadband, heartbeat_ms FROM points") == [
                ["v", Int64(1000), nil, nil]
            ])
        #expect(try peek.count("SELECT count(*) FROM batch_spans") == 0)
        #expect(try peek.count("SELECT count(*) FROM losses") == 0)
    }
}
