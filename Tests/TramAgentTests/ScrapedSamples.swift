/// A Prometheus text exposition (format 0.0.4), parsed strictly enough to catch a malformed line:
/// every sample line must be `name{label="value",...} number` or `name number`, and every sample must belong
/// to a family announced by a `# TYPE` line before it.
struct ScrapedSamples {
    /// Sample values by their series as written: `tram_poll_errors_total{device="meter"}`.
    private(set) var values: [String: Double] = [:]
    /// Family names by type, from the `# TYPE` lines.
    private(set) var types: [String: String] = [:]

    struct Malformed: Error, CustomStringConvertible {
        let line: String
        var description: String { "not an exposition line: \(line)" }
    }

    init(_ bytes: [UInt8]) throws {
        try self.init(String(decoding: bytes, as: UTF8.self))
    }

    init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3])
                else {
                    throw Malformed(line: String(line))
                }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("# HELP ") { continue }
            guard let space = line.lastIndex(of: " "), let value = Self.number(line[line.index(after: space)...]) else {
                throw Malformed(line: String(line))
            }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" }
            guard Self.isMetricName(name), Self.hasValidLabels(series.dropFirst(name.count)) else {
                throw Malformed(line: String(line))
            }
            let family =
                ["_bucket", "_sum", "_count"].first {
                    name.hasSuffix($0) && types[String(name.dropLast($0.count))] == "histogram"
                }
                .map { String(name.dropLast($0.count)) } ?? String(name)
            guard types[family] != nil else { throw Malformed(line: String(line)) }
            values[String(series)] = value
        }
    }

    subscript(_ series: String) -> Double? { values[series] }

    /// The series of one family (histogram parts included), as written.
    func series(of family: String) -> [String] {
        values.keys.filter { $0 == family || $0.hasPrefix(family + "{") || $0.hasPrefix(family + "_") }.sorted()
    }

    private static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    private static func isMetricName(_ name: Substring) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    /// `{a="x",b="y"}` (escapes allowed in values) or nothing.
    private static func hasValidLabels(_ text: Substring) -> Bool {
        guard !text.isEmpty else { return true }
        guard text.first == "{", text.last == "}" else { return false }
        var rest = text.dropFirst().dropLast()
        while !rest.isEmpty {
            let name = rest.prefix { $0 != "=" }
            guard isMetricName(name), !name.contains(":") else { return false }
            rest = rest.dropFirst(name.count)
            guard rest.hasPrefix("=\"") else { return false }
            rest = rest.dropFirst(2)
            var escaped = false
            var closed = false
            while let character = rest.popFirst() {
                if escaped { escaped = false; continue }
                if character == "\\" { escaped = true; continue }
                if character == "\"" { closed = true; break }
            }
            guard closed else { return false }
            if rest.hasPrefix(",") { rest = rest.dropFirst() } else if !rest.isEmpty { return false }
        }
        return true
    }
}
