import TramCollectorStore

/// `GET /problems`: what needs attention now, each with since when and a link to its page; reloads every 5 s.
enum ProblemsPage {
    static func render(_ problems: [ConsoleProblem], _ formatting: Formatting, now: Int64) -> String {
        let rows = problems.map { p in
            let href = p.device.map { GatewayPage.devicePath(p.gateway, $0) } ?? FleetPage.gatewayPath(p.gateway)
            var place = HTML.escape(p.gateway)
            if let device = p.device { place += " › " + HTML.escape(device) }
            if let point = p.point { place += " › " + HTML.escape(point) }
            return "<tr class=\"problem\" data-kind=\"\(p.kind.rawValue)\" data-gateway=\"\(HTML.escape(p.gateway))\" "
                + "data-device=\"\(HTML.escape(p.device ?? ""))\" data-point=\"\(HTML.escape(p.point ?? ""))\" "
                + "data-since-ms=\"\(p.sinceMilliseconds)\">"
                + cell(
                    "Problem", "<span class=\"kind kind-\(p.kind.rawValue)\">\(p.kind.rawValue)</span>", class: "kind")
                + cell("Where", "<a href=\"\(HTML.escape(href))\">\(place)</a>", class: "where")
                + cell("Site", HTML.escape(FleetPage.siteLabel(p.site)), class: "site")
                + cell("What", HTML.escape(p.text), class: "text")
                + cell(
                    "Since",
                    "\(timeElement(p.sinceMilliseconds, formatting)) <span class=\"age\">"
                        + "(\(Formatting.age(now - p.sinceMilliseconds)))</span>", class: "since")
                + "</tr>"
        }.joined(separator: "\n")
        let summary =
            problems.isEmpty
            ? "<p id=\"no-problems\" class=\"empty\">Nothing needs attention.</p>"
            : "<p class=\"count\">\(problems.count) problem\(problems.count == 1 ? "" : "s")</p>"
        let body = """
            <h1>Problems</h1>
            \(summary)
            <table id="problems" class="stack">
            <thead><tr><th scope="col">Problem</th><th scope="col">Where</th><th scope="col">Site</th>\
            <th scope="col">What</th><th scope="col">Since</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            <p class="note">This page reloads itself every 5 s.</p>
            """
        return Page(title: "Problems", body: body, refreshes: true, active: .problems).render(formatting, now: now)
    }
}
