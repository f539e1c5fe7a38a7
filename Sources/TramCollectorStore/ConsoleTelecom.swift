import TramBuiltinPoints
/// A gateway's cellular link as the fleet shows it: the built-in modem's newest readings (`point_latest`), nil for a
/// gateway without a modem device.
public struct ConsoleLink: Sendable, Equatable {
    /// The newest reading of one of the modem's points, with its quality.
    public struct Value: Sendable, Equatable {
        public var value: Double?
        public var text: String?
        public var quality: ConsoleQuality
        public var timeMilliseconds: Int64

        public init(value: Double?, text: String?, quality: ConsoleQuality, timeMilliseconds: Int64) {
            self.value = value
            self.text = text
            self.quality = quality
            self.timeMilliseconds = timeMilliseconds
        }

        /// The value when the reading is good and finite.
        public var good: Double? { quality == .good ? value.flatMap { $0.isFinite ? $0 : nil } : nil }
    }

    /// Point name → its newest reading (only the points of ``BuiltinPoints/link`` the modem has readings of).
    public var values: [String: Value] = [:]

    public init(values: [String: Value] = [:]) { self.values = values }

    public var technology: AccessTechnology? {
        values[BuiltinDevice.Modem.technology]?.good.flatMap {
            UInt16(exactly: $0).flatMap(AccessTechnology.init(rawValue:))
        }
    }

    public var operatorCode: Int64? { values[BuiltinDevice.Modem.operatorCode]?.good.flatMap(StoredValue.wholeNumber) }

    public var operatorName: String? {
        guard let v = values[BuiltinDevice.Modem.operatorName], v.quality == .good, let text = v.text, !text.isEmpty
        else { return nil }
        return text
    }

    /// The radio whose values the link shows, and those values.
    public struct Signal: Sendable, Equatable {
        /// "NR" or "LTE".
        public var radio: String
        public var rsrp: Double?
        public var rsrq: Double?
        public var snr: Double?
        /// When the shown values were measured: the newest of their readings.
        public var measuredMilliseconds: Int64?
    }

    /// On 5G (NSA or SA) the NR values when the NR RSRP is good, else the LTE values (an NSA modem's anchor carrier;
    /// an SA modem without NR values shows none).
    public var signal: Signal {
        let nr = technology?.showsNRSignal(nrRSRPPresent: values[BuiltinDevice.Modem.nrRSRP]?.good != nil) == true
        let names =
            nr
            ? (BuiltinDevice.Modem.nrRSRP, BuiltinDevice.Modem.nrRSRQ, BuiltinDevice.Modem.nrSNR)
            : (BuiltinDevice.Modem.lteRSRP, BuiltinDevice.Modem.lteRSRQ, BuiltinDevice.Modem.lteSNR)
        let shown = [names.0, names.1, names.2].compactMap { name in values[name].flatMap { $0.good != nil ? $0 : nil }
        }
        return Signal(
            radio: nr ? "NR" : "LTE", rsrp: values[names.0]?.good, rsrq: values[names.1]?.good,
            snr: values[names.2]?.good, measuredMilliseconds: shown.map(\.timeMilliseconds).max())
    }
}

/// The usual quality bands of LTE and NR signal values, one table for the whole console (docs/console.md, "Signal
/// bands", gives them with their source): Teltonika Networks' "Mobile Signal Strength Recommendations"
/// (wiki.teltonika-networks.com), the same cut-offs Blues' Notecard uses for its signal bars. They are LTE's; NR
/// (SS-RSRP, SS-SINR) is read against the same bands, as vendors' sub-6 GHz tables differ from them by little. A
/// value on a threshold counts in the better band.
public enum SignalBand: Int, Sendable, CaseIterable, Comparable {
    case excellent = 3
    case good = 2
    case midCell = 1
    case cellEdge = 0

    /// What ``band(_:of:)`` reads each measure against: the lower bounds of excellent, good and mid cell.
    public static let thresholds: [String: (excellent: Double, good: Double, midCell: Double)] = [
        "rsrp": (-80, -90, -100),  // dBm
        "rsrq": (-10, -15, -20),  // dB
        "snr": (20, 13, 0),  // dB (SINR)
    ]

    /// The band of `value` for measure `rsrp`, `rsrq` or `snr`.
    public static func band(_ value: Double, of measure: String) -> SignalBand? {
        guard let t = thresholds[measure], value.isFinite else { return nil }
        if value >= t.excellent { return .excellent }
        if value >= t.good { return .good }
        if value >= t.midCell { return .midCell }
        return .cellEdge
    }

    /// `band-excellent`, `band-good`, `band-mid-cell`, `band-cell-edge` (CSS classes and `data-band`).
    public var slug: String {
        switch self {
        case .excellent: "excellent"
        case .good: "good"
        case .midCell: "mid-cell"
        case .cellEdge: "cell-edge"
        }
    }

    public var name: String {
        switch self {
        case .excellent: "excellent"
        case .good: "good"
        case .midCell: "mid cell"
        case .cellEdge: "cell edge"
        }
    }

    public static func < (a: SignalBand, b: SignalBand) -> Bool { a.rawValue < b.rawValue }
}

/// Readings counted in 1 dB bins (``SignalBins``), and what is read from them.
public struct SignalDistribution: Sendable, Equatable {
    /// Bin (the value rounded down) → readings.
    public var bins: [Int64: Int64] = [:]

    public init(bins: [Int64: Int64] = [:]) { self.bins = bins }

    public var total: Int64 { bins.values.reduce(0, +) }

    mutating func add(bin: Int64, count: Int64) { bins[bin, default: 0] += count }

    mutating func add(_ other: SignalDistribution) {
        for (bin, count) in other.bins { bins[bin, default: 0] += count }
    }

    /// The nearest-rank `percent` percentile (the smallest bin b with at least ⌈percent × n / 100⌉ readings at or below
    /// it), nil without readings. Exact to the bin: the true nearest-rank percentile of the values is in [b, b + 1).
    public func percentile(_ percent: Int) -> Int64? {
        let n = total
        guard n > 0 else { return nil }
        let rank = max(1, (Int64(percent) * n + 99) / 100)
        var seen: Int64 = 0
        for bin in bins.keys.sorted() {
            seen += bins[bin]!
            if seen >= rank { return bin }
        }
        return bins.keys.max()
    }

    /// Readings per bucket of `width` dB, from the lowest bucket with readings to the highest (empty ones between
    /// included): `(low, count)` with low a multiple of `width`, the bucket being [low, low + width).
    public func buckets(width: Int64 = 5) -> [(low: Int64, count: Int64)] {
        guard let lo = bins.keys.min(), let hi = bins.keys.max() else { return [] }
        func floorTo(_ v: Int64) -> Int64 { LocalCalendar.floorDivide(v, width) * width }
        var counts: [Int64: Int64] = [:]
        for (bin, count) in bins { counts[floorTo(bin), default: 0] += count }
        return stride(from: floorTo(lo), through: floorTo(hi), by: Int(width)).map { ($0, counts[$0] ?? 0) }
    }
}

/// A site's cellular coverage and uplink over a report's period (``CollectorStore/telecom(site:range:now:)``).
public struct SiteTelecom: Sendable, Equatable {
    /// The distributions kept, by the modem's point.
    public enum Measure: String, Sendable, CaseIterable {
        case lteRSRP = "lte_rsrp"
        case lteSNR = "lte_snr"
        case nrRSRP = "nr_rsrp"
        case nrSNR = "nr_snr"

        public var label: String {
            switch self {
            case .lteRSRP: "LTE RSRP"
            case .lteSNR: "LTE SNR"
            case .nrRSRP: "NR RSRP"
            case .nrSNR: "NR SNR"
            }
        }

        public var unit: String { self == .lteRSRP || self == .nrRSRP ? "dBm" : "dB" }
        /// The ``SignalBand`` measure.
        public var band: String { self == .lteRSRP || self == .nrRSRP ? "rsrp" : "snr" }
    }

    /// Uplink, bytes and radio time of some gateways (one, an operator's, or the site's).
    public struct Uplink: Sendable, Equatable {
        /// Whole UTC hours of the period up to now in which the collector stored at least one request from them,
        /// summed over the gateways, and the hours counted (gateways × hours).
        public var hoursWithUploads: Int64 = 0
        public var hoursCounted: Int64 = 0
        /// Stored request bodies, by the hour they arrived (as the report's bytes).
        public var bytes: Int64 = 0
        /// Time on each radio technology (``AccessTechnology`` raw value; other values as sent), time-weighted.
        public var technologyMilliseconds: [Int64: Int64] = [:]

        /// hoursWithUploads / hoursCounted, nil when no hour is counted.
        public var availability: Double? {
            hoursCounted > 0 ? Double(hoursWithUploads) / Double(hoursCounted) : nil
        }

        mutating func add(_ other: Uplink) {
            hoursWithUploads += other.hoursWithUploads
            hoursCounted += other.hoursCounted
            bytes += other.bytes
            for (value, ms) in other.technologyMilliseconds { technologyMilliseconds[value, default: 0] += ms }
        }
    }

    public struct Operator: Sendable, Equatable {
        /// MCC and MNC as one number (45204); 0 for readings whose poll had no operator.
        public var code: Int64
        /// The newest name a modem of the site gives for the code (untrusted text), nil when none does.
        public var name: String?
        /// The signal readings made on this operator.
        public var distributions: [Measure: SignalDistribution] = [:]
        /// The gateways whose modem was mostly on this operator (most signal readings), and their uplink.
        public var gateways: [String] = []
        public var uplink = Uplink()
    }

    public struct Gateway: Sendable, Equatable {
        public var name: String
        /// The operator with most of its signal readings in the period (else its modem's current one).
        public var operatorCode: Int64?
        public var distributions: [Measure: SignalDistribution] = [:]
        public var uplink = Uplink()
    }

    /// By operator code.
    public var operators: [Operator] = []
    /// By name: every gateway of the site.
    public var gateways: [Gateway] = []
    /// All operators together.
    public var distributions: [Measure: SignalDistribution] = [:]
    public var uplink = Uplink()

    /// Whether any gateway of the site has modem readings in the period.
    public var hasModemData: Bool {
        !distributions.values.allSatisfy { $0.total == 0 } || !uplink.technologyMilliseconds.isEmpty
    }
}
