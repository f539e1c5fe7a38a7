import TramCore
import TramSchema

/// How `tramctl decode` shows a dictionary: a summary line, and with `--points` one line a point.
enum DictionaryDescription {
    /// `dictionary 0x… gateway gw-1: 6 points (1 counter), batch max age 10s`
    static func summary(_ dictionary: SchemaDictionary, id: UInt64) -> String {
        let counters = dictionary.points.count { $0.kind == .counter }
        var line =
            "dictionary 0x\(String(id, radix: 16)) gateway \(dictionary.gateway): \(dictionary.points.count) points"
        if counters > 0 { line += " (\(counters) counter\(counters == 1 ? "" : "s"))" }
        if let age = dictionary.batchMaximumAgeMilliseconds { line += ", batch max age \(duration(age))" }
        return line
    }

    /// `  #1 incomer/energy uint32 kWh scale 0.1 counter every 1s`
    static func point(_ point: PointDescriptor, alias: Int) -> String {
        var line = "  #\(alias) \(point.device)/\(point.name) \(point.type)"
        if !point.unit.isEmpty { line += " \(point.unit)" }
        if point.scale != 1 { line += " scale \(point.scale)" }
        if point.offset != 0 { line += " offset \(point.offset)" }
        if let exponent = point.exponentAlias { line += " exponent #\(exponent)" }
        line += " \(point.kind.name)"
        if let interval = point.intervalMilliseconds { line += " every \(duration(interval))" }
        return line
    }

    static func duration(_ milliseconds: UInt64) -> String {
        milliseconds > UInt64(Int64.max / 1000)
            ? "\(milliseconds)ms" : Duration.milliseconds(Int64(milliseconds)).shortDescription
    }
}
