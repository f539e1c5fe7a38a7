/// Stale points: good newest readings whose hold ran out while their gateway went on sending (see
/// ``CollectorStore/deviceCounts(gatewayIDs:)``, which counts them as not good).
extension CollectorStore {
    struct StalePoint {
        var gateway: Int64
        var device: Int64
        var problem: ConsoleProblemText
    }

    /// The stale points of these gateways (or of all): each with since when (its newest reading's time + its hold
    /// limit) and the text a person reads: a point that reports by exception "missed its heartbeat".
    func stalePoints(gatewayIDs: [Int64]?) throws -> [StalePoint] {
        try consoleRows(
            """
            WITH horizon AS MATERIALIZED (
              SELECT d.gateway AS gateway, max(l.time_ms) AS t
              FROM devices d JOIN points p ON p.device = d.id JOIN point_latest l ON l.point = p.id
              WHERE ?1 IS NULL OR d.gateway IN (SELECT value FROM json_each(?1)) GROUP BY d.gateway)
            SELECT d.gateway, d.id, p.name, l.time_ms + \(RollupRules.holdLimitSQL("p")), p.heartbeat_ms IS NOT NULL
            FROM horizon hz JOIN devices d ON d.gateway = hz.gateway JOIN points p ON p.device = d.id
            JOIN point_latest l ON l.point = p.id
            WHERE l.quality = 0 AND l.time_ms + \(RollupRules.holdLimitSQL("p")) < hz.t
            ORDER BY d.gateway, d.id, p.name
            """, [Self.jsonList(gatewayIDs)]
        ) { s in
            StalePoint(
                gateway: s.int64(0), device: s.int64(1),
                problem: ConsoleProblemText(
                    point: s.text(2), quality: .good,
                    text: s.int64(4) != 0 ? "stale: missed its heartbeat" : "stale: no reading",
                    sinceMilliseconds: s.int64(3)))
        }
    }
}
