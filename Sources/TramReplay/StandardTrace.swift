import TramSchema

#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64, so that a trace is the same on every machine and in every language.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal draw (Box–Muller on two uniforms in (0, 1]).
    public mutating func normal() -> Double {
        let u1 = Double(next() >> 11 + 1) / 9_007_199_254_740_992
        let u2 = Double(next() >> 11) / 9_007_199_254_740_992
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension ReplayTrace {
    /// The standard trace (docs/performance.md; seed 1755): one device of 100 points read in one request at 1 Hz for
    /// an hour, poll time jittered uniformly by ±3 ms; 60 float32 random walks from 100.00 with N(0, 0.1) steps
    /// quantised to 0.01; 20 uint16 constants; 20 uint32 counters growing by a uniform 0–10 a second. `tram-bench
    /// wire` encodes the same values.
    public static func standard(seconds: Int = 3600, seed: UInt64 = 1755) -> ReplayTrace {
        var random = SplitMix64(state: seed)
        let points = (0..<100).map { index in
            PointDescriptor(
                device: "line1",
                name: index < 60 ? "walk\(index)" : index < 80 ? "const\(index - 60)" : "counter\(index - 80)",
                type: index < 60 ? .float32 : index < 80 ? .uint16 : .uint32,
                kind: index >= 80 ? .counter : .gauge, intervalMilliseconds: 1000)
        }
        var hundredths = [Int64](repeating: 10_000, count: 60)
        let constants = (0..<20).map { _ in UInt64.random(in: 0...65535, using: &random) }
        var counters = (0..<20).map { _ in UInt64.random(in: 0...1_000_000, using: &random) }
        var polls: [Poll] = []
        polls.reserveCapacity(seconds)
        let start: Int64 = 1_764_000_000_000
        for second in 0..<seconds {
            var values: [WireValue] = []
            values.reserveCapacity(100)
            for i in 0..<60 {
                if second > 0 { hundredths[i] += Int64((random.normal() * 0.1 * 100).rounded()) }
                values.append(.float32(bits: Float(Double(hundredths[i]) / 100).bitPattern))
            }
            for i in 0..<20 { values.append(.uint(constants[i])) }
            for i in 0..<20 {
                if second > 0 { counters[i] += UInt64.random(in: 0...10, using: &random) }
                values.append(.uint(counters[i] & 0xFFFF_FFFF))
            }
            let jitter = Int64.random(in: -3...3, using: &random)
            let offset = Int64(second) * 1000 + jitter
            polls.append(
                Poll(
                    device: "line1", wallMilliseconds: start + offset, monotonicMilliseconds: 10_000 + offset,
                    values: values))
        }
        return ReplayTrace(dictionary: SchemaDictionary(gateway: "gw-bench", points: points), polls: polls)
    }

    /// The rules the goal names for the standard trace: a deadband of 0.5 (five steps of the walk) on the
    /// walks, every change on the counters, and on the constants every change too; each with `heartbeat`.
    public func standardRules(heartbeatMilliseconds: UInt64 = 15_000) -> ReplayTrace {
        withRules { point in
            (point.name.hasPrefix("walk") ? 0.5 : 0, heartbeatMilliseconds)
        }
    }
}
