import Foundation
import Testing
@testable import TramCollectorStore

@testable import TramCollectorConsole

/// The report counts local days, months and years in the console's time zone (Asia/Ho_Chi_Minh: UTC+7).
@Suite struct ReportTests {
    let calendar = LocalCalendar(timeZone: TimeZone(identifier: "Asia/Ho_Chi_Minh")!)

    @Test func dayNumbersToDatesAgreeWithFoundation() {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        for day in stride(from: Int64(-800), to: 150_000, by: 37) {
            let parts = utc.dateComponents(
                [.year, .month, .day], from: Date(timeIntervalSince1970: Double(day) * 86_400))
            #expect(calendar.date(ofDay: day) == (parts.year!, parts.month!, parts.day!), "day \(day)")
        }
    }

    @Test func localMonthBoundaries() throws {
        let march = try #require(calendar.period(year: 2025, month: 3))
        // 2025-03-01T00:00+07:00 = 2025-02-28T17:00Z; 2025-04-01T00:00+07:00 = 2025-03-31T17:00Z.
        #expect(march.lowerBound == 1_740_762_000_000)
        #expect(march.upperBound == 1_743_440_400_000)
        #expect(calendar.dayNumber(march.lowerBound) - calendar.dayNumber(march.lowerBound - 1) == 1)
        #expect(calendar.date(ofDay: calendar.dayNumber(march.lowerBound)) == (2025, 3, 1))
        #expect(SiteReport.Period("2025-03") == .month(year: 2025, month: 3))
        #expect(SiteReport.Period("2025") == .year(2025))
        #expect(
            SiteReport.Period("2025-13") == nil && SiteReport.Period("25-01") == nil && SiteReport.Period("x") == nil)
    }

    /// With day rollups (whole UTC days) and without them (hour rollups only), the same numbers.
    @Test(arguments: [true, false])
    func totalsInTheTimeZoneEqualSQLOverTheRows(dayRollups: Bool) throws {
        let f = try ConsoleFixture()
        let march = try #require(calendar.period(year: 2025, month: 3))
        let (from, to) = (march.lowerBound, march.upperBound)
        let g1 = try f.gateway("gw-1", site: "north")
        let g2 = try f.gateway("gw-2", site: "north")
        let other = try f.gateway("gw-3", site: "south")
        let meterDevice = try f.device(g1, "meter")
        let meter = try f.point(meterDevice, "power")
        let meterB = try f.point(meterDevice, "energy")
        let pump = try f.point(try f.device(g2, "pump"), "speed")
        let elsewhere = try f.point(try f.device(other, "x"), "y")
        // Around both local midnights that bound March, and on 3 local days inside it.
        let times = [from - 60_000, from, from + 59_000, from + 86_400_000, from + 10 * 86_400_000, to - 60_000, to]
        try f.readings(meter, times.map { .init(time: $0, value: 1) })
        try f.readings(meterB, times.map { .init(time: $0, value: 2, quality: $0 == from ? 3 : 0) })
        try f.readings(pump, [.init(time: from + 3_600_000, value: 5)])
        try f.readings(elsewhere, [.init(time: from + 3_600_000, value: 5)])
        try f.buildRollups(days: dayRollups)
        // Bytes by receive hour: one hour before March (local), two inside, one after.
        for (hour, bytes) in [
            (from / 3_600_000 - 1, 7), (from / 3_600_000, 100), (to / 3_600_000 - 1, 20), (to / 3_600_000, 9),
        ] {
            try f.ingestHour(g1, hour: Int64(hour), bytes: Int64(bytes), readings: 1)
        }
        try f.ingestHour(g2, hour: from / 3_600_000 + 5, bytes: 1000, readings: 1)

        let now = to + 86_400_000
        let report = try #require(
            try f.store.report(site: "north", period: .month(year: 2025, month: 3), calendar: calendar, now: now))
        let sqlReadings = try f.scalar(
            """
            SELECT count(*) FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device
            JOIN gateways g ON g.id = d.gateway WHERE g.site = 'north' AND r.time_ms >= ? AND r.time_ms < ?
            """, [.integer(from), .integer(to)])
        #expect(sqlReadings == 5 + 5 + 1)
        #expect(report.readings == sqlReadings)
        #expect(report.bytes == 100 + 20 + 1000)
        #expect(report.gateways.map(\.name) == ["gw-1", "gw-2"])
        #expect(report.gateways[0].devices[0].readings == 10)
        #expect(report.gateways[0].devices[0].points == 2)
        // Local days with data: Mar 1, Mar 2, Mar 11, Mar 31.
        #expect(report.gateways[0].devices[0].daysWithData == 4)
        #expect(report.daysWithData == 4)
        #expect(report.devices == 2 && report.points == 3)
        // Availability: 9 good readings × 60 s held over 2 points × 31 days.
        let expected = Double(9 * 60_000) / (2 * Double(to - from))
        #expect(abs(report.gateways[0].devices[0].availability - expected) < 1e-12)
        #expect(report.timeZone == "Asia/Ho_Chi_Minh")

        let csv = ReportCSV.render(report).split(separator: "\r\n")
        #expect(csv.last == "total,,,3,11,1120,\(ReportCSV.percent(report.availability)),4")

        // Day rollups that start later (a store upgraded mid-month): the days before come from hour rollups.
        try f.execute("DELETE FROM rollups WHERE width_ms = 86400000 AND bucket_ms < \(from + 5 * 86_400_000)")
        #expect(
            try f.store.report(site: "north", period: .month(year: 2025, month: 3), calendar: calendar, now: now)
                == report)

        // A year holds the same March, and the readings on Feb 28 and Apr 1 (local).
        let year = try #require(try f.store.report(site: "north", period: .year(2025), calendar: calendar, now: now))
        #expect(year.readings == sqlReadings + 4)
    }

    @Test func availabilityCountsThePeriodOnlyUpToNow() throws {
        let f = try ConsoleFixture()
        let march = try #require(calendar.period(year: 2025, month: 3))
        let p = try f.point(try f.device(try f.gateway("gw", site: "s"), "d"), "p")
        // A reading a minute for the first local day, all good.
        try f.readings(p, (0..<1440).map { .init(time: march.lowerBound + Int64($0) * 60_000, value: 1) })
        try f.buildRollups()
        let report = try #require(
            try f.store.report(
                site: "s", period: .month(year: 2025, month: 3), calendar: calendar, now: march.lowerBound + 86_400_000)
        )
        #expect(report.countedMilliseconds == 86_400_000)
        #expect(report.availability == 1)
    }
}
