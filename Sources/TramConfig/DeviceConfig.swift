/// One device on one link, with the points to read from it.
public struct DeviceConfig: Sendable {
    public var name: String
    public var link: String
    public var unit: Int
    /// The profile reference as written (`eastron/sdm630`), nil for inline points.
    public var profileReference: String?
    public var profile: Profile?
    public var points: [Point]
    public var limits: RequestLimits
    public var pollInterval: Duration
    /// Per-request timeout; nil means the link's response timeout.
    public var timeout: Duration?
    /// Report by exception, with its defaults; nil: every poll is sent.
    public var report: ReportSettings?
    public var location: SourceLocation

    public init(
        name: String, link: String, unit: Int, profileReference: String? = nil, profile: Profile? = nil,
        points: [Point],
        limits: RequestLimits = .default, pollInterval: Duration = .seconds(1), timeout: Duration? = nil,
        location: SourceLocation = SourceLocation.unknown
    ) {
        self.name = name
        self.link = link
        self.unit = unit
        self.profileReference = profileReference
        self.profile = profile
        self.points = points
        self.limits = limits
        self.pollInterval = pollInterval
        self.timeout = timeout
        self.report = nil
        self.location = location
    }
}
