import TramCollectorStore

/// `GET /report?site=SITE&period=YYYY-MM|YYYY`: a printable page per site, with the CSV beside it.
enum ReportPage {
    static func render(
        _ report: SiteReport?, sites: [ConsoleSite], site: String?, period: String, error: String?,
        _ formatting: Formatting, now: Int64
    ) -> String {
        let options = sites.map { s in
            "<option value=\"\(HTML.escape(s.name))\"\(s.name == site ? " selected" : "")>"
                + "\(HTML.escape(FleetPage.siteLabel(s.name)))</option>"
        }.joined()
        var content = error.map { "<p class=\"error\" id=\"report-error\">\(HTML.escape($0))</p>" } ?? ""
        if let report { content += table(report, formatting, now: now) }
        let body = """
            <h1>Report</h1>
            <form class="filter report-form" method="get" action="/report">
            <label for="report-site">Site</label><select name="site" id="report-site">\(options)</select>
            <label for="report-period">Month or year</label>
            <input name="period" id="report-period" value="\(HTML.escape(period))" pattern="[0-9]{4}(-[0-9]{2})?" \
            placeholder="YYYY-MM or YYYY" required>
            <button type="submit">Show</button></form>
            \(content)
            """
        return Page(title: "Report", body: body, active: .report).render(formatting, now: now)
    }

    static func table(_ r: SiteReport, _ formatting: Formatting, now: Int64) -> String {
        let csv = "/report.csv?site=\(HTML.queryValue(r.site))&period=\(HTML.queryValue(r.period.description))"
        var rows = ""
        for g in r.gateways {
            rows +=
                "<tr class=\"gateway\" data-gateway=\"\(HTML.escape(g.name))\" data-points=\"\(g.points)\" "
                + "data-readings=\"\(g.readings)\" data-bytes=\"\(g.bytes)\" data-days=\"\(g.daysWithData)\">"
                + cell(
                    "Gateway", "<a href=\"\(HTML.escape(FleetPage.gatewayPath(g.name)))\">\(HTML.escape(g.name))</a>",
                    class: "name")
                + cell(
                    "Device", "<span class=\"muted\">\(g.devices.count) device\(g.devices.count == 1 ? "" : "s")</span>"
                )
                + numbers(
                    points: g.points, readings: g.readings, bytes: Formatting.bytes(g.bytes),
                    availability: g.availability, days: g.daysWithData)
                + "</tr>\n"
            for d in g.devices {
                rows +=
                    "<tr class=\"device\" data-gateway=\"\(HTML.escape(g.name))\" data-device=\"\(HTML.escape(d.name))\" "
                    + "data-points=\"\(d.points)\" data-readings=\"\(d.readings)\" data-days=\"\(d.daysWithData)\" "
                    + "data-availability=\"\(ReportCSV.percent(d.availability))\">"
                    + cell("Gateway", "", class: "name")
                    + cell("Device", HTML.escape(d.name), class: "device")
                    + numbers(
                        points: d.points, readings: d.readings, bytes: "", availability: d.availability,
                        days: d.daysWithData)
                    + "</tr>\n"
            }
        }
        rows +=
            "<tr class=\"total\" data-points=\"\(r.points)\" data-readings=\"\(r.readings)\" data-bytes=\"\(r.bytes)\" "
            + "data-days=\"\(r.daysWithData)\">"
            + cell("Gateway", "<strong>Total</strong>", class: "name")
            + cell("Device", "\(r.gateways.count) gateways, \(r.devices) devices")
            + numbers(
                points: r.points, readings: r.readings, bytes: Formatting.bytes(r.bytes), availability: r.availability,
                days: r.daysWithData)
            + "</tr>"
        let last = max(r.from, r.to - 1)
        return """
            <section class="report" data-site="\(HTML.escape(r.site))" data-period="\(r.period)">
            <h2>\(HTML.escape(FleetPage.siteLabel(r.site))), \(r.period)</h2>
            <p>Local period \(formatting.dateTime(r.from, seconds: false)) to \(formatting.dateTime(last, seconds: false)) in \
            <strong>\(HTML.escape(r.timeZone))</strong>. Availability is the time with good readings over the time in the \
            period up to now (\(Formatting.duration(r.countedMilliseconds))); readings are counted by their time, \
            bytes (stored request bodies) by when they arrived.</p>
            <p class="actions"><a class="csv" href="\(HTML.escape(csv))" download>Download CSV</a></p>
            <table id="report" class="stack" data-time-zone="\(HTML.escape(r.timeZone))" data-from="\(r.from)" data-to="\(r.to)">
            <thead><tr><th scope="col">Gateway</th><th scope="col">Device</th><th scope="col">Points</th>\
            <th scope="col">Readings</th><th scope="col">Bytes</th><th scope="col">Availability</th>\
            <th scope="col">Days with data</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            </section>
            \(TelecomSection.render(r.telecom, site: r.site, formatting))
            """
    }

    static func numbers(points: Int, readings: Int64, bytes: String, availability: Double, days: Int) -> String {
        cell("Points", "\(points)", class: "num")
            + cell("Readings", Formatting.count(readings), class: "num")
            + cell("Bytes", bytes, class: "num")
            + cell("Availability", Formatting.percent(availability), class: "num")
            + cell("Days with data", "\(days)", class: "num")
    }
}
