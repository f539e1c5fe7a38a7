/// One thing that needs attention now (the console's problems page), with since when.
public struct ConsoleProblem: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case silent
        case offline
        case degraded
        case badQuality = "bad-quality"
        case clock
        case heldBack = "held-back"
    }

    public var kind: Kind
    public var site: String
    public var gateway: String
    public var device: String?
    public var point: String?
    /// What a person reads: "no upload", "timeout", "clock not synchronised", "12 readings held back".
    public var text: String
    public var sinceMilliseconds: Int64
}

/// A site and how many gateways it has.
public struct ConsoleSite: Sendable, Equatable {
    public var name: String
    public var gateways: Int
}
