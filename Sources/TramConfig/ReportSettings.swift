/// Report by exception: which readings of a point the agent sends, and which it holds back because they tell a
/// consumer nothing new (docs/device-maps.md, "Report by exception").
///
/// Off unless a device has a `report:` section: then every poll is still made, but a reading is sent only when it
/// moved more than the point's deadband from the last value *sent* (so slow drift is still reported), when its
/// quality changed, or when its heartbeat is due.
public struct ReportSettings: Sendable, Hashable {
    /// The heartbeat when neither the point nor its device names one. Measured on VictoriaMetrics 1.79.5 with its
    /// default flags (docs/performance.md, "VictoriaMetrics and irregular series"): a series with bursts and a 15 s
    /// heartbeat while still is drawn without a gap by `query_range` at steps of 5, 15 and 60 s; with a 30 s heartbeat
    /// and 20 s bursts every 5 min, 45% of the 15 s steps (62% of the 5 s ones) came back empty.
    public static let defaultHeartbeat: Duration = .seconds(15)

    /// The device's default deadband, as a percentage of each point's `range:`. Points without a range (status
    /// words, enumerations, bit fields) and counters do not take it: they are sent on every change.
    public var deadbandPercent: Double?
    public var heartbeat: Duration
    /// Per point overrides, by point name.
    public var points: [String: PointReportSetting]
    public var location: SourceLocation
    /// Where `heartbeat:` is written, for a diagnostic about it.
    var heartbeatLocation: SourceLocation?

    public init(
        deadbandPercent: Double? = nil, heartbeat: Duration = ReportSettings.defaultHeartbeat,
        points: [String: PointReportSetting] = [:], location: SourceLocation = .unknown
    ) {
        self.deadbandPercent = deadbandPercent
        self.heartbeat = heartbeat
        self.points = points
        self.location = location
    }
}

/// A point's own `report:` as written: in its profile (a suggestion, used once its device turns reporting by
/// exception on) or under its device's `report: points:`.
public struct PointReportSetting: Sendable, Hashable {
    public var deadband: Deadband?
    public var heartbeat: Duration?

    public init(deadband: Deadband? = nil, heartbeat: Duration? = nil) {
        self.deadband = deadband
        self.heartbeat = heartbeat
    }

    /// `other`'s keys where it has them, this one's elsewhere.
    func overridden(by other: PointReportSetting?) -> PointReportSetting {
        PointReportSetting(deadband: other?.deadband ?? deadband, heartbeat: other?.heartbeat ?? heartbeat)
    }
}

/// How far a value may move before it is sent again.
public enum Deadband: Sendable, Hashable, CustomStringConvertible {
    /// 5 rather than 5.0, as the file said it.
    static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// In the point's engineering units (0: every change).
    case absolute(Double)
    /// A percentage of the point's `range:` span.
    case percentOfRange(Double)

    public var description: String {
        switch self {
        case .absolute(let value): Self.plain(value)
        case .percentOfRange(let percent): Self.plain(percent) + "%"
        }
    }
}

/// What the agent does with one point's readings once its device reports by exception: the rule the dictionary
/// carries to every consumer (wire format version 2, trailer tags 4 and 5).
public struct ReportRule: Sendable, Hashable {
    /// In engineering units; 0 sends every change.
    public var deadband: Double
    public var heartbeat: Duration

    public init(deadband: Double, heartbeat: Duration) {
        self.deadband = deadband
        self.heartbeat = heartbeat
    }
}

extension DeviceConfig {
    /// Each point's rule, in point order; nil for every point when the device has no `report:` (every poll is sent).
    ///
    /// A point's deadband is its own (`report: points:` in the agent file, else its profile's suggestion), else the
    /// device's percentage of the point's range; booleans, bit fields and strings, counters without their own
    /// deadband, and points without a range are sent on every change.
    public var reportRules: [ReportRule?] {
        guard let report else { return points.map { _ in nil } }
        return points.map { point in
            let setting = (point.report ?? PointReportSetting()).overridden(by: report.points[point.name])
            var deadband = 0.0
            if point.type.isInteger || point.type.isFloat {
                switch setting.deadband {
                case .absolute(let value)?: deadband = value
                case .percentOfRange(let percent)?: deadband = point.range.map { $0.span * percent / 100 } ?? 0
                case nil:
                    if point.kind == .gauge, let percent = report.deadbandPercent, let range = point.range {
                        deadband = range.span * percent / 100
                    }
                }
            }
            return ReportRule(deadband: deadband, heartbeat: setting.heartbeat ?? report.heartbeat)
        }
    }
}

extension ClosedRange<Double> {
    var span: Double { upperBound - lowerBound }
}
