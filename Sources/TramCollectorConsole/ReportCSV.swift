import Foundation
import TramCollectorStore

/// The report as CSV (RFC 4180): a header row, a row per gateway (with its bytes) followed by a row per device, and a
/// final `total` row. Cells are neutralised against formula injection: one that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return gets a leading `'`, so a spreadsheet shows it as text instead of evaluating it.
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
        return rows.map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func percent(_ fraction: Double) -> String { Formatting.fixed(fraction * 100, places: 2) }

    /// One cell: neutralised, then quoted when it holds a comma, a quote or a line break.
    static func cell(_ text: String) -> String {
        var value = text
        if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) {
            value = "'" + value
        }
        if value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }
}
