import TramCollectorStore

/// `GET /gateways/{gateway}/devices/{device}`: every point with its latest value, unit, quality and age (refreshed
/// every 5 s by console.js from the live route), and a plot per point for the chosen range.
enum DevicePage {
    struct Plot {
        var point: ConsolePoint
        var series: PlotSeries
    }

    static func livePath(_ gateway: String, _ device: String) -> String {
        "/live/gateways/\(HTML.pathSegment(gateway))/devices/\(HTML.pathSegment(device))"
    }

    static func render(
        gateway: String, device: String, points: [ConsolePoint], plots: [Plot], range: PlotRange, rate: Bool,
        _ formatting: Formatting, now: Int64
    ) -> String {
        let rows = points.map { row($0, formatting, now: now) }.joined(separator: "\n")
        let base = GatewayPage.devicePath(gateway, device)
        let hasCounter = points.contains { $0.counter }
        let rateQuery = rate ? "&rate=1" : ""
        let presets = PlotRange.presets.map { preset in
            "<a href=\"\(HTML.escape(base + "?range=" + preset.name + rateQuery))\""
                + (range.preset == preset.name ? " aria-current=\"true\"" : "") + ">\(preset.name)</a>"
        }.joined()
        let rateBox =
            hasCounter
            ? "<label class=\"rate\"><input type=\"checkbox\" name=\"rate\" value=\"1\"\(rate ? " checked" : "")> counters as a rate</label>"
            : ""
        let figures = plots.map { figure($0, formatting, rate: rate) }.joined(separator: "\n")
        let body = """
            <p class="crumbs"><a href="/">Fleet</a> › <a href="\(HTML.escape(FleetPage.gatewayPath(gateway)))">\
            \(HTML.escape(gateway))</a></p>
            <h1>Device <span class="name">\(HTML.escape(device))</span></h1>
            <table id="points" class="stack" data-live="\(HTML.escape(livePath(gateway, device)))">
            <thead><tr><th scope="col">Point</th><th scope="col">Value</th><th scope="col">Unit</th>\
            <th scope="col">Quality</th><th scope="col">Age</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            <p class="live-status" id="live-status" aria-live="polite"></p>
            <h2>Plots</h2>
            <div class="ranges"><span>Last</span> \(presets)</div>
            <form class="range" method="get" action="\(HTML.escape(base))">
            <label>From <input type="datetime-local" name="from" value="\(formatting.dateTimeLocal(range.from))"></label>
            <label>To <input type="datetime-local" name="to" value="\(formatting.dateTimeLocal(range.to))"></label>
            \(rateBox)<button type="submit">Plot</button></form>
            <p class="note">\(formatting.dateTime(range.from, seconds: false)) to \(formatting.dateTime(range.to, seconds: false)) \
            (\(HTML.escape(formatting.zoneName))). The band is each bucket's minimum to maximum, the line its mean; \
            a gap is a time without readings.</p>
            <div class="plots">
            \(figures)
            </div>
            """
        return Page(title: "\(device) on \(gateway)", body: body, active: .fleet).render(formatting, now: now)
    }

    static func row(_ p: ConsolePoint, _ formatting: Formatting, now: Int64) -> String {
        let value = p.latest?.text
        let quality = p.latest?.quality.slug ?? "none"
        let qualityText = p.latest.map { $0.quality.text(exception: $0.exception) } ?? "no reading"
        let age =
            p.latest.map {
                "<span class=\"age\">\(Formatting.age(now - $0.timeMilliseconds))</span> \(timeElement($0.timeMilliseconds, formatting))"
            } ?? ""
        return "<tr class=\"point\" data-point=\"\(HTML.escape(p.name))\" data-quality=\"\(quality)\""
            + (p.counter ? " data-kind=\"counter\"" : "") + ">"
            + cell("Point", HTML.escape(p.name), class: "name")
            + cell(
                "Value", HTML.escape(value.map(shown) ?? "—"), class: "value",
                attributes: " data-value=\"\(HTML.escape(value ?? ""))\"")
            + cell("Unit", HTML.escape(p.unit), class: "unit")
            + cell("Quality", HTML.escape(qualityText), class: "quality", attributes: " data-quality=\"\(quality)\"")
            + cell("Age", age, class: "age", attributes: " data-time-ms=\"\(p.latest?.timeMilliseconds ?? 0)\"")
            + "</tr>"
    }

    /// The exact value as a person reads it: a whole number without its ".0" (`data-value` keeps the stored text).
    static func shown(_ text: String) -> String {
        guard text.hasSuffix(".0"), let whole = Int64(text.dropLast(2)) else { return text }
        return String(whole)
    }

    static func figure(_ plot: Plot, _ formatting: Formatting, rate: Bool) -> String {
        let svg = PlotSVG(
            name: plot.point.name, series: plot.series, intervalMilliseconds: plot.point.intervalMilliseconds)
        let (low, high) = svg.valueRange
        let unit = plot.series.rate ? "\(plot.point.unit)/s" : plot.point.unit
        let source: String
        switch plot.series.source {
        case .raw: source = "\(plot.series.buckets.count) readings"
        case .minute, .hour:
            source =
                "\(plot.series.buckets.count) of \(plot.series.bucketCount) buckets of "
                + "\(Formatting.duration(plot.series.widthMilliseconds)) from \(plot.series.source.rawValue) rollups"
        }
        let label =
            "\(plot.point.name)\(plot.series.rate ? " (rate)" : "") from \(formatting.dateTime(plot.series.from, seconds: false)) to \(formatting.dateTime(plot.series.to, seconds: false))"
        return """
            <figure class="plot-figure"><figcaption><span class="name">\(HTML.escape(plot.point.name))</span>\
            \(plot.series.rate ? " rate" : "") <span class="muted">\(HTML.escape(unit))</span></figcaption>
            <div class="plot-area"><div class="y-axis"><span>\(HTML.escape(Formatting.decimal(high)))</span>\
            <span>\(HTML.escape(Formatting.decimal(low)))</span></div>\(svg.render(label: label))</div>
            <p class="x-axis"><span>\(formatting.dateTime(plot.series.from, seconds: false))</span>\
            <span class="muted">\(source)</span><span>\(formatting.dateTime(plot.series.to, seconds: false))</span></p>
            </figure>
            """
    }
}
