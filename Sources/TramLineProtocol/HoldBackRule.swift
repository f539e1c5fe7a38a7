/// Which readings go out as line protocol at all: docs/collector.md, "Relay", the hold-back rule.
///
/// A time-series store silently drops a 1970 timestamp (outside any retention), and one far in the future would sit
/// ahead of every query, so such readings are held back and counted, never written. The collector's relay and the
/// uplink's line-protocol sink apply the same rule.
public enum HoldBackRule {
    /// 2020-01-01T00:00:00Z: no Tram gateway stamped a reading before it; a clock that says so was never set.
    public static let earliest: Int64 = 1_577_836_800_000
    /// A reading more than a day ahead of the sender's clock has a wrong timestamp.
    public static let aheadTolerance: Int64 = 86_400_000

    /// A timestamp that may be sent: on or after 2020-01-01 and at most a day ahead of `now`.
    public static func plausible(_ time: Int64, now: Int64) -> Bool {
        time >= earliest && time <= now &+ aheadTolerance
    }
}
