import TramBuiltinPoints
/// The console's reads (docs/console.md): the fleet, a gateway's devices, a device's points, a point's plot, the
/// problems and the sites. Every query reads the schema-2 summaries (point_latest, rollups, ingest_hours, relay_held);
/// only a plot whose range holds at most 2,000 readings reads `readings`, through its (point, time_ms) index.
/// A test runs EXPLAIN QUERY PLAN over each of them (ConsoleQueryPlanTests).
extension CollectorStore {
    /// Every gateway (of one site, or all), by site then name, with its state, device counts, clock, held-back
    /// readings, today's totals and `days` local days of bytes.
    public func fleet(site: String? = nil, calendar: LocalCalendar, now: Int64, days: Int = 31) throws
        -> [ConsoleGateway]
    {
        try fleet(site: site, gateway: nil, calendar: calendar, now: now, days: days)
    }

    func fleet(site: String?, gateway name: String?, calendar: LocalCalendar, now: Int64, days: Int) throws
        -> [ConsoleGateway]
    {
        var gateways = try consoleRows(
            """
            SELECT g.id, g.name, g.site, g.revoked_ms IS NOT NULL, g.created_ms, g.last_seen_ms, g.batch_age_ms,
              g.clock, g.clock_since_ms
            FROM gateways g WHERE (?1 IS NULL OR g.site = ?1) AND (?2 IS NULL OR g.name = ?2) ORDER BY g.site, g.name
            """, [site.map { .text($0) } ?? .null, name.map { .text($0) } ?? .null]
        ) { s in
            (
                id: s.int64(0),
                gateway: ConsoleGateway(
                    name: s.text(1), site: s.text(2), revoked: s.int64(3) != 0, createdMilliseconds: s.int64(4),
                    lastSeenMilliseconds: s.optionalInt64(5), batchAgeMilliseconds: s.optionalInt64(6),
                    clock: ClockState(flag: s.optionalInt64(7)), clockSinceMilliseconds: s.optionalInt64(8),
                    silent: ConsoleGateway.isSilent(
                        lastSeen: s.optionalInt64(5), batchAge: s.optionalInt64(6), now: now))
            )
        }
        var index: [Int64: Int] = [:]
        for (i, entry) in gateways.enumerated() { index[entry.id] = i }
        // All gateways: no list; a site's or one: their ids (the per-device and per-day reads skip the others).
        let ids: [Int64]? = site == nil && name == nil ? nil : gateways.map(\.id)

        for row in try deviceCounts(gatewayIDs: ids) {
            // The counts are the plant's devices; the built-in gateway and modem show as health and link instead (a
            // gateway without signal polling would otherwise count a "degraded device" that is no equipment at all).
            guard let i = index[row.gateway], !BuiltinDevice.isBuiltin(row.name) else { continue }
            switch DeviceState(points: row.points, good: row.good) {
            case .online: gateways[i].gateway.devicesOnline += 1
            case .degraded: gateways[i].gateway.devicesDegraded += 1
            case .offline: gateways[i].gateway.devicesOffline += 1
            }
        }
        for row in try heldBack() {
            guard let i = index[row.gateway] else { continue }
            gateways[i].gateway.heldBack = row.count
            gateways[i].gateway.heldSinceMilliseconds = row.since
        }
        for (gateway, link) in try links(gatewayIDs: ids) {
            guard let i = index[gateway] else { continue }
            gateways[i].gateway.link = link
        }
        let today = calendar.dayNumber(now)
        let firstDay = today - Int64(max(days, 1)) + 1
        for row in try dailyTotals(gatewayIDs: ids, calendar: calendar, firstDay: firstDay, lastDay: today) {
            guard let i = index[row.gateway] else { continue }
            gateways[i].gateway.dailyBytes.append(row.total)
        }
        return gateways.map { entry in
            var gateway = entry.gateway
            gateway.dailyBytes = Self.filledDays(gateway.dailyBytes, from: firstDay, through: today)
            gateway.readingsToday = gateway.dailyBytes.last?.readings ?? 0
            gateway.bytesToday = gateway.dailyBytes.last?.bytes ?? 0
            return gateway
        }
    }

    /// One gateway of the fleet, or nil when there is none by that name.
    public func consoleGateway(_ name: String, calendar: LocalCalendar, now: Int64, days: Int = 31) throws
        -> ConsoleGateway?
    {
        guard
            let id = try consoleFirst(
                "SELECT id, site FROM gateways WHERE name = ?", [.text(name)],
                { s in
                    (s.int64(0), s.text(1))
                })
        else { return nil }
        return try fleet(site: id.1, calendar: calendar, now: now, days: days).first { $0.name == name }
    }

    /// A gateway's devices, by name, with their state and their newest current problem.
    public func devices(gateway: String) throws -> [ConsoleDevice]? {
        guard let id = try consoleFirst("SELECT id FROM gateways WHERE name = ?", [.text(gateway)], { $0.int64(0) })
        else { return nil }
        var problems: [Int64: ConsoleProblemText] = [:]
        for row in try consoleRows(
            """
            SELECT p.device, p.name, l.quality, l.exception, l.quality_since_ms
            FROM devices d JOIN points p ON p.device = d.id JOIN point_latest l ON l.point = p.id
            WHERE d.gateway = ? AND l.quality != 0 ORDER BY l.quality_since_ms, p.name
            """, [.integer(id)], { s in (device: s.int64(0), problem: Self.problemText(s, nameColumn: 1)) })
        {
            problems[row.device] = row.problem
        }
        for stale in try stalePoints(gatewayIDs: [id]) where problems[stale.device] == nil {
            problems[stale.device] = stale.problem
        }
        return try deviceCounts(gatewayIDs: [id]).map { row in
            ConsoleDevice(
                name: row.name, state: DeviceState(points: row.points, good: row.good), points: row.points,
                goodPoints: row.good, lastReadingMilliseconds: row.last, problem: problems[row.device])
        }
    }

    /// A device's points, by name, with their latest readings; nil when the gateway or device does not exist.
    public func points(gateway: String, device: String) throws -> [ConsolePoint]? {
        guard
            let deviceID = try consoleFirst(
                "SELECT d.id FROM gateways g JOIN devices d ON d.gateway = g.id AND d.name = ?2 WHERE g.name = ?1",
                [.text(gateway), .text(device)], { $0.int64(0) })
        else { return nil }
        return try consoleRows(
            """
            SELECT p.id, p.name, p.unit, p.type, p.kind, p.interval_ms,
              l.time_ms, l.value, l.raw_int, l.raw_text, l.type, l.quality, l.exception, l.clock, l.quality_since_ms
            FROM points p LEFT JOIN point_latest l ON l.point = p.id WHERE p.device = ? ORDER BY p.name
            """, [.integer(deviceID)]
        ) { s in
            var latest: ConsolePoint.Latest?
            if let time = s.optionalInt64(6) {
                latest = .init(
                    timeMilliseconds: time, value: s.optionalDouble(7), rawInt: s.optionalInt64(8),
                    rawText: s.optionalText(9), type: UInt8(truncatingIfNeeded: s.int64(10)),
                    quality: ConsoleQuality(code: Int(s.int64(11))), exception: s.optionalInt64(12).map { Int($0) },
                    clockSynchronised: s.int64(13) & 1 != 0, qualitySinceMilliseconds: s.int64(14))
            }
            return ConsolePoint(
                id: s.int64(0), name: s.text(1), unit: s.text(2), type: UInt8(truncatingIfNeeded: s.int64(3)),
                counter: s.int64(4) == 1, intervalMilliseconds: s.optionalInt64(5), latest: latest)
        }
    }

    /// The sites and their gateway counts, by name ('' for gateways without a site).
    public func sites() throws -> [ConsoleSite] {
        try consoleRows("SELECT site, count(*) FROM gateways GROUP BY site ORDER BY site") {
            ConsoleSite(name: $0.text(0), gateways: Int($0.int64(1)))
        }
    }

    // MARK: Shared pieces

    struct DeviceCount {
        var gateway: Int64
        var device: Int64
        var name: String
        var points: Int
        var good: Int
        var last: Int64?
    }

    /// Points and good points per device (of these gateways, or of all), by device name.
    ///
    /// A point is good when its newest reading is good and not **stale**: the gateway has sent readings (of any
    /// point) newer than that reading's hold (``RollupRules/holdLimit(intervalMilliseconds:heartbeatMilliseconds:)``).
    /// So a point that reports by exception and is quiet for less than its heartbeat (plus a poll and a margin) is
    /// good, and one that missed its heartbeat is not. Judged against the gateway's own newest reading, not the
    /// collector's clock: batches arrive up to a batch age late, and a silent gateway is shown as silent instead.
    func deviceCounts(gatewayIDs: [Int64]?) throws -> [DeviceCount] {
        try consoleRows(
            """
            WITH horizon AS MATERIALIZED (
              SELECT d.gateway AS gateway, max(l.time_ms) AS t
              FROM devices d JOIN points p ON p.device = d.id JOIN point_latest l ON l.point = p.id
              WHERE ?1 IS NULL OR d.gateway IN (SELECT value FROM json_each(?1)) GROUP BY d.gateway)
            SELECT d.gateway, d.id, d.name, count(p.id),
              count(CASE WHEN l.quality = 0 AND l.time_ms + \(RollupRules.holdLimitSQL("p")) >= hz.t THEN 1 END),
              max(l.time_ms)
            FROM devices d JOIN points p ON p.device = d.id LEFT JOIN point_latest l ON l.point = p.id
            LEFT JOIN horizon hz ON hz.gateway = d.gateway
            WHERE ?1 IS NULL OR d.gateway IN (SELECT value FROM json_each(?1)) GROUP BY d.id ORDER BY d.gateway, d.name
            """, [Self.jsonList(gatewayIDs)]
        ) { s in
            DeviceCount(
                gateway: s.int64(0), device: s.int64(1), name: s.text(2), points: Int(s.int64(3)),
                good: Int(s.int64(4)), last: s.optionalInt64(5))
        }
    }

    /// What the relays hold back, per gateway.
    func heldBack() throws -> [(gateway: Int64, count: Int64, since: Int64)] {
        try consoleRows(
            """
            SELECT gateway, sum(unsynchronised + synchronised), min(first_ms) FROM relay_held
            GROUP BY gateway HAVING sum(unsynchronised + synchronised) > 0
            """
        ) { s in (s.int64(0), s.int64(1), s.int64(2)) }
    }

    /// Ingest tallies per gateway and local day, for days firstDay…lastDay (days with nothing left out).
    ///
    /// Each local day is a range of UTC hours, given as a JSON array; a correlated search of ingest_hours' primary key
    /// per gateway and day sums it, with no sort (200 gateways × 31 days: 50–100 ms on the loaded 2-core machine,
    /// against 130–400 ms for a GROUP BY over the same 149,000 rows). Unordered: callers key the rows by day.
    func dailyTotals(gatewayIDs: [Int64]?, calendar: LocalCalendar, firstDay: Int64, lastDay: Int64) throws
        -> [(gateway: Int64, total: LocalDayTotal)]
    {
        let days = (firstDay...lastDay).map { day in
            let from = LocalCalendar.floorDivide(calendar.start(ofDay: day), 3_600_000)
            let to = LocalCalendar.floorDivide(calendar.start(ofDay: day + 1), 3_600_000)
            return "[\(day),\(from),\(to)]"
        }
        func sum(_ column: String) -> String {
            "(SELECT sum(h.\(column)) FROM ingest_hours h WHERE h.gateway = g.id AND h.hour >= days.lo AND h.hour < days.hi)"
        }
        return try consoleRows(
            """
            WITH days AS MATERIALIZED (SELECT json_extract(value, '$[0]') AS day, json_extract(value, '$[1]') AS lo,
              json_extract(value, '$[2]') AS hi FROM json_each(?2))
            SELECT g.id, days.day, \(sum("bytes")), \(sum("readings"))
            FROM gateways g CROSS JOIN days WHERE ?1 IS NULL OR g.id IN (SELECT value FROM json_each(?1))
            """, [Self.jsonList(gatewayIDs), .text("[" + days.joined(separator: ",") + "]")]
        ) { s in
            (s.int64(0), LocalDayTotal(day: s.int64(1), bytes: s.int64(2), readings: s.int64(3)))
        }.filter { $0.total.bytes != 0 || $0.total.readings != 0 }
    }

    /// A list of row ids as a JSON array for `json_each` (NULL: no list).
    static func jsonList(_ ids: [Int64]?) -> SQLiteStatement.Value {
        ids.map { .text("[" + $0.map(String.init).joined(separator: ",") + "]") } ?? .null
    }

    static func filledDays(_ days: [LocalDayTotal], from first: Int64, through last: Int64) -> [LocalDayTotal] {
        var byDay: [Int64: LocalDayTotal] = [:]
        for day in days { byDay[day.day] = day }
        return (first...last).map { byDay[$0] ?? LocalDayTotal(day: $0, bytes: 0, readings: 0) }
    }

    /// quality, exception, quality_since_ms at `nameColumn + 1…3`, the point's name at `nameColumn`.
    static func problemText(_ s: SQLiteStatement, nameColumn: Int32) -> ConsoleProblemText {
        let quality = ConsoleQuality(code: Int(s.int64(nameColumn + 1)))
        let exception = s.optionalInt64(nameColumn + 2).map { Int($0) }
        return ConsoleProblemText(
            point: s.text(nameColumn), quality: quality, text: quality.text(exception: exception),
            sinceMilliseconds: s.int64(nameColumn + 3))
    }
}
