import TramBuiltinPoints

/// The points of the agent's built-in `gateway` and `modem` devices that the collector reads by name (their names
/// come from TramBuiltinPoints, the contract the agent writes by). They arrive as ordinary readings; only these names get summaries of their own
/// at ingest (``SignalBins``, technology time) and a place on the console's pages.
public enum BuiltinPoints {
    public static let modemDevice = BuiltinDevice.modemName
    public static let gatewayDevice = BuiltinDevice.gatewayName

    /// Whether a device name is one of the agent's built-in devices (a Modbus device may not take either name).
    public static func isBuiltinDevice(_ name: String) -> Bool { name == modemDevice || name == gatewayDevice }

    // The modem's points.
    public static let technology = BuiltinDevice.Modem.technology
    public static let operatorCode = BuiltinDevice.Modem.operatorCode
    public static let operatorName = BuiltinDevice.Modem.operatorName
    public static let lteRSRP = BuiltinDevice.Modem.lteRSRP
    public static let lteRSRQ = BuiltinDevice.Modem.lteRSRQ
    public static let lteSNR = BuiltinDevice.Modem.lteSNR
    public static let nrRSRP = BuiltinDevice.Modem.nrRSRP
    public static let nrRSRQ = BuiltinDevice.Modem.nrRSRQ
    public static let nrSNR = BuiltinDevice.Modem.nrSNR

    /// The modem points whose readings are counted in 1 dB bins at ingest (the coverage distributions and the
    /// telecom report's percentiles).
    public static let binned: [String] = [lteRSRP, lteSNR, nrRSRP, nrSNR]

    /// The modem points the fleet's link cell shows.
    public static let link: [String] = [
        technology, operatorCode, operatorName, lteRSRP, lteRSRQ, lteSNR, nrRSRP, nrRSRQ, nrSNR,
    ]

    // The gateway's points the gateway page shows as its health now.
    public static let agentVersion = BuiltinDevice.Gateway.agentVersion
    public static let uptime = BuiltinDevice.Gateway.uptime
    public static let cpuUsage = BuiltinDevice.Gateway.cpuUsage
    public static let memoryRSS = BuiltinDevice.Gateway.memoryRSS
    public static let spoolBacklog = BuiltinDevice.Gateway.spoolBacklog
    public static let spoolFill = BuiltinDevice.Gateway.spoolFill
    public static let spoolOldestAge = BuiltinDevice.Gateway.spoolOldestAge

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
        guard device == modemDevice else { return .none }
        if binned.contains(point) { return .binned }
        if point == technology { return .technology }
        if point == operatorCode { return .operatorCode }
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
