import Foundation

/// How the console runs (`tram-collector serve --console-listen …`).
public struct ConsoleSettings: Sendable {
    /// Local days, months and years, and every time shown (`--time-zone`, default UTC).
    public var timeZone: TimeZone
    /// A session's life (`--session-hours`, default 12).
    public var sessionMilliseconds: Int64
    /// The listener has TLS: the session cookie is `Secure`.
    public var secure: Bool
    /// Sign-in attempts per second per client address, and the burst above that rate.
    public var signInRate: Double
    public var signInBurst: Double

    public init(
        timeZone: TimeZone = TimeZone(identifier: "UTC")!, sessionMilliseconds: Int64 = 12 * 3_600_000,
        secure: Bool = false, signInRate: Double = 0.2, signInBurst: Double = 10
    ) {
        self.timeZone = timeZone
        self.sessionMilliseconds = sessionMilliseconds
        self.secure = secure
        self.signInRate = signInRate
        self.signInBurst = signInBurst
    }
}
