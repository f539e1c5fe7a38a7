import TramBuiltinPoints
import TramCollectorStore

/// The report's cellular section (docs/console.md, "How the telecom report counts"): per operator and per gateway,
/// the median and 10th percentile of RSRP and SNR (exact to the 1 dB bin), uplink availability, bytes and time on each
/// radio technology; then the coverage: each distribution in 5 dB buckets as SVG bars.
enum TelecomSection {
    /// The percentiles the report gives.
    static let percentiles = [50, 10]

    static func render(_ t: SiteTelecom, site: String, _ formatting: Formatting) -> String {
        let operatorRows =
            t.operators.map { op in
                row(
                    kind: "operator", key: "data-operator=\"\(op.code)\"", label: operatorLabel(op),
                    gateways: op.gateways.count, distributions: op.distributions, uplink: op.uplink)
            }.joined(separator: "\n")
        let allRow = row(
            kind: "all", key: "data-operator=\"all\"", label: "<strong>All operators</strong>",
            gateways: t.gateways.count, distributions: t.distributions, uplink: t.uplink)
        let gatewayRows = t.gateways.map { g in
            let op = g.operatorCode.map { code in
                t.operators.first { $0.code == code }.map(operatorLabel) ?? "\(code)"
            }
            return row(
                kind: "gateway",
                key: "data-gateway=\"\(HTML.escape(g.name))\""
                    + (g.operatorCode.map { " data-operator=\"\($0)\"" } ?? ""),
                label: "<a href=\"\(HTML.escape(FleetPage.gatewayPath(g.name)))\">\(HTML.escape(g.name))</a>"
                    + (op.map { " <span class=\"muted\">\($0)</span>" } ?? ""),
                gateways: nil, distributions: g.distributions, uplink: g.uplink)
        }.joined(separator: "\n")
        let coverage =
            t.hasModemData
            ? ([("all", "All operators", t.distributions)]
                + t.operators.map { ("\($0.code)", operatorLabel($0), $0.distributions) })
                .map { key, label, distributions in coverageGroup(key: key, label: label, distributions) }
                .joined(separator: "\n")
            : "<p class=\"empty\" id=\"no-coverage\">No modem signal readings for this site in this period.</p>"
        return """
            <section class="telecom" id="telecom" data-site="\(HTML.escape(site))">
            <h2>Cellular link</h2>
            <p class="note">From the gateways' built-in <code>modem</code> device. Median and p10 (the 10th percentile: \
            nine readings in ten were at least this) are nearest-rank over every signal reading in the period, each \
            rounded down to a whole dB (exact to 1 dB). Signal values are counted under the operator the modem was on \
            at that poll; a gateway's uplink, bytes and radio time under its main operator (most of its readings). \
            Uplink availability is the share of the period's passed UTC hours in which the collector stored at least \
            one upload from the gateway; radio time is time-weighted from the <code>technology</code> readings.</p>
            <table id="telecom-operators" class="stack">
            \(header(first: "Operator", gateways: true))
            <tbody>
            \(operatorRows)
            \(allRow)
            </tbody></table>
            <table id="telecom-gateways" class="stack">
            \(header(first: "Gateway", gateways: false))
            <tbody>
            \(gatewayRows)
            </tbody></table>
            <h3>Coverage</h3>
            <p class="note">Signal readings per 5 dB, coloured by band (\(LinkCell.bandsNote)).</p>
            <div class="coverage" id="coverage">
            \(coverage)
            </div>
            </section>
            """
    }

    static func operatorLabel(_ op: SiteTelecom.Operator) -> String {
        if op.code == 0 { return "unknown operator" }
        return op.name.map { "\(HTML.escape($0)) <span class=\"muted\">(\(op.code))</span>" } ?? "\(op.code)"
    }

    static func header(first: String, gateways: Bool) -> String {
        "<thead><tr><th scope=\"col\">\(first)</th>" + (gateways ? "<th scope=\"col\">Gateways</th>" : "")
            + SiteTelecom.Measure.allCases.map { "<th scope=\"col\">\($0.label) median / p10</th>" }.joined()
            + "<th scope=\"col\">Uplink availability</th><th scope=\"col\">Bytes</th>"
            + "<th scope=\"col\">Radio time</th></tr></thead>"
    }

    static func row(
        kind: String, key: String, label: String, gateways: Int?,
        distributions: [SiteTelecom.Measure: SignalDistribution],
        uplink: SiteTelecom.Uplink
    ) -> String {
        var attributes = ""
        var cells = cell(kind == "gateway" ? "Gateway" : "Operator", label, class: "name")
        if let gateways { cells += cell("Gateways", "\(gateways)", class: "num") }
        for measure in SiteTelecom.Measure.allCases {
            let d = distributions[measure] ?? SignalDistribution()
            let key = measure.rawValue.replacingOccurrences(of: "_", with: "-")
            attributes += " data-\(key)-readings=\"\(d.total)\""
            var parts: [String] = []
            for p in percentiles {
                guard let v = d.percentile(p) else { continue }
                attributes += " data-\(key)-p\(p)=\"\(v)\""
                let band = SignalBand.band(Double(v), of: measure.band)
                parts.append(
                    "<span class=\"signal\(band.map { " band-\($0.slug)" } ?? "")\" data-p=\"\(p)\">\(v)</span>")
            }
            cells += cell(
                "\(measure.label) median / p10",
                parts.isEmpty ? "—" : parts.joined(separator: " / ") + " <span class=\"muted\">\(measure.unit)</span>",
                class: "num")
        }
        let availability = uplink.availability
        attributes +=
            " data-uplink-hours=\"\(uplink.hoursWithUploads)\" data-hours=\"\(uplink.hoursCounted)\""
            + " data-bytes=\"\(uplink.bytes)\""
        cells += cell("Uplink availability", availability.map(Formatting.percent) ?? "—", class: "num")
        cells += cell("Bytes", Formatting.bytes(uplink.bytes), class: "num")
        cells += cell("Radio time", radioTime(uplink, attributes: &attributes), class: "radio-time")
        return "<tr class=\"\(kind)\" \(key)\(attributes)>\(cells)</tr>"
    }

    /// "5G SA 12.50 % · LTE 87.50 %", most advanced first; `data-time-<technology>-ms` for each.
    static func radioTime(_ uplink: SiteTelecom.Uplink, attributes: inout String) -> String {
        let total = uplink.technologyMilliseconds.values.reduce(0, +)
        guard total > 0 else { return "—" }
        return uplink.technologyMilliseconds.sorted { $0.key > $1.key }.map { value, ms in
            let technology = AccessTechnology(rawValue: UInt16(clamping: value))
            let slug = technology?.slug ?? "value-\(value)"
            attributes += " data-time-\(slug)-ms=\"\(ms)\""
            return "<span class=\"tech tech-\(slug)\">\(HTML.escape(technology?.label ?? "technology \(value)")) "
                + "\(Formatting.percent(Double(ms) / Double(total)))</span>"
        }.joined(separator: " · ")
    }

    static func coverageGroup(key: String, label: String, _ distributions: [SiteTelecom.Measure: SignalDistribution])
        -> String
    {
        let figures = SiteTelecom.Measure.allCases.compactMap { measure -> String? in
            guard let d = distributions[measure], d.total > 0 else { return nil }
            return HistogramSVG(distribution: d, measure: measure).render(operatorKey: key)
        }
        guard !figures.isEmpty else { return "" }
        return "<div class=\"coverage-group\" data-operator=\"\(HTML.escape(key))\"><h4>\(label)</h4>"
            + "<div class=\"plots\">\(figures.joined())</div></div>"
    }
}

/// One distribution as bars of 5 dB: `rect.bucket[data-low][data-high][data-count]`, x = the bucket's place, height
/// by its count, coloured by the band of its middle; a `<title>` per bar.
struct HistogramSVG {
    let distribution: SignalDistribution
    let measure: SiteTelecom.Measure
    static let width: Int64 = 5

    func render(operatorKey: String) -> String {
        let buckets = distribution.buckets(width: Self.width)
        let highest = max(buckets.map(\.count).max() ?? 0, 1)
        var bars = ""
        for (i, bucket) in buckets.enumerated() where bucket.count > 0 {
            let height = max(1, Int64((Double(bucket.count) / Double(highest) * 100).rounded()))
            let band = SignalBand.band(Double(bucket.low) + Double(Self.width) / 2, of: measure.band)
            let title =
                "\(bucket.low) to \(bucket.low + Self.width) \(measure.unit): \(Formatting.count(bucket.count)) readings"
            bars +=
                "<rect class=\"bucket\(band.map { " band-\($0.slug)" } ?? "")\" data-low=\"\(bucket.low)\" "
                + "data-high=\"\(bucket.low + Self.width)\" data-count=\"\(bucket.count)\" x=\"\(i)\" "
                + "y=\"\(100 - height)\" width=\"0.9\" height=\"\(height)\"><title>\(HTML.escape(title))</title></rect>"
        }
        let label = "\(measure.label) readings per \(Self.width) \(measure.unit)"
        let first = buckets.first?.low ?? 0
        let last = (buckets.last?.low ?? 0) + Self.width
        return """
            <figure class="distribution" data-measure="\(measure.rawValue)" data-operator="\(HTML.escape(operatorKey))" \
            data-readings="\(distribution.total)"><figcaption>\(measure.label) \
            <span class="muted">\(Formatting.count(distribution.total)) readings</span></figcaption>\
            <svg class="histogram" viewBox="0 0 \(buckets.count) 100" preserveAspectRatio="none" role="img" \
            aria-label="\(HTML.escape(label))"><title>\(HTML.escape(label))</title>\(bars)</svg>\
            <p class="x-axis"><span>\(first) \(measure.unit)</span><span>\(last) \(measure.unit)</span></p></figure>
            """
    }
}
