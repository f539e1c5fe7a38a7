import TramCollectorStore

/// `GET /`: every gateway, grouped by site (one `tbody.site` each), with a site filter.
enum FleetPage {
    static func gatewayPath(_ name: String) -> String { "/gateways/\(HTML.pathSegment(name))" }

    static func render(
        _ gateways: [ConsoleGateway], sites: [ConsoleSite], site: String?, _ formatting: Formatting, now: Int64
    ) -> String {
        let options =
            "<option value=\"\"\(site == nil ? " selected" : "")>All sites</option>"
            + sites.map { s in
                "<option value=\"\(HTML.escape(s.name))\"\(s.name == site ? " selected" : "")>"
                    + "\(HTML.escape(siteLabel(s.name))) (\(s.gateways))</option>"
            }.joined()
        var groups: [(String, [ConsoleGateway])] = []
        for gateway in gateways {
            if groups.last?.0 == gateway.site {
                groups[groups.count - 1].1.append(gateway)
            } else {
                groups.append((gateway.site, [gateway]))
            }
        }
        let live = "/live/fleet" + (site.map { "?site=\(HTML.queryValue($0))" } ?? "")
        let bodies = groups.map { name, members in
            "<tbody class=\"site\" data-site=\"\(HTML.escape(name))\">"
                + "<tr class=\"site-heading\"><th colspan=\"10\" scope=\"rowgroup\">\(HTML.escape(siteLabel(name)))"
                + " <span class=\"muted\">(\(members.count) gateway\(members.count == 1 ? "" : "s"))</span></th></tr>"
                + members.map { row($0, formatting, now: now) }.joined() + "</tbody>"
        }.joined(separator: "\n")
        let empty =
            gateways.isEmpty
            ? "<p class=\"empty\">No gateways yet: <code>tram-collector gateway add NAME --site SITE</code> enrolls one.</p>"
            : ""
        let body = """
            <h1>Fleet</h1>
            <form class="filter" method="get" action="/"><label for="site">Site</label>
            <select name="site" id="site">\(options)</select><button type="submit">Show</button></form>
            \(empty)
            <table id="fleet" class="stack" data-live="\(HTML.escape(live))">
            <thead><tr><th scope="col">Gateway</th><th scope="col">State</th><th scope="col">Devices</th>\
            <th scope="col">Last seen</th><th scope="col">Link</th><th scope="col">Clock</th><th scope="col">Held back</th>\
            <th scope="col">Readings today</th><th scope="col">Bytes today</th>\
            <th scope="col">Stored request bodies, 31 days</th></tr></thead>
            \(bodies)
            </table>
            <p class="note">Bytes are the stored request bodies: less than the link carried (headers, TLS, retries). \
            The link is the modem's newest readings (NR values on 5G when they are good, else LTE), each coloured by its \
            band: \(LinkCell.bandsNote).</p>
            """
        return Page(title: "Fleet", body: body, active: .fleet).render(formatting, now: now)
    }

    static func siteLabel(_ site: String) -> String { site.isEmpty ? "No site" : site }

    static func row(_ g: ConsoleGateway, _ formatting: Formatting, now: Int64) -> String {
        let state = g.silent ? "silent" : "reporting"
        let lastSeen =
            g.lastSeenMilliseconds.map {
                "\(timeElement($0, formatting)) <span class=\"age\">\(Formatting.age(now - $0))</span>"
            } ?? "never"
        let bars = DailyBarsSVG(days: g.dailyBytes, formatting: formatting).render(
            label: "Stored request bodies per day, last \(g.dailyBytes.count) days, \(g.name)")
        return "<tr class=\"gateway\" data-gateway=\"\(HTML.escape(g.name))\" data-site=\"\(HTML.escape(g.site))\" "
            + "data-state=\"\(state)\" data-online=\"\(g.devicesOnline)\" data-degraded=\"\(g.devicesDegraded)\" "
            + "data-offline=\"\(g.devicesOffline)\" data-clock=\"\(g.clock.rawValue)\" data-held=\"\(g.heldBack)\" "
            + "data-readings-today=\"\(g.readingsToday)\" data-bytes-today=\"\(g.bytesToday)\""
            + (g.revoked ? " data-revoked=\"true\"" : "") + ">"
            + cell(
                "Gateway",
                "<a href=\"\(HTML.escape(gatewayPath(g.name)))\">\(HTML.escape(g.name))</a>"
                    + (g.revoked ? " <span class=\"badge\">revoked</span>" : ""), class: "name")
            + cell("State", "<span class=\"state state-\(state)\">\(state)</span>", class: "state")
            + cell("Devices", devicesText(g), class: "devices")
            + cell("Last seen", lastSeen, class: "last-seen")
            + cell(
                "Link", LinkCell.content(g.link, formatting, now: now), class: "link",
                attributes: LinkCell.attributes(g.link))
            + cell("Clock", clockText(g.clock), class: "clock", attributes: " data-clock=\"\(g.clock.rawValue)\"")
            + cell("Held back", Formatting.count(g.heldBack), class: "held", attributes: " data-held=\"\(g.heldBack)\"")
            + cell(
                "Readings today", Formatting.count(g.readingsToday), class: "readings-today",
                attributes: " data-readings-today=\"\(g.readingsToday)\"")
            + cell(
                "Bytes today", Formatting.bytes(g.bytesToday), class: "bytes-today",
                attributes: " data-bytes-today=\"\(g.bytesToday)\"")
            + cell("Stored request bodies, 31 days", bars, class: "daily")
            + "</tr>\n"
    }

    static func devicesText(_ g: ConsoleGateway) -> String {
        "<span class=\"online\">\(g.devicesOnline) online</span> · "
            + "<span class=\"degraded\">\(g.devicesDegraded) degraded</span> · "
            + "<span class=\"offline\">\(g.devicesOffline) offline</span>"
    }

    static func clockText(_ clock: ClockState) -> String {
        switch clock {
        case .synchronised: "synchronised"
        case .unsynchronised: "<span class=\"warn\">not synchronised</span>"
        case .unknown: "unknown"
        }
    }
}
