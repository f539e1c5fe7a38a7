/// One device on one link, with the points to read from it.
///
/// Held by reference and copied on write: the agent keeps a device's config in several places (the config, its
/// link's engine, its poller, the status board), and inline it is 464 B a copy, 6 MB over four copies of 3,334
/// devices. A copy is 8 B now (`PointFootprintTests`); changing one copies its fields first, as a struct would.
public struct DeviceConfig: Sendable {
    struct Fields: Sendable {
        var name: String
        var link: String
        var unit: Int
        var profileReference: String?
        var profile: Profile?
        var points: [Point]
        var limits: RequestLimits
        var pollInterval: Duration
        var timeout: Duration?
        var report: ReportSettings?
        var location: SourceLocation
    }

    /// Mutated only while uniquely referenced (`fields`' setter copies it first otherwise), so sharing it across
    /// threads is as safe as sharing a struct.
    final class Storage: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var storage: Storage

    private var fields: Fields {
        get { storage.fields }
        _modify {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
            yield &storage.fields
        }
    }

    public var name: String {
        get { fields.name }
        set { fields.name = newValue }
    }
    public var link: String {
        get { fields.link }
        set { fields.link = newValue }
    }
    public var unit: Int {
        get { fields.unit }
        set { fields.unit = newValue }
    }
    /// The profile reference as written (`eastron/sdm630`), nil for inline points.
    public var profileReference: String? {
        get { fields.profileReference }
        set { fields.profileReference = newValue }
    }
    public var profile: Profile? {
        get { fields.profile }
        set { fields.profile = newValue }
    }
    public var points: [Point] {
        get { fields.points }
        _modify { yield &fields.points }
    }
    public var limits: RequestLimits {
        get { fields.limits }
        set { fields.limits = newValue }
    }
    public var pollInterval: Duration {
        get { fields.pollInterval }
        set { fields.pollInterval = newValue }
    }
    /// Per-request timeout; nil means the link's response timeout.
    public var timeout: Duration? {
        get { fields.timeout }
        set { fields.timeout = newValue }
    }
    /// Report by exception, with its defaults; nil: every poll is sent.
    public var report: ReportSettings? {
        get { fields.report }
        set { fields.report = newValue }
    }
    public var location: SourceLocation {
        get { fields.location }
        set { fields.location = newValue }
    }

    public init(
        name: String, link: String, unit: Int, profileReference: String? = nil, profile: Profile? = nil,
        points: [Point],
        limits: RequestLimits = .default, pollInterval: Duration = .seconds(1), timeout: Duration? = nil,
        location: SourceLocation = SourceLocation.unknown
    ) {
        storage = Storage(
            Fields(
                name: name, link: link, unit: unit, profileReference: profileReference, profile: profile,
                points: points, limits: limits, pollInterval: pollInterval, timeout: timeout, report: nil,
                location: location))
    }
}
