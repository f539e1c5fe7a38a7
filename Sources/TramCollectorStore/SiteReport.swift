/// A site's report for a local month or year (``CollectorStore/report(site:period:calendar:now:)``): per gateway and
/// device, readings (by reading time, from hour rollups), request-body bytes (by receive time, from the hourly ingest
/// tallies), availability and days with data.
public struct SiteReport: Sendable, Equatable {
    public enum Period: Sendable, Equatable, CustomStringConvertible {
        case month(year: Int, month: Int)
        case year(Int)

        /// `2025-03` or `2025`; nil for anything else.
        public init?(_ text: String) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard let first = parts.first, first.count == 4, let year = Int(first), year >= 1970, year <= 9999 else {
                return nil
            }
            switch parts.count {
            case 1: self = .year(year)
            case 2:
                guard parts[1].count == 2, let month = Int(parts[1]), (1...12).contains(month) else { return nil }
                self = .month(year: year, month: month)
            default: return nil
            }
        }

        public var description: String {
            switch self {
            case .month(let year, let month): "\(year)-\(month < 10 ? "0" : "")\(month)"
            case .year(let year): "\(year)"
            }
        }
    }

    public struct Device: Sendable, Equatable {
        public var name: String
        public var points: Int
        public var readings: Int64
        /// Σ good_ms of its points / (points × the period's length up to now); 0…1.
        public var availability: Double
        public var daysWithData: Int
    }

    public struct Gateway: Sendable, Equatable {
        public var name: String
        public var devices: [Device]
        public var points: Int
        public var readings: Int64
        public var bytes: Int64
        public var availability: Double
        public var daysWithData: Int
    }

    public var site: String
    public var period: Period
    public var timeZone: String
    /// [from, to) of the local period, and the part of it up to now (`counted`) that availability is taken over.
    public var from: Int64
    public var to: Int64
    public var countedMilliseconds: Int64
    public var gateways: [Gateway]
    public var devices: Int
    public var points: Int
    public var readings: Int64
    public var bytes: Int64
    public var availability: Double
    public var daysWithData: Int
    /// The site's cellular coverage and uplink over the period (the built-in modem's readings).
    public var telecom = SiteTelecom()
}
