import TramBuiltinPoints
import TramCollectorStore

/// `GET /gateways/{gateway}`: the gateway's summary, its devices with state and current problem, its data use by day.
enum GatewayPage {
    static func devicePath(_ gateway: String, _ device: String) -> String {
        "/gateways/\(HTML.pathSegment(gateway))/devices/\(HTML.pathSegment(device))"
    }

    /// The built-in `gateway` device's points now, and plots of its backlog, drops and sink failures.
    struct Health {
        var points: [ConsolePoint]
        var plots: [DevicePage.Plot]
        var range: PlotRange
    }

    /// The gateway device's points plotted on its page: the spool's backlog and oldest age, each drop counter (as a
    /// rate) and each sink's consecutive failures.
    static func plotted(_ name: String) -> Bool {
        name == BuiltinDevice.Gateway.spoolBacklog || name == BuiltinDevice.Gateway.spoolOldestAge
            || BuiltinDevice.isDroppedPoint(name) || BuiltinDevice.isSinkFailuresPoint(name)
    }

    /// The points shown as the agent's state now, with their labels.
    static let current: [(point: String, label: String)] = [
        (BuiltinDevice.Gateway.agentVersion, "Agent version"), (BuiltinDevice.Gateway.uptime, "Uptime"),
        (BuiltinDevice.Gateway.cpuUsage, "CPU"), (BuiltinDevice.Gateway.memoryRSS, "Memory (RSS)"),
        (BuiltinDevice.Gateway.spoolBacklog, "Spool backlog"), (BuiltinDevice.Gateway.spoolFill, "Spool fill"),
    ]

    static func render(
        _ gateway: ConsoleGateway, devices: [ConsoleDevice], health: Health? = nil, _ formatting: Formatting,
        now: Int64
    ) -> String {
        let state = gateway.silent ? "silent" : "reporting"
        // The table is the plant's devices; the built-in gateway and modem are its health and link, linked below it.
        let builtins = devices.filter { BuiltinDevice.isBuiltin($0.name) }
        let builtinLinks = builtins.map { d in
            "<a href=\"\(HTML.escape(devicePath(gateway.name, d.name)))\" data-device=\"\(HTML.escape(d.name))\" "
                + "data-state=\"\(d.state.rawValue)\">\(HTML.escape(d.name))</a> (\(d.goodPoints) of \(d.points) points good)"
        }.joined(separator: ", ")
        let rows = devices.filter { !BuiltinDevice.isBuiltin($0.name) }.map { d in
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
            <dt>Link</dt><dd class="link"\(LinkCell.attributes(gateway.link))>\(LinkCell.content(gateway.link, formatting, now: now))</dd>
            </dl>
            \(health.map { healthSection($0, gateway: gateway.name, formatting, now: now) } ?? "")
            <h2>Devices</h2>
            <table id="devices" class="stack">
            <thead><tr><th scope="col">Device</th><th scope="col">State</th><th scope="col">Good points</th>\
            <th scope="col">Problem</th><th scope="col">Newest reading</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            \(builtins.isEmpty ? "" : "<p id=\"builtin-devices\">The gateway's own devices, every point: \(builtinLinks).</p>")
            <h2>Data use by day</h2>
            <figure class="daily-use">\(bars)<figcaption>Stored request bodies per local day, the last \
            \(gateway.dailyBytes.count) days (less than the link carried: headers, TLS and retries are not in it).\
            </figcaption></figure>
            <ul class="days">\(days)</ul>
            """
        return Page(title: "Gateway \(gateway.name)", body: body, active: .fleet).render(formatting, now: now)
    }

    static func healthSection(_ health: Health, gateway: String, _ formatting: Formatting, now: Int64) -> String {
        let byName = Dictionary(health.points.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let items = current.map { entry -> String in
            let point = byName[entry.point]
            let latest = point?.latest
            var text = "—"
            if let latest {
                if latest.quality == .good, let shown = latest.text {
                    text = HTML.escape(healthText(entry.point, shown, value: latest.value))
                } else {
                    text =
                        "<span class=\"warn\">\(HTML.escape(latest.quality.text(exception: latest.exception)))</span>"
                }
                text += " <span class=\"age\">\(Formatting.age(now - latest.timeMilliseconds))</span>"
            }
            return
                "<dt>\(entry.label)</dt><dd data-point=\"\(entry.point)\" data-value=\"\(HTML.escape(latest?.text ?? ""))\">"
                + "\(text)</dd>"
        }.joined()
        // A drop counter that did not move in the range is named, not drawn.
        let quiet = health.plots.filter { plot in
            BuiltinDevice.isDroppedPoint(plot.point.name) && !plot.series.buckets.contains { ($0.maximum ?? 0) > 0 }
        }
        let drawn = health.plots.filter { plot in !quiet.contains { $0.point.id == plot.point.id } }
        let base = FleetPage.gatewayPath(gateway)
        let presets = PlotRange.presets.map { preset in
            "<a href=\"\(HTML.escape(base + "?range=" + preset.name))\""
                + (health.range.preset == preset.name ? " aria-current=\"true\"" : "") + ">\(preset.name)</a>"
        }.joined()
        let quietNote =
            quiet.isEmpty
            ? ""
            : "<p class=\"note\" id=\"no-drops\">No readings dropped in this range: "
                + quiet.map { HTML.escape($0.point.name) }.joined(separator: ", ") + ".</p>"
        return """
            <h2>Health</h2>
            <dl class="summary health" id="health">\(items)</dl>
            <div class="ranges"><span>Last</span> \(presets)</div>
            <p class="note">Spool backlog and oldest age, readings dropped (per second) and each sink's consecutive \
            failures, from the agent's built-in <code>gateway</code> device, \
            \(formatting.dateTime(health.range.from, seconds: false)) to \(formatting.dateTime(health.range.to, seconds: false)).</p>
            \(quietNote)
            <div class="plots" id="health-plots">
            \(drawn.map { DevicePage.figure($0, formatting, rate: $0.series.rate) }.joined(separator: "\n"))
            </div>
            """
    }

    /// A health value for people: uptime as a duration, CPU and spool fill in %, memory in bytes.
    static func healthText(_ point: String, _ text: String, value: Double?) -> String {
        guard let value, let whole = StoredValue.clamped(value) else { return text }
        switch point {
        case BuiltinDevice.Gateway.uptime: return Formatting.duration(StoredValue.clamped(value * 1000) ?? whole)
        case BuiltinDevice.Gateway.cpuUsage, BuiltinDevice.Gateway.spoolFill:
            return "\(Formatting.fixed(value, places: 1)) %"
        case BuiltinDevice.Gateway.memoryRSS: return Formatting.bytes(whole)
        case BuiltinDevice.Gateway.spoolBacklog: return Formatting.count(whole)
        default: return DevicePage.shown(text)
        }
    }
}
