/// The range a device page plots: `?range=1h|24h|7d` (default 24 h, ending now) or `?from=…&to=…` as
/// `datetime-local` values in the console's time zone.
struct PlotRange: Equatable {
    var from: Int64
    var to: Int64
    /// The preset's name, nil for a custom range.
    var preset: String?

    static let presets: [(name: String, milliseconds: Int64)] = [
        ("1h", 3_600_000), ("24h", 86_400_000), ("7d", 7 * 86_400_000),
    ]
    /// Longest custom range: the rollups' default retention (13 months).
    static let longest: Int64 = 396 * 86_400_000

    static func parse(range: String?, from: String?, to: String?, formatting: Formatting, now: Int64) -> PlotRange {
        if let from = from.flatMap(formatting.parseDateTimeLocal), let to = to.flatMap(formatting.parseDateTimeLocal),
            to > from
        {
            return PlotRange(from: max(from, to - longest), to: to, preset: nil)
        }
        let preset = presets.first { $0.name == range } ?? presets[1]
        return PlotRange(from: now - preset.milliseconds, to: now, preset: preset.name)
    }
}
