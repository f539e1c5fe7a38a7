/// How long to wait before the next attempt after consecutive failures: exponential from `initial`, capped at
/// `maximum`, with jitter so that a plant's worth of gateways does not retry in step after a switch reboots or a
/// collector restarts. The one backoff in Tram: Modbus reconnects, uplink deliveries and the collector's relay.
///
/// Pure: the random draw is passed in (`unit`, uniform in [0, 1)), so tests give exact values.
public struct Backoff: Sendable, Equatable {
    public enum Jitter: Sendable, Equatable {
        /// No jitter: exactly `initial × 2^failures`, capped.
        case none
        /// Each delay scaled by a factor in 1 ± fraction.
        case proportional(Double)
        /// Half the delay fixed, half drawn: in [delay / 2, delay). Never zero, and peers that failed together
        /// spread out over half the interval.
        case halfFixed
    }

    public var initial: Duration
    public var maximum: Duration
    public var jitter: Jitter
    /// Consecutive failures so far.
    public private(set) var failures = 0

    public init(initial: Duration, maximum: Duration, jitter: Jitter) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// Reconnecting a Modbus link: 250 ms doubling to 30 s, ± 20%.
    public static let reconnect = Backoff(
        initial: .milliseconds(250), maximum: .seconds(30), jitter: .proportional(0.2))
    /// Delivering to a sink: 500 ms doubling to 5 min, half fixed, half jitter.
    public static let delivery = Backoff(baseMilliseconds: 500, capMilliseconds: 300_000)

    /// The delivery shape (half fixed, half jitter) in whole milliseconds.
    public init(baseMilliseconds: Int64, capMilliseconds: Int64) {
        self.init(initial: .milliseconds(baseMilliseconds), maximum: .milliseconds(capMilliseconds), jitter: .halfFixed)
    }

    public mutating func reset() { failures = 0 }

    /// The wait before the next attempt, after one more failure.
    public mutating func next(unit: Double) -> Duration {
        let exponent = min(failures, 30)
        failures += 1
        let ceiling = min(Double(initial.microseconds) * Double(1 << exponent), Double(maximum.microseconds))
        let draw = min(max(unit, 0), 0.999_999)
        switch jitter {
        case .none:
            return .microseconds(Int64(ceiling))
        case .proportional(let fraction):
            return .microseconds(Int64(ceiling * (1 + fraction * (2 * draw - 1))))
        case .halfFixed:
            let half = Int64(ceiling) / 2
            return .microseconds(half + Int64(Double(half) * draw))
        }
    }

    /// The wait in milliseconds, never sooner than a server's `Retry-After`.
    public mutating func next(retryAfterSeconds: Int?, unit: Double) -> Int64 {
        max(next(unit: unit).milliseconds, Int64(retryAfterSeconds ?? 0) * 1000)
    }

    /// The next wait with a draw from the system's generator.
    public mutating func nextDelay() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(unit: Double.random(in: 0..<1, using: &generator))
    }
}
