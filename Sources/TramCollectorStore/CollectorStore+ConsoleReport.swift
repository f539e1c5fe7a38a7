import TramBuiltinPoints
/// The site report (docs/console.md, "Report").
extension CollectorStore {
    /// The report of `site` for a local month or year; nil when the period cannot be placed in the calendar.
    ///
    /// Readings and availability come from the rollups (their own retention, 13 months by default): day rollups for
    /// whole UTC days where the point has them, hour rollups for the rest (``reportTallies(site:range:calendar:)``);
    /// bytes from the hourly ingest tallies.
    public func report(site: String, period: SiteReport.Period, calendar: LocalCalendar, now: Int64) throws
        -> SiteReport?
    {
        let range: Range<Int64>?
        switch period {
        case .month(let year, let month): range = calendar.period(year: year, month: month)
        case .year(let year): range = calendar.period(year: year, month: nil)
        }
        guard let range else { return nil }
        let counted = max(0, min(range.upperBound, now) - range.lowerBound)

        let devices = try consoleRows(
            """
            SELECT g.id, g.name, d.id, d.name, count(p.id)
            FROM gateways g CROSS JOIN devices d ON d.gateway = g.id CROSS JOIN points p ON p.device = d.id
            WHERE g.site = ?1 AND d.name NOT IN (?2, ?3) GROUP BY d.id ORDER BY g.name, d.name
            """,
            // The plant's devices; the built-in gateway and modem have the report's telecom section instead (a modem
            // without signal polling would otherwise pull a healthy site's availability down).
            [.text(site), .text(BuiltinDevice.gatewayName), .text(BuiltinDevice.modemName)]
        ) { s in
            (gateway: s.int64(0), gatewayName: s.text(1), device: s.int64(2), name: s.text(3), points: Int(s.int64(4)))
        }

        let tallies = try reportTallies(site: site, range: range, calendar: calendar)

        let fromHour = LocalCalendar.floorDivide(range.lowerBound, 3_600_000)
        let toHour = -LocalCalendar.floorDivide(-range.upperBound, 3_600_000)
        var bytes: [Int64: Int64] = [:]
        for row in try consoleRows(
            """
            SELECT g.id, sum(h.bytes) FROM gateways g CROSS JOIN ingest_hours h ON h.gateway = g.id AND h.hour >= ?2 AND h.hour < ?3
            WHERE g.site = ?1 GROUP BY g.id
            """, [.text(site), .integer(fromHour), .integer(toHour)], { s in (s.int64(0), s.int64(1)) })
        {
            bytes[row.0] = row.1
        }
        // Gateways of the site without devices yet still get a row.
        let names = try consoleRows("SELECT id, name FROM gateways WHERE site = ? ORDER BY name", [.text(site)]) {
            ($0.int64(0), $0.text(1))
        }

        func availability(good: Int64, points: Int) -> Double {
            guard counted > 0, points > 0 else { return 0 }
            return min(1, max(0, Double(good) / (Double(points) * Double(counted))))
        }
        var gateways: [SiteReport.Gateway] = []
        var allDays = Set<Int64>()
        var totalGood: Int64 = 0
        for (id, name) in names {
            var gatewayDays = Set<Int64>()
            var good: Int64 = 0
            let rows = devices.filter { $0.gateway == id }.map { device -> SiteReport.Device in
                let tally = tallies[device.device] ?? PointTally()
                gatewayDays.formUnion(tally.days)
                good += tally.goodMilliseconds
                return SiteReport.Device(
                    name: device.name, points: device.points, readings: tally.readings,
                    availability: availability(good: tally.goodMilliseconds, points: device.points),
                    daysWithData: tally.days.count)
            }
            let points = rows.reduce(0) { $0 + $1.points }
            allDays.formUnion(gatewayDays)
            totalGood += good
            gateways.append(
                SiteReport.Gateway(
                    name: name, devices: rows, points: points, readings: rows.reduce(0) { $0 + $1.readings },
                    bytes: bytes[id] ?? 0, availability: availability(good: good, points: points),
                    daysWithData: gatewayDays.count))
        }
        let points = gateways.reduce(0) { $0 + $1.points }
        var report = SiteReport(
            site: site, period: period, timeZone: calendar.timeZone.identifier, from: range.lowerBound,
            to: range.upperBound, countedMilliseconds: counted, gateways: gateways,
            devices: gateways.reduce(0) { $0 + $1.devices.count }, points: points,
            readings: gateways.reduce(0) { $0 + $1.readings }, bytes: gateways.reduce(0) { $0 + $1.bytes },
            availability: availability(good: totalGood, points: points), daysWithData: allDays.count)
        report.telecom = try telecom(site: site, range: range, now: now)
        return report
    }
}
