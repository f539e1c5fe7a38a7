import TramBuiltinPoints

/// The points of the agent's built-in `gateway` and `modem` devices that the collector reads by name (their names
/// come from TramBuiltinPoints, the contract the agent writes by). They arrive as ordinary readings; only these names get summaries of their own
/// at ingest (``SignalBins``, technology time) and a place on the console's pages.
public enum BuiltinPoints {

    /// The modem points whose readings are counted in 1 dB bins at ingest (the coverage distributions and the
    /// telecom report's percentiles).
    public static let binned: [String] = [
        BuiltinDevice.Modem.lteRSRP, BuiltinDevice.Modem.lteSNR, BuiltinDevice.Modem.nrRSRP, BuiltinDevice.Modem.nrSNR,
    ]

    /// The modem points the fleet's link cell shows.
    public static let link: [String] = [
        BuiltinDevice.Modem.technology, BuiltinDevice.Modem.operatorCode, BuiltinDevice.Modem.operatorName,
        BuiltinDevice.Modem.lteRSRP, BuiltinDevice.Modem.lteRSRQ, BuiltinDevice.Modem.lteSNR,
        BuiltinDevice.Modem.nrRSRP, BuiltinDevice.Modem.nrRSRQ, BuiltinDevice.Modem.nrSNR,
    ]

    /// What ingest keeps beyond the rollups for a point of a dictionary.
    enum Role: Equatable {
        case none
        /// Counted in ``SignalBins``.
        case binned
        /// Its time on each value is kept (`state_time`).
        case technology
        /// The operator the binned readings of the same poll are counted under.
        case operatorCode
    }

    static func role(device: String, point: String) -> Role {
        guard device == BuiltinDevice.modemName else { return .none }
        if binned.contains(point) { return .binned }
        if point == BuiltinDevice.Modem.technology { return .technology }
        if point == BuiltinDevice.Modem.operatorCode { return .operatorCode }
        return .none
    }
}

/// The 1 dB bins the modem's signal readings are counted in at ingest (`signal_bins`): bin b holds the readings with
/// b ≤ value < b + 1 (the value rounded down). Rounding down is monotonic, so the k-th smallest bin is the bin of the
/// k-th smallest value: any nearest-rank percentile read from the bins is exact to 1 dB, the true value lying in
/// [b, b + 1). Values beyond the range any modem reports (3GPP: RSRP −156…−31 dBm, SINR −23…40 dB) are counted in the
/// edge bins, so a hostile value cannot make the report draw thousands of empty bins.
public enum SignalBins {
    public static let lowest: Int64 = -200
    public static let highest: Int64 = 100

    /// The bin of a finite value.
    public static func bin(_ value: Double) -> Int64 {
        guard value.isFinite else { return 0 }
        let floored = value.rounded(.down)
        if floored <= Double(lowest) { return lowest }
        if floored >= Double(highest) { return highest }
        return Int64(floored)
    }

    /// The widths bins and technology time are kept at: hours (a report's partial days) and UTC days (its whole ones).
    static let widths = [RollupRules.hourMilliseconds, RollupRules.dayMilliseconds]
}
