/// Reconnect pacing: exponential, capped, with jitter so that a plant's worth
/// of gateways does not reconnect in step after a switch reboots.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    /// Each delay is scaled by a random factor in 1 ± jitter.
    public var jitter: Double
    public private(set) var failures = 0

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30), jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before the next attempt, after one more failure.
    public mutating func nextDelay<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        failures += 1
        let exponent = min(failures - 1, 30)
        let base = min(Double(initial.microseconds) * Double(1 << exponent), Double(maximum.microseconds))
        let factor = 1 + Double.random(in: -jitter...jitter, using: &generator)
        return .microseconds(Int64(base * factor))
    }

    public mutating func nextDelay() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return nextDelay(using: &generator)
    }

    public mutating func reset() { failures = 0 }
}
