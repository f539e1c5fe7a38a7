import TramCollectorStore
import TramJSON

/// The live routes' answers, read by console.js (texts already formatted; the script writes them with textContent).
enum LiveJSON {
    static func points(_ points: [ConsolePoint], now: Int64) -> JSON {
        .object([
            ("now_ms", .int(now)),
            (
                "points",
                .array(
                    points.map { p in
                        .object([
                            ("point", .string(p.name)),
                            ("value", p.latest?.text.map { .string($0) } ?? .null),
                            ("unit", .string(p.unit)),
                            ("quality", .string(p.latest?.quality.slug ?? "none")),
                            (
                                "quality_text",
                                .string(p.latest.map { $0.quality.text(exception: $0.exception) } ?? "no reading")
                            ),
                            ("time_ms", .int(p.latest?.timeMilliseconds ?? 0)),
                            ("age", .string(p.latest.map { Formatting.age(now - $0.timeMilliseconds) } ?? "")),
                        ])
                    })
            ),
        ])
    }

    static func fleet(_ gateways: [ConsoleGateway], _ formatting: Formatting, now: Int64) -> JSON {
        .object([
            ("now_ms", .int(now)),
            (
                "gateways",
                .array(
                    gateways.map { g in
                        .object([
                            ("gateway", .string(g.name)),
                            ("state", .string(g.silent ? "silent" : "reporting")),
                            ("online", .int(Int64(g.devicesOnline))),
                            ("degraded", .int(Int64(g.devicesDegraded))),
                            ("offline", .int(Int64(g.devicesOffline))),
                            ("clock", .string(g.clock.rawValue)),
                            ("held", .int(g.heldBack)),
                            ("held_text", .string(Formatting.count(g.heldBack))),
                            ("readings-today", .int(g.readingsToday)),
                            ("readings_today_text", .string(Formatting.count(g.readingsToday))),
                            ("bytes-today", .int(g.bytesToday)),
                            ("bytes_today_text", .string(Formatting.bytes(g.bytesToday))),
                            (
                                "last_seen",
                                .string(
                                    g.lastSeenMilliseconds.map {
                                        "\(formatting.dateTime($0)) \(Formatting.age(now - $0))"
                                    } ?? "never")
                            ),
                        ])
                    })
            ),
        ])
    }
}
