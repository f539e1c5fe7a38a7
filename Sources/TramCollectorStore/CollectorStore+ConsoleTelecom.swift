import TramBuiltinPoints

/// The console's reads of the built-in modem (docs/console.md, "Link, coverage and the telecom report"): each
/// gateway's link from `point_latest`, and a site's coverage and uplink over a period from `signal_bins`, `state_time`
/// and `ingest_hours`. None reads `readings` (QueryPlanTests).
extension CollectorStore {
    /// Every modem's link (of these gateways, or of all), by gateway row.
    func links(gatewayIDs: [Int64]?) throws -> [Int64: ConsoleLink] {
        var links: [Int64: ConsoleLink] = [:]
        let names = "[" + BuiltinPoints.link.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        for row in try consoleRows(
            """
            SELECT d.gateway, p.name, l.time_ms, l.value, l.raw_text, l.quality
            FROM devices d CROSS JOIN points p ON p.device = d.id CROSS JOIN point_latest l ON l.point = p.id
            WHERE d.name = ?1 AND p.name IN (SELECT value FROM json_each(?2))
              AND (?3 IS NULL OR d.gateway IN (SELECT value FROM json_each(?3)))
            """, [.text(BuiltinDevice.modemName), .text(names), Self.jsonList(gatewayIDs)],
            { s in
                (
                    gateway: s.int64(0), point: s.text(1),
                    value: ConsoleLink.Value(
                        value: s.optionalDouble(3), text: s.optionalText(4),
                        quality: ConsoleQuality(code: Int(s.int64(5))), timeMilliseconds: s.int64(2))
                )
            })
        {
            links[row.gateway, default: ConsoleLink()].values[row.point] = row.value
        }
        return links
    }

    /// The coverage and uplink of `site`'s gateways over `range` (a local month or year), up to `now`.
    ///
    /// Whole UTC days inside the range come from the day rows of `signal_bins` and `state_time`, the range's partial
    /// days at each end from their hour rows (exact for zones whose offset is a whole number of hours, as the rest of
    /// the report). Uplink availability: of the whole UTC hours of the range that have passed, those in which the
    /// collector stored at least one request of the gateway (`ingest_hours`, by arrival).
    public func telecom(site: String, range: Range<Int64>, now: Int64) throws -> SiteTelecom {
        let gateways = try consoleRows("SELECT id, name FROM gateways WHERE site = ? ORDER BY name", [.text(site)]) {
            (id: $0.int64(0), name: $0.text(1))
        }
        var rows: [Int64: SiteTelecom.Gateway] = [:]
        for g in gateways { rows[g.id] = SiteTelecom.Gateway(name: g.name) }
        // Per gateway: signal readings by operator, to find its main operator.
        var byOperator: [Int64: [Int64: [SiteTelecom.Measure: SignalDistribution]]] = [:]

        for part in Self.parts(of: range) {
            for row in try consoleRows(
                """
                SELECT d.gateway, p.name, b.operator, b.bin, sum(b.count)
                FROM gateways g CROSS JOIN devices d ON d.gateway = g.id AND d.name = ?2
                CROSS JOIN points p ON p.device = d.id
                CROSS JOIN signal_bins b ON b.point = p.id AND b.width_ms = ?3 AND b.bucket_ms >= ?4 AND b.bucket_ms < ?5
                WHERE g.site = ?1 GROUP BY d.gateway, p.name, b.operator, b.bin
                """,
                [
                    .text(site), .text(BuiltinDevice.modemName), .integer(part.width), .integer(part.from),
                    .integer(part.to),
                ],
                { s in
                    (
                        gateway: s.int64(0), point: s.text(1), operatorCode: s.int64(2), bin: s.int64(3),
                        count: s.int64(4)
                    )
                })
            {
                guard let measure = SiteTelecom.Measure(rawValue: row.point) else { continue }
                byOperator[row.gateway, default: [:]][row.operatorCode, default: [:]][measure, default: .init()].add(
                    bin: row.bin, count: row.count)
            }
            for row in try consoleRows(
                """
                SELECT d.gateway, t.value, sum(t.ms)
                FROM gateways g CROSS JOIN devices d ON d.gateway = g.id AND d.name = ?2
                CROSS JOIN points p ON p.device = d.id AND p.name = ?3
                CROSS JOIN state_time t ON t.point = p.id AND t.width_ms = ?4 AND t.bucket_ms >= ?5 AND t.bucket_ms < ?6
                WHERE g.site = ?1 GROUP BY d.gateway, t.value
                """,
                [
                    .text(site), .text(BuiltinDevice.modemName), .text(BuiltinDevice.Modem.technology),
                    .integer(part.width), .integer(part.from), .integer(part.to),
                ], { s in (gateway: s.int64(0), value: s.int64(1), ms: s.int64(2)) })
            {
                rows[row.gateway]?.uplink.technologyMilliseconds[row.value, default: 0] += row.ms
            }
        }

        // Uplink: hours with a stored request, of the whole hours passed; bytes of the whole range.
        let fromHour = LocalCalendar.floorDivide(range.lowerBound, 3_600_000)
        let toHour = -LocalCalendar.floorDivide(-range.upperBound, 3_600_000)
        let passedHour = max(fromHour, min(toHour, LocalCalendar.floorDivide(now, 3_600_000)))
        for row in try consoleRows(
            """
            SELECT g.id, count(CASE WHEN h.hour < ?3 THEN 1 END), sum(h.bytes)
            FROM gateways g CROSS JOIN ingest_hours h ON h.gateway = g.id AND h.hour >= ?2 AND h.hour < ?4
            WHERE g.site = ?1 GROUP BY g.id
            """, [.text(site), .integer(fromHour), .integer(passedHour), .integer(toHour)],
            { s in (gateway: s.int64(0), hours: s.int64(1), bytes: s.int64(2)) })
        {
            rows[row.gateway]?.uplink.hoursWithUploads = row.hours
            rows[row.gateway]?.uplink.bytes = row.bytes
        }

        // The modems' current operator codes and names: a gateway without signal readings in the period is counted
        // under its current operator, and an operator is named by the newest name given with its code.
        var current: [Int64: Int64] = [:]
        var names: [Int64: (name: String, time: Int64)] = [:]
        var currentName: [Int64: (name: String, time: Int64)] = [:]
        for row in try consoleRows(
            """
            SELECT d.gateway, p.name, l.value, l.raw_text, l.quality, l.time_ms
            FROM gateways g CROSS JOIN devices d ON d.gateway = g.id AND d.name = ?2
            CROSS JOIN points p ON p.device = d.id AND p.name IN (?3, ?4) CROSS JOIN point_latest l ON l.point = p.id
            WHERE g.site = ?1
            """,
            [
                .text(site), .text(BuiltinDevice.modemName), .text(BuiltinDevice.Modem.operatorCode),
                .text(BuiltinDevice.Modem.operatorName),
            ],
            { s in
                (
                    gateway: s.int64(0), point: s.text(1), value: s.optionalDouble(2), text: s.optionalText(3),
                    good: s.int64(4) == 0, time: s.int64(5)
                )
            })
        where row.good {
            if row.point == BuiltinDevice.Modem.operatorCode, let value = row.value.flatMap(StoredValue.wholeNumber) {
                current[row.gateway] = value
            }
            if row.point == BuiltinDevice.Modem.operatorName, let text = row.text, !text.isEmpty {
                currentName[row.gateway] = (text, row.time)
            }
        }
        for (gateway, code) in current {
            guard let name = currentName[gateway], names[code].map({ $0.time < name.time }) ?? true else { continue }
            names[code] = name
        }

        var telecom = SiteTelecom()
        var operators: [Int64: SiteTelecom.Operator] = [:]
        let hours = passedHour - fromHour
        for g in gateways {
            var row = rows[g.id]!
            row.uplink.hoursCounted = hours
            let mine = byOperator[g.id] ?? [:]
            for (code, measures) in mine {
                for (measure, distribution) in measures {
                    row.distributions[measure, default: .init()].add(distribution)
                    operators[code, default: .init(code: code)].distributions[measure, default: .init()].add(
                        distribution)
                    telecom.distributions[measure, default: .init()].add(distribution)
                }
            }
            // The main operator: most signal readings, the lower code on a tie.
            let main = mine.map { (code: $0.key, readings: $0.value.values.reduce(0) { $0 + $1.total }) }
                .max { ($0.readings, -$0.code) < ($1.readings, -$1.code) }?.code
            row.operatorCode = main ?? current[g.id]
            if let code = row.operatorCode {
                operators[code, default: .init(code: code)].gateways.append(g.name)
                operators[code, default: .init(code: code)].uplink.add(row.uplink)
            }
            telecom.uplink.add(row.uplink)
            telecom.gateways.append(row)
        }
        telecom.operators = operators.values.sorted { $0.code < $1.code }.map { op in
            var op = op
            op.name = names[op.code]?.name
            return op
        }
        return telecom
    }

    /// A period as the rows that cover it: day rows for its whole UTC days, hour rows for the rest (or hour rows only,
    /// for a period with no whole UTC day).
    static func parts(of range: Range<Int64>) -> [(width: Int64, from: Int64, to: Int64)] {
        let day = RollupRules.dayMilliseconds
        let hour = RollupRules.hourMilliseconds
        let firstDay = PlotSeries.ceilAlign(range.lowerBound, day)
        let lastDay = PlotSeries.floorAlign(range.upperBound, day)
        guard firstDay < lastDay else { return [(hour, range.lowerBound, range.upperBound)] }
        return [(day, firstDay, lastDay), (hour, range.lowerBound, firstDay), (hour, lastDay, range.upperBound)]
            .filter { $0.from < $0.to }
    }
}
