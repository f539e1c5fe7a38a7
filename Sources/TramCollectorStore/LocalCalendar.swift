import Foundation

/// Local days, months and years in the console's time zone (`--time-zone`), as milliseconds since 1970.
///
/// A local day is numbered as days since 1970-01-01 of the local calendar: the day of instant `t` is
/// `(t + offset(t)) / 86,400,000`, with the zone's UTC offset at `t`. The same rule runs in SQL
/// (``dayExpression(_:from:to:)``) so the store groups hours into local days without returning every hour.
/// Ingest tallies and hour rollups are hourly, so the grouping is exact for zones whose offsets are whole hours.
public struct LocalCalendar: Sendable {
    public let timeZone: TimeZone
    private let calendar: Calendar

    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    public static let dayMilliseconds: Int64 = 86_400_000

    /// The zone's offset from UTC at `milliseconds`, in milliseconds.
    public func offset(at milliseconds: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Self.date(milliseconds))) * 1000
    }

    /// The local day number of an instant.
    public func dayNumber(_ milliseconds: Int64) -> Int64 {
        Self.floorDivide(milliseconds + offset(at: milliseconds), Self.dayMilliseconds)
    }

    /// The instant a local day starts (its local midnight, or the first instant after it on a day that skips it).
    public func start(ofDay day: Int64) -> Int64 {
        let components = date(ofDay: day)
        let start = calendar.date(
            from: DateComponents(year: components.year, month: components.month, day: components.day))
        return start.map(Self.milliseconds) ?? day * Self.dayMilliseconds
    }

    /// Year, month and day of a local day number (days since 1970-01-01 → the proleptic Gregorian date, by
    /// arithmetic: the fleet page asks for 6,200 of them, and a Foundation calendar costs microseconds each).
    public func date(ofDay day: Int64) -> (year: Int, month: Int, day: Int) {
        // Howard Hinnant's civil_from_days.
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPart = (5 * dayOfYear + 2) / 153
        let dayOfMonth = dayOfYear - (153 * monthPart + 2) / 5 + 1
        let month = monthPart < 10 ? monthPart + 3 : monthPart - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(dayOfMonth))
    }

    /// [start, end) of a local month (month 1…12) or, with month nil, of a local year.
    public func period(year: Int, month: Int?) -> Range<Int64>? {
        let first = DateComponents(year: year, month: month ?? 1, day: 1)
        guard let start = calendar.date(from: first),
            let end = calendar.date(byAdding: month == nil ? .year : .month, value: 1, to: start)
        else { return nil }
        return Self.milliseconds(start)..<Self.milliseconds(end)
    }

    /// `(local year, month, day, hour, minute)` of an instant, for `datetime-local` inputs and labels.
    public func components(_ milliseconds: Int64) -> DateComponents {
        calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Self.date(milliseconds))
    }

    /// The instant of a local date and time (for `datetime-local` inputs); nil when it does not exist.
    public func instant(_ components: DateComponents) -> Int64? {
        calendar.date(from: components).map(Self.milliseconds)
    }

    /// A SQL expression giving the local day number of the millisecond expression `column`, for instants in
    /// [from, to): the zone's offsets in that range as a CASE over its transitions (a constant for zones without any).
    /// Only integers computed here go into the text, never input.
    public func dayExpression(_ column: String, from: Int64, to: Int64) -> String {
        var segments: [(until: Int64, offset: Int64)] = []
        var cursor = from
        var current = offset(at: from)
        while cursor < to,
            let next = timeZone.nextDaylightSavingTimeTransition(after: Self.date(cursor)).map(Self.milliseconds),
            next < to, segments.count < 64
        {
            segments.append((next, current))
            current = offset(at: next)
            cursor = next
        }
        guard !segments.isEmpty else { return "((\(column)) + \(current)) / \(Self.dayMilliseconds)" }
        let cases = segments.map { "WHEN (\(column)) < \($0.until) THEN \($0.offset)" }.joined(separator: " ")
        return "((\(column)) + CASE \(cases) ELSE \(current) END) / \(Self.dayMilliseconds)"
    }

    /// The zone's offset when it is the same over all of `range` (no daylight-saving transition in it), else nil.
    public func constantOffset(over range: Range<Int64>) -> Int64? {
        let first = offset(at: range.lowerBound)
        if let next = timeZone.nextDaylightSavingTimeTransition(after: Self.date(range.lowerBound)),
            Self.milliseconds(next) < range.upperBound
        {
            return nil
        }
        return offset(at: max(range.lowerBound, range.upperBound - 1)) == first ? first : nil
    }

    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDivide(a, b) * b }

    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
