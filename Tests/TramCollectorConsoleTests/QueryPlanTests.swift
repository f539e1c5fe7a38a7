import Foundation
import Testing
@testable import TramCollectorStore

/// No console query scans `readings`: EXPLAIN QUERY PLAN over every query each page runs, with realistic data
/// (gateways, devices and points on two sites, three days of a reading a minute, their rollups, ANALYZE run).
/// Only the raw plot source may read `readings`, and then by a bounded search of its (point, time_ms) index.
@Suite struct QueryPlanTests {
    @Test func noConsoleQueryScansReadings() throws {
        let f = try ConsoleFixture()
        let now: Int64 = 1_741_000_000_000
        let start = now - 3 * 86_400_000
        let calendar = LocalCalendar(timeZone: TimeZone(identifier: "Asia/Ho_Chi_Minh")!)
        var points: [Int64] = []
        for gateway in 0..<4 {
            let g = try f.gateway(
                "gw-\(gateway)", site: gateway < 2 ? "north" : "south", lastSeen: now - 30_000, batchAge: 10_000,
                clock: Int64(gateway % 2), clockSince: start)
            for hour in stride(from: start / 3_600_000, to: now / 3_600_000, by: 1) {
                try f.ingestHour(g, hour: hour, bytes: 5000, readings: 720)
            }
            if gateway == 3 { try f.held(g, unsynchronised: 12, first: start) }
            // The built-in modem, with its signal bins and technology time as ingest keeps them.
            let modem = try f.device(g, "modem")
            for name in ["technology", "operator_code", "operator_name", "lte_rsrp", "lte_snr", "nr_rsrp", "nr_snr"] {
                let p = try f.point(modem, name, unit: "dB")
                try f.latest(p, .init(time: now - 30_000, value: -90), qualitySince: start)
                for hour in stride(from: start, to: now, by: 3_600_000) {
                    for width: Int64 in [3_600_000, 86_400_000] where width == 3_600_000 || hour % 86_400_000 == 0 {
                        for bin: Int64 in -110 ... -90 {
                            try f.execute(
                                "INSERT INTO signal_bins VALUES (\(p), \(width), \(hour - hour % width), 45204, \(bin), 3) "
                                    + "ON CONFLICT DO NOTHING")
                        }
                        try f.execute(
                            "INSERT INTO state_time VALUES (\(p), \(width), \(hour - hour % width), 4, 60000) ON CONFLICT DO NOTHING"
                        )
                    }
                }
            }
            for device in 0..<3 {
                let d = try f.device(g, "device-\(device)")
                for point in 0..<4 {
                    let p = try f.point(d, "point-\(point)", counter: point == 3)
                    points.append(p)
                    let bad = gateway == 1 && device == 0 && point < 2
                    try f.readings(
                        p,
                        stride(from: start, to: now, by: 60_000).map {
                            .init(time: $0, value: Double($0 % 977), quality: bad && $0 > now - 3_600_000 ? 3 : 0)
                        })
                }
            }
        }
        try f.buildRollups()
        #expect(try f.scalar("SELECT count(*) FROM readings") == Int64(points.count) * 3 * 1440)

        let token = try f.store.addReader("operator", now: now)
        let session = try f.store.createSession(token: token, lifetimeMilliseconds: 3_600_000, now: now).get()
        // As the collector runs (it never runs ANALYZE), and with statistics.
        try check(f, points: points, cookie: session.cookie, calendar: calendar, now: now)
        try f.execute("ANALYZE")
        try check(f, points: points, cookie: session.cookie, calendar: calendar, now: now)
    }

    func check(_ f: ConsoleFixture, points: [Int64], cookie: String, calendar: LocalCalendar, now: Int64) throws {
        let recorder = QueryPlanRecorder.start(f.store)
        defer { QueryPlanRecorder.stop(f.store) }
        _ = try f.store.fleet(calendar: calendar, now: now)
        _ = try f.store.fleet(site: "north", calendar: calendar, now: now)
        _ = try f.store.consoleGateway("gw-1", calendar: calendar, now: now)
        _ = try f.store.devices(gateway: "gw-1")
        _ = try f.store.points(gateway: "gw-1", device: "device-0")
        for span: Int64 in [3_600_000, 86_400_000, 7 * 86_400_000, 60 * 86_400_000] {
            let series = try f.store.plot(point: points[3], from: now - span, to: now, rate: true)
            // A reading a minute for 3 days: up to a day is at most 2,000 readings.
            #expect(series.source == (span <= 86_400_000 ? .raw : span < 1000 * 3_600_000 ? .minute : .hour))
        }
        _ = try f.store.problems(now: now)
        _ = try f.store.sites()
        _ = try f.store.report(site: "north", period: .month(year: 2025, month: 3), calendar: calendar, now: now)
        _ = try f.store.report(site: "north", period: .year(2025), calendar: calendar, now: now)
        _ = try f.store.session(cookie: cookie, now: now)
        _ = try f.store.telecom(site: "north", range: (now - 3 * 86_400_000)..<now, now: now)

        let entries = recorder.recorded
        #expect(entries.count >= 20)
        if ProcessInfo.processInfo.environment["TRAM_PRINT_PLANS"] != nil {
            for entry in entries { print(entry.sql, entry.plan.map { "\n  " + $0 }.joined(), "\n") }
        }
        for entry in entries {
            let readsRaw = entry.sql.contains("FROM readings")
            for line in entry.plan {
                #expect(!line.hasPrefix("SCAN readings"), "\(line) in \(entry.sql)")
                if line.contains("readings") {
                    #expect(readsRaw, "\(line) in \(entry.sql)")
                    #expect(
                        line.contains("USING")
                            && line.contains("INDEX readings_point_time (point=? AND time_ms>? AND time_ms<?)"),
                        "\(line)")
                }
                // The summaries are searched by their keys too, never scanned whole.
                #expect(
                    line.range(
                        of: "^SCAN (readings|rollups|r|ingest_hours|h|signal_bins|b|state_time|t)( |$)",
                        options: .regularExpression)
                        == nil,
                    "\(line) in \(entry.sql)")
            }
        }
    }
}
