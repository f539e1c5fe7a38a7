import Foundation
import TramCollectorStore

/// Dates, numbers, units and ages for people, in the console's time zone (shown on every page).
struct Formatting: Sendable {
    let calendar: LocalCalendar

    init(timeZone: TimeZone) { calendar = LocalCalendar(timeZone: timeZone) }

    var zoneName: String { calendar.timeZone.identifier }

    /// "UTC+07:00" for the zone's offset at `milliseconds`.
    func offsetText(at milliseconds: Int64) -> String {
        let minutes = calendar.offset(at: milliseconds) / 60_000
        let sign = minutes < 0 ? "−" : "+"
        return "UTC\(sign)\(Self.twoDigits(abs(minutes) / 60)):\(Self.twoDigits(abs(minutes) % 60))"
    }

    /// "2025-03-14 09:05:02" in the zone.
    func dateTime(_ milliseconds: Int64, seconds: Bool = true) -> String {
        let c = calendar.components(milliseconds)
        let date = "\(c.year ?? 0)-\(Self.twoDigits(c.month ?? 0))-\(Self.twoDigits(c.day ?? 0))"
        let time = "\(Self.twoDigits(c.hour ?? 0)):\(Self.twoDigits(c.minute ?? 0))"
        return seconds ? "\(date) \(time):\(Self.twoDigits(c.second ?? 0))" : "\(date) \(time)"
    }

    /// "2025-03-14T09:05" for a `datetime-local` input.
    func dateTimeLocal(_ milliseconds: Int64) -> String {
        dateTime(milliseconds, seconds: false).replacingOccurrences(of: " ", with: "T")
    }

    /// A `datetime-local` value ("2025-03-14T09:05", seconds optional) in the zone, as milliseconds.
    func parseDateTimeLocal(_ text: String) -> Int64? {
        let parts = text.split(separator: "T")
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-").compactMap { Int($0) }
        let time = parts[1].split(separator: ":").compactMap { Int($0) }
        guard date.count == 3, (2...3).contains(time.count) else { return nil }
        return calendar.instant(
            DateComponents(
                year: date[0], month: date[1], day: date[2], hour: time[0], minute: time[1],
                second: time.count == 3 ? time[2] : 0))
    }

    /// "2025-03-14" for a local day number.
    func day(_ day: Int64) -> String {
        let d = calendar.date(ofDay: day)
        return "\(d.year)-\(Self.twoDigits(d.month))-\(Self.twoDigits(d.day))"
    }

    /// "just now", "42 s ago", "5 min ago", "3 h 10 min ago", "2 d ago".
    static func age(_ milliseconds: Int64) -> String {
        let seconds = max(0, milliseconds / 1000)
        switch seconds {
        case ..<2: return "just now"
        case ..<60: return "\(seconds) s ago"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<86_400:
            let minutes = seconds / 60 % 60
            return minutes == 0 ? "\(seconds / 3600) h ago" : "\(seconds / 3600) h \(minutes) min ago"
        default: return "\(seconds / 86_400) d ago"
        }
    }

    /// "12,345,678".
    static func count(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return value < 0 ? "−" + out : out
    }

    /// Decimal (SI) units: "0 B", "950 B", "12.3 kB", "4.56 MB", "1.20 GB".
    static func bytes(_ value: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1000 && unit < units.count - 1 {
            amount /= 1000
            unit += 1
        }
        if unit == 0 { return "\(value) B" }
        return "\(decimal(amount, significant: 3)) \(units[unit])"
    }

    /// "99.95 %" (two decimals).
    static func percent(_ fraction: Double) -> String { "\(fixed(fraction * 100, places: 2)) %" }

    /// A number with `places` decimals.
    static func fixed(_ value: Double, places: Int) -> String { String(format: "%.\(places)f", value) }

    /// A number with about `significant` significant digits, for axis labels and sizes ("0.0123", "12.3", "1,230").
    static func decimal(_ value: Double, significant: Int = 4) -> String {
        guard value.isFinite else { return "\(value)" }
        if value == 0 { return "0" }
        let magnitude = Int(floor(log10(abs(value))))
        let places = max(0, min(6, significant - 1 - magnitude))
        return String(format: "%.\(places)f", value)
    }

    /// "1 h", "24 h", "7 d", "90 min" for a duration in milliseconds.
    static func duration(_ milliseconds: Int64) -> String {
        let minutes = milliseconds / 60_000
        if minutes < 1 { return "\(milliseconds / 1000) s" }
        if minutes < 120 { return "\(minutes) min" }
        if minutes < 2 * 1440 { return "\(minutes / 60) h" }
        return "\(minutes / 1440) d"
    }

    static func twoDigits(_ value: Int) -> String { value < 10 && value >= 0 ? "0\(value)" : "\(value)" }
    static func twoDigits(_ value: Int64) -> String { twoDigits(Int(value)) }
}
