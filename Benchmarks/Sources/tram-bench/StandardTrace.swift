import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64, so that the standard trace is the same on every machine and in every language.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One poll: a timestamp and every point's raw value.
struct Tick {
    var timeMilliseconds: Int64
    var values: [WireValue]
}

/// A trace: point names and types, and the polls.
struct Trace {
    var names: [String]
    var types: [WireType]
    var ticks: [Tick]

    var readings: Int { ticks.reduce(0) { $0 + $1.values.count } }

    var dictionary: SchemaDictionary {
        SchemaDictionary(
            gateway: "gw-bench", points: zip(names, types).map { PointDescriptor(device: "line1", name: $0, type: $1) })
    }

    /// The standard trace (seed 1755): 100 points read in one request at 1 Hz for an hour, poll time
    /// jittered uniformly by ±3 ms; 60 float32 random walks from 100.00 with N(0, 0.1) steps quantised to 0.01;
    /// 20 uint16 constants; 20 uint32 counters growing by a uniform 0–10 a second.
    static func standard(seconds: Int = 3600, seed: UInt64 = 1755) -> Trace {
        var random = SplitMix64(state: seed)
        let names = (0..<100).map { $0 < 60 ? "walk\($0)" : $0 < 80 ? "const\($0 - 60)" : "counter\($0 - 80)" }
        let types: [WireType] = (0..<100).map { $0 < 60 ? .float32 : $0 < 80 ? .uint16 : .uint32 }
        var hundredths = [Int64](repeating: 10_000, count: 60)
        let constants = (0..<20).map { _ in UInt64.random(in: 0...65535, using: &random) }
        var counters = (0..<20).map { _ in UInt64.random(in: 0...1_000_000, using: &random) }
        var ticks: [Tick] = []
        ticks.reserveCapacity(seconds)
        let start: Int64 = 1_764_000_000_000
        for second in 0..<seconds {
            var values: [WireValue] = []
            values.reserveCapacity(100)
            for i in 0..<60 {
                if second > 0 { hundredths[i] += Int64((normal(&random) * 0.1 * 100).rounded()) }
                values.append(.float32(bits: Float(Double(hundredths[i]) / 100).bitPattern))
            }
            for i in 0..<20 { values.append(.uint(constants[i])) }
            for i in 0..<20 {
                if second > 0 { counters[i] += UInt64.random(in: 0...10, using: &random) }
                values.append(.uint(counters[i] & 0xFFFF_FFFF))
            }
            let jitter = Int64.random(in: -3...3, using: &random)
            ticks.append(Tick(timeMilliseconds: start + Int64(second) * 1000 + jitter, values: values))
        }
        return Trace(names: names, types: types, ticks: ticks)
    }

    /// Box–Muller on two uniforms in (0, 1].
    static func normal(_ random: inout SplitMix64) -> Double {
        let u1 = Double(random.next() >> 11 + 1) / 9_007_199_254_740_992
        let u2 = Double(random.next() >> 11) / 9_007_199_254_740_992
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A plant's own recording: CSV lines `timestamp_ms,point,type,raw_value` (type: bool, int16 … float64, string).
    /// Readings with one timestamp form one poll; points take aliases in order of first appearance.
    static func csv(_ text: String) throws -> Trace {
        var names: [String] = [], types: [WireType] = []
        var aliases: [String: Int] = [:]
        var byTime: [(Int64, [(Int, WireValue)])] = []
        for (number, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            if number == 0, fields.first == "timestamp_ms" { continue }
            guard fields.count == 4, let time = Int64(fields[0]), let type = typeNamed(fields[2]) else {
                throw TraceError(
                    message: "line \(number + 1): expected timestamp_ms,point,type,raw_value, found '\(line)'")
            }
            let alias: Int
            if let known = aliases[fields[1]] {
                alias = known
            } else {
                alias = names.count
                aliases[fields[1]] = alias
                names.append(fields[1])
                types.append(type)
            }
            guard let value = parse(fields[3], type) else {
                throw TraceError(message: "line \(number + 1): '\(fields[3])' is not a \(fields[2])")
            }
            if byTime.last?.0 == time {
                byTime[byTime.count - 1].1.append((alias, value))
            } else {
                byTime.append((time, [(alias, value)]))
            }
        }
        // Each poll carries every point; points a row does not mention are missing (not available).
        let ticks = byTime.map { time, readings in
            var values = [WireValue](repeating: .missing(.notAvailable), count: names.count)
            for (alias, value) in readings { values[alias] = value }
            return Tick(timeMilliseconds: time, values: values)
        }
        return Trace(names: names, types: types, ticks: ticks)
    }

    static func typeNamed(_ name: String) -> WireType? {
        [
            "bool": .bool, "int16": .int16, "uint16": .uint16, "int32": .int32, "uint32": .uint32, "int64": .int64,
            "uint64": .uint64, "float32": .float32, "float64": .float64, "string": .string,
        ][name]
    }

    static func parse(_ text: String, _ type: WireType) -> WireValue? {
        switch type {
        case .bool:
            return text == "1" || text == "true" ? .bool(true) : text == "0" || text == "false" ? .bool(false) : nil
        case .int16, .int32, .int64: return Int64(text).map { .int($0) }
        case .uint16, .uint32, .uint64: return UInt64(text).map { .uint($0) }
        case .float32: return Float(text).map { .float32(bits: $0.bitPattern) }
        case .float64: return Double(text).map { .float64(bits: $0.bitPattern) }
        case .string: return .string(text)
        }
    }
}

struct TraceError: Error { var message: String }
