import TramJSON

extension ControlStatus {
    /// The gateway's cellular link from its built-in `modem` device, for one line of `tramctl status` and `top`:
    /// `{"technology","rsrp","rsrq","snr","operator","quality","problem","measured_ms"}`. Absent when the agent has
    /// no modem device. Signal values are those of the NR leg on 5G, else LTE's; nil where the modem did not say.
    public struct Link: Sendable, Equatable {
        /// `5G NSA`, `5G SA`, `LTE`, `3G`, `2G`, `none`.
        public var technology: String?
        public var rsrp: Double?
        public var rsrq: Double?
        public var snr: Double?
        public var operatorName: String?
        /// The signal's quality when it is not good (`disabled`: signal polling is off; `absent`: no modem).
        public var quality: String
        public var problem: String?
        public var measuredMilliseconds: Int64?

        public init(
            technology: String?, rsrp: Double?, rsrq: Double?, snr: Double?, operatorName: String?, quality: String,
            problem: String?, measuredMilliseconds: Int64?
        ) {
            self.technology = technology
            self.rsrp = rsrp
            self.rsrq = rsrq
            self.snr = snr
            self.operatorName = operatorName
            self.quality = quality
            self.problem = problem
            self.measuredMilliseconds = measuredMilliseconds
        }

        var json: JSON {
            func number(_ value: Double?) -> JSON { value.map(JSON.double) ?? .null }
            return .object([
                ("technology", technology.map(JSON.string) ?? .null), ("rsrp", number(rsrp)), ("rsrq", number(rsrq)),
                ("snr", number(snr)), ("operator", operatorName.map(JSON.string) ?? .null),
                ("quality", .string(quality)), ("problem", problem.map(JSON.string) ?? .null),
                ("measured_ms", measuredMilliseconds.map(JSON.int) ?? .null),
            ])
        }

        init(json: JSON) throws(JSONShapeError) {
            self.init(
                technology: try json.optionalString("technology"), rsrp: try json.optionalDouble("rsrp"),
                rsrq: try json.optionalDouble("rsrq"), snr: try json.optionalDouble("snr"),
                operatorName: try json.optionalString("operator"), quality: try json.string("quality"),
                problem: try json.optionalString("problem"), measuredMilliseconds: try json.optionalInt64("measured_ms")
            )
        }

        /// The one line: `link: 5G NSA  RSRP -95 dBm  SNR 12.5 dB  Viettel` (or why there is none).
        public var line: String {
            var parts = [technology ?? "?"]
            if let rsrp { parts.append("RSRP \(Self.format(rsrp)) dBm") }
            if let snr { parts.append("SNR \(Self.format(snr)) dB") }
            if let operatorName { parts.append(operatorName) }
            if rsrp == nil, snr == nil, quality != "good" {
                parts.append("signal \(quality == "disabled" ? "polling off" : quality.replacing("_", with: " "))")
            }
            if quality == "absent" { return "no modem" + (problem.map { " (\($0))" } ?? "") }
            return parts.joined(separator: "  ")
        }

        static func format(_ value: Double) -> String {
            // A modem's nonsense (inf, 1e300) is shown as it is, never trapped on by Int().
            guard value.isFinite, abs(value) < 1e9 else { return "\(value)" }
            let tenths = (value * 10).rounded()
            return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(tenths / 10)
        }
    }
}
