/// A device model's register map, from `Devices/<vendor>/<model>.yaml`.
public struct Profile: Sendable {
    public var vendor: String
    public var model: String
    /// Where the facts came from: manual, open project.
    public var source: String
    public var fits: String
    public var notes: String
    /// 0: addresses are PDU addresses; 1: manual numbering (1 = PDU 0).
    public var addressBase: Int
    public var limits: RequestLimits
    public var points: [Point]
    public var location: SourceLocation
}
