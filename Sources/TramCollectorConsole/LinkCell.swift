import TramBuiltinPoints
import TramCollectorStore

/// A gateway's cellular link (the fleet's Link column and the gateway page): technology, operator, RSRP, RSRQ and SNR,
/// each value coloured by its ``SignalBand``, and when they were measured. A gateway without modem readings shows an
/// em dash.
enum LinkCell {
    /// The `td.link`'s attributes: `data-technology`, `data-radio`, `data-operator`, `data-rsrp`, `data-rsrq`,
    /// `data-snr`, `data-band` (the worst band of the three) and `data-measured-ms`; `data-link="none"` without one.
    static func attributes(_ link: ConsoleLink?) -> String {
        guard let link, hasReadings(link) else { return " data-link=\"none\"" }
        let signal = link.signal
        var out = " data-link=\"modem\""
        if let t = link.technology { out += " data-technology=\"\(t.slug)\"" }
        out += " data-radio=\"\(signal.radio)\""
        if let code = link.operatorCode { out += " data-operator=\"\(code)\"" }
        for (name, value) in [("rsrp", signal.rsrp), ("rsrq", signal.rsrq), ("snr", signal.snr)] {
            if let value { out += " data-\(name)=\"\(HTML.escape(number(value)))\"" }
        }
        if let band = worstBand(signal) { out += " data-band=\"\(band.slug)\"" }
        if let ms = signal.measuredMilliseconds { out += " data-measured-ms=\"\(ms)\"" }
        return out
    }

    static func content(_ link: ConsoleLink?, _ formatting: Formatting, now: Int64) -> String {
        guard let link, hasReadings(link) else { return "<span class=\"none\">—</span>" }
        let signal = link.signal
        let technology =
            link.technology.map { "<span class=\"tech tech-\($0.slug)\">\(HTML.escape($0.label))</span>" }
            ?? "<span class=\"tech muted\">no service</span>"
        var operatorText = ""
        if let name = link.operatorName {
            operatorText = " <span class=\"operator\">\(HTML.escape(name))</span>"
            if let code = link.operatorCode { operatorText += " <span class=\"muted\">(\(code))</span>" }
        } else if let code = link.operatorCode {
            operatorText = " <span class=\"operator\">\(code)</span>"
        }
        let values = [
            value("RSRP", signal.rsrp, unit: "dBm", measure: "rsrp"),
            value("RSRQ", signal.rsrq, unit: "dB", measure: "rsrq"),
            value("SNR", signal.snr, unit: "dB", measure: "snr"),
        ].compactMap { $0 }
        let radio = link.technology?.hasNR == true ? " <span class=\"muted radio\">\(signal.radio)</span>" : ""
        let measured =
            signal.measuredMilliseconds.map {
                " <span class=\"measured\">\(timeElement($0, formatting)) <span class=\"age\">\(Formatting.age(now - $0))</span></span>"
            } ?? ""
        return "\(technology)\(operatorText)\(radio)"
            + (values.isEmpty ? " <span class=\"muted\">no signal values</span>" : " " + values.joined(separator: " "))
            + measured
    }

    /// Whether the modem has any reading to show (a modem device that never read anything shows the dash too).
    static func hasReadings(_ link: ConsoleLink) -> Bool {
        link.technology != nil || link.operatorCode != nil || link.signal.rsrp != nil || link.signal.snr != nil
            || link.signal.rsrq != nil
    }

    static func worstBand(_ signal: ConsoleLink.Signal) -> SignalBand? {
        [
            signal.rsrp.flatMap { SignalBand.band($0, of: "rsrp") },
            signal.rsrq.flatMap { SignalBand.band($0, of: "rsrq") },
            signal.snr.flatMap { SignalBand.band($0, of: "snr") },
        ].compactMap { $0 }.min()
    }

    static func value(_ label: String, _ value: Double?, unit: String, measure: String) -> String? {
        guard let value else { return nil }
        let band = SignalBand.band(value, of: measure)
        let classes = "signal" + (band.map { " band-\($0.slug)" } ?? "")
        return "<span class=\"\(classes)\" data-measure=\"\(measure)\" data-band=\"\(band?.slug ?? "")\""
            + " title=\"\(HTML.escape(band?.name ?? ""))\">\(label) \(HTML.escape(number(value))) \(unit)</span>"
    }

    /// "excellent from −80 dBm, good from −90, mid cell from −100, cell edge below (RSRP); …", from
    /// ``SignalBand/thresholds``.
    static var bandsNote: String {
        [("RSRP", "rsrp", " dBm"), ("RSRQ", "rsrq", " dB"), ("SNR", "snr", " dB")].compactMap { label, key, unit in
            SignalBand.thresholds[key].map { t in
                "\(label) excellent from \(number(t.excellent))\(unit), good from \(number(t.good)), "
                    + "mid cell from \(number(t.midCell)), cell edge below"
            }
        }.joined(separator: "; ")
    }

    /// A signal value as the modem gave it: whole numbers without ".0".
    static func number(_ value: Double) -> String { DevicePage.shown("\(value)") }
}
