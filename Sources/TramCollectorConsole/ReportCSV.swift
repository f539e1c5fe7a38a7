import TramBuiltinPoints
import Foundation
import TramCollectorStore

/// The report as CSV (RFC 4180): a header row, a row per gateway (with its bytes) followed by a row per device, and a
/// final `total` row. Cells are neutralised against formula injection: one that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return gets a leading `'`, so a spreadsheet shows it as text instead of evaluating it; a plain number
/// (`-97`, `12.5`) is left as it is, since a spreadsheet reads it as that number and nothing else.
///
/// When the site's gateways have modem readings, an empty line and a second table follow: ``telecomHeader``, a row
/// per operator and an `all` row (the report page's cellular section).
enum ReportCSV {
    static let header = [
        "site", "gateway", "device", "points", "readings", "bytes", "availability_percent", "days_with_data",
    ]

    static func render(_ report: SiteReport) -> String {
        var rows = [header]
        for gateway in report.gateways {
            rows.append([
                report.site, gateway.name, "", "\(gateway.points)", "\(gateway.readings)", "\(gateway.bytes)",
                percent(gateway.availability), "\(gateway.daysWithData)",
            ])
            for device in gateway.devices {
                rows.append([
                    report.site, gateway.name, device.name, "\(device.points)", "\(device.readings)", "",
                    percent(device.availability), "\(device.daysWithData)",
                ])
            }
        }
        rows.append([
            "total", "", "", "\(report.points)", "\(report.readings)", "\(report.bytes)", percent(report.availability),
            "\(report.daysWithData)",
        ])
        var text = rows.map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
        if report.telecom.hasModemData {
            text +=
                "\r\n" + telecomRows(report).map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n")
                + "\r\n"
        }
        return text
    }

    static var telecomHeader: [String] {
        var columns: [String] = ["site", "operator_code", "operator_name", "gateways"]
        for m in SiteTelecom.Measure.allCases {
            columns.append("\(m.rawValue)_readings")
            for p in TelecomSection.percentiles { columns.append("\(m.rawValue)_p\(p)_\(m.unit.lowercased())") }
        }
        columns += ["uplink_availability_percent", "bytes"]
        for tech in technologyColumns { columns.append("time_\(tech.slug)_percent") }
        return columns
    }

    /// The radio technologies with a time column, most advanced first.
    static let technologyColumns: [AccessTechnology] = AccessTechnology.allCases.filter { $0 != .none }.reversed()

    /// One telecom row: an operator's (or all operators') signal percentiles, uplink and radio time.
    static func telecomRow(
        site: String, code: String, name: String, gateways: Int,
        _ distributions: [SiteTelecom.Measure: SignalDistribution], _ uplink: SiteTelecom.Uplink
    ) -> [String] {
        var row: [String] = [site, code, name, "\(gateways)"]
        for m in SiteTelecom.Measure.allCases {
            let d = distributions[m] ?? SignalDistribution()
            row.append("\(d.total)")
            for p in TelecomSection.percentiles { row.append(d.percentile(p).map { "\($0)" } ?? "") }
        }
        row.append(uplink.availability.map(percent) ?? "")
        row.append("\(uplink.bytes)")
        let total = uplink.technologyMilliseconds.values.reduce(0, +)
        for tech in technologyColumns {
            let ms = uplink.technologyMilliseconds[Int64(tech.rawValue)] ?? 0
            row.append(total > 0 ? percent(Double(ms) / Double(total)) : "")
        }
        return row
    }

    static func telecomRows(_ report: SiteReport) -> [[String]] {
        let t = report.telecom
        var rows = [telecomHeader]
        for op in t.operators {
            rows.append(
                telecomRow(
                    site: report.site, code: "\(op.code)", name: op.name ?? "", gateways: op.gateways.count,
                    op.distributions, op.uplink))
        }
        rows.append(
            telecomRow(
                site: report.site, code: "all", name: "", gateways: t.gateways.count, t.distributions, t.uplink))
        return rows
    }

    static func percent(_ fraction: Double) -> String { Formatting.fixed(fraction * 100, places: 2) }

    /// `-97`, `12.5`, `0`: an optional minus, digits, an optional fraction (what a spreadsheet reads as a number only).
    static func isPlainNumber(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "-" { rest = rest.dropFirst() }
        let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        return !parts.isEmpty
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    /// One cell: neutralised, then quoted when it holds a comma, a quote or a line break.
    static func cell(_ text: String) -> String {
        var value = text
        if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first),
            !isPlainNumber(value)
        {
            value = "'" + value
        }
        if value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }
}
