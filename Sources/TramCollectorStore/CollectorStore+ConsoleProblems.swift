import TramBuiltinPoints
import TramSchema

/// What needs attention now, for the console's problems page.
extension CollectorStore {
    /// Silent gateways, unsynchronised clocks, held-back readings, offline and degraded devices, and each bad point of
    /// a degraded device (an offline device is one problem, not one per point). Revoked gateways are left out. Ordered
    /// by site, gateway, then kind, device and point.
    public func problems(now: Int64) throws -> [ConsoleProblem] {
        let gateways = try consoleRows(
            """
            SELECT id, name, site, created_ms, last_seen_ms, batch_age_ms, clock, clock_since_ms
            FROM gateways WHERE revoked_ms IS NULL ORDER BY site, name
            """
        ) { s in
            (
                id: s.int64(0), name: s.text(1), site: s.text(2), created: s.int64(3), lastSeen: s.optionalInt64(4),
                batchAge: s.optionalInt64(5), clock: ClockState(flag: s.optionalInt64(6)),
                clockSince: s.optionalInt64(7)
            )
        }
        var held: [Int64: (count: Int64, since: Int64)] = [:]
        for row in try heldBack() { held[row.gateway] = (row.count, row.since) }

        struct BadPoint {
            var device: Int64
            var problem: ConsoleProblemText
        }
        var bad: [Int64: [BadPoint]] = [:]
        for row in try consoleRows(
            """
            SELECT d.gateway, d.id, p.name, l.quality, l.exception, l.quality_since_ms
            FROM point_latest l JOIN points p ON p.id = l.point JOIN devices d ON d.id = p.device
            WHERE l.quality != 0 AND NOT (d.name = ?1 AND l.quality IN (?2, ?3))
            """,
            // The modem's signal polling off (disabled) and values its modem does not give (not_available) are how
            // it is set up, not problems; absent and not_ready are.
            [
                .text(BuiltinDevice.modemName), .integer(Int64(WireQuality.disabled.code)),
                .integer(Int64(WireQuality.notAvailable.code)),
            ],
            { s in
                (gateway: s.int64(0), point: BadPoint(device: s.int64(1), problem: Self.problemText(s, nameColumn: 2)))
            })
        {
            bad[row.gateway, default: []].append(row.point)
        }
        for stale in try stalePoints(gatewayIDs: nil) {
            bad[stale.gateway, default: []].append(BadPoint(device: stale.device, problem: stale.problem))
        }
        var devicesByGateway: [Int64: [DeviceCount]] = [:]
        for row in try deviceCounts(gatewayIDs: nil) { devicesByGateway[row.gateway, default: []].append(row) }

        var problems: [ConsoleProblem] = []
        for g in gateways {
            func add(
                _ kind: ConsoleProblem.Kind, _ text: String, since: Int64, device: String? = nil, point: String? = nil
            ) {
                problems.append(
                    ConsoleProblem(
                        kind: kind, site: g.site, gateway: g.name, device: device, point: point, text: text,
                        sinceMilliseconds: since))
            }
            if ConsoleGateway.isSilent(lastSeen: g.lastSeen, batchAge: g.batchAge, now: now) {
                add(.silent, g.lastSeen == nil ? "never reported" : "no upload", since: g.lastSeen ?? g.created)
            }
            if g.clock == .unsynchronised {
                add(.clock, "clock not synchronised", since: g.clockSince ?? g.lastSeen ?? g.created)
            }
            if let h = held[g.id] {
                add(.heldBack, "\(h.count) readings held back by the relay", since: h.since)
            }
            let badPoints = bad[g.id] ?? []
            for device in devicesByGateway[g.id] ?? [] {
                let points = badPoints.filter { $0.device == device.device }.sorted {
                    $0.problem.point < $1.problem.point
                }
                // A built-in device is judged by the points it counts as problems (above); a Modbus device by all.
                let good =
                    BuiltinDevice.isBuiltin(device.name) ? device.points - points.count : device.good
                switch DeviceState(points: device.points, good: good) {
                case .online: continue
                case .offline:
                    // Offline since every point went bad: the latest of their quality runs' starts.
                    let since = points.map(\.problem.sinceMilliseconds).max() ?? device.last ?? g.created
                    let text = points.first.map { "offline: \($0.problem.text)" } ?? "no readings"
                    add(.offline, text, since: since, device: device.name)
                case .degraded:
                    let since = points.map(\.problem.sinceMilliseconds).min() ?? g.created
                    add(.degraded, "\(points.count) of \(device.points) points bad", since: since, device: device.name)
                    for p in points {
                        add(
                            .badQuality, p.problem.text, since: p.problem.sinceMilliseconds, device: device.name,
                            point: p.problem.point)
                    }
                }
            }
        }
        return problems
    }
}
