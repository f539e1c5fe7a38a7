import TramCollectorStore

/// `GET /gateways/{gateway}`: the gateway's summary, its devices with state and current problem, its data use by day.
enum GatewayPage {
    static func devicePath(_ gateway: String, _ device: String) -> String {
        "/gateways/\(HTML.pathSegment(gateway))/devices/\(HTML.pathSegment(device))"
    }

    static func render(
        _ gateway: ConsoleGateway, devices: [ConsoleDevice], _ formatting: Formatting, now: Int64
    ) -> String {
        let state = gateway.silent ? "silent" : "reporting"
        let rows = devices.map { d in
            let problem =
                d.problem.map {
                    "\(HTML.escape($0.text)) <span class=\"muted\">on \(HTML.escape($0.point)) since "
                        + "\(timeElement($0.sinceMilliseconds, formatting))</span>"
                } ?? ""
            let last =
                d.lastReadingMilliseconds.map {
                    "\(timeElement($0, formatting)) <span class=\"age\">\(Formatting.age(now - $0))</span>"
                } ?? "never"
            return "<tr class=\"device\" data-device=\"\(HTML.escape(d.name))\" data-state=\"\(d.state.rawValue)\">"
                + cell(
                    "Device",
                    "<a href=\"\(HTML.escape(devicePath(gateway.name, d.name)))\">\(HTML.escape(d.name))</a>",
                    class: "name")
                + cell(
                    "State", "<span class=\"state state-\(d.state.rawValue)\">\(d.state.rawValue)</span>",
                    class: "state")
                + cell("Good points", "\(d.goodPoints) of \(d.points)", class: "points")
                + cell("Problem", problem, class: "problem")
                + cell("Newest reading", last, class: "last-reading")
                + "</tr>"
        }.joined(separator: "\n")
        let lastSeen =
            gateway.lastSeenMilliseconds.map {
                "\(timeElement($0, formatting)) (\(Formatting.age(now - $0)))"
            } ?? "never"
        let held =
            gateway.heldBack > 0
            ? "\(Formatting.count(gateway.heldBack)) readings"
                + (gateway.heldSinceMilliseconds.map { " since \(timeElement($0, formatting))" } ?? "")
            : "none"
        let bars = DailyBarsSVG(days: gateway.dailyBytes, formatting: formatting).render(
            label: "Stored request bodies per day, last \(gateway.dailyBytes.count) days")
        let days = gateway.dailyBytes.reversed().prefix(7).map {
            "<li>\(formatting.day($0.day)): \(Formatting.bytes($0.bytes)), \(Formatting.count($0.readings)) readings</li>"
        }.joined()
        let body = """
            <p class="crumbs"><a href="/">Fleet</a> › <a href="/?site=\(HTML.escape(HTML.queryValue(gateway.site)))">\
            \(HTML.escape(FleetPage.siteLabel(gateway.site)))</a></p>
            <h1>Gateway <span class="name">\(HTML.escape(gateway.name))</span></h1>
            <dl class="summary" data-gateway="\(HTML.escape(gateway.name))" data-state="\(state)">
            <dt>State</dt><dd><span class="state state-\(state)">\(state)</span></dd>
            <dt>Last seen</dt><dd>\(lastSeen)</dd>
            <dt>Clock</dt><dd data-clock="\(gateway.clock.rawValue)">\(FleetPage.clockText(gateway.clock))</dd>
            <dt>Held back</dt><dd data-held="\(gateway.heldBack)">\(held)</dd>
            <dt>Today</dt><dd>\(Formatting.count(gateway.readingsToday)) readings, \(Formatting.bytes(gateway.bytesToday))</dd>
            </dl>
            <h2>Devices</h2>
            <table id="devices" class="stack">
            <thead><tr><th scope="col">Device</th><th scope="col">State</th><th scope="col">Good points</th>\
            <th scope="col">Problem</th><th scope="col">Newest reading</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            <h2>Data use by day</h2>
            <figure class="daily-use">\(bars)<figcaption>Stored request bodies per local day, the last \
            \(gateway.dailyBytes.count) days (less than the link carried: headers, TLS and retries are not in it).\
            </figcaption></figure>
            <ul class="days">\(days)</ul>
            """
        return Page(title: "Gateway \(gateway.name)", body: body, active: .fleet).render(formatting, now: now)
    }
}
