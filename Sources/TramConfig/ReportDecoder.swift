import TramYAML

/// Decodes report-by-exception settings: a point's `range:` and `report:`, and a device's `report:` section.
struct ReportDecoder {
    static let pointKeys = ["deadband", "heartbeat"]
    static let deviceKeys = ["deadband", "heartbeat", "points"]
    /// A heartbeat below a second would re-send every point of a 1 s poll anyway.
    static let minimumHeartbeat: Duration = .seconds(1)

    let file: String
    let log: DiagnosticLog

    /// `range: [low, high]`, in engineering units.
    func decodeRange(_ map: MappingReader) -> ClosedRange<Double>? {
        guard let node = map.value("range") else { return nil }
        guard case .sequence(let items) = node.kind, items.count == 2,
            let low = items[0].scalar.flatMap(ScalarSyntax.number),
            let high = items[1].scalar.flatMap(ScalarSyntax.number),
            low.isFinite, high.isFinite
        else {
            log.error(
                "'range' expects [low, high] in engineering units, such as [0, 400], found \(Self.describe(node))",
                at: map.location(of: node))
            return nil
        }
        guard low < high else {
            log.error(
                "'range' [\(items[0].scalar!), \(items[1].scalar!)] must rise: low below high",
                at: map.location(of: node))
            return nil
        }
        return low...high
    }

    /// A point's `report:` (in a profile or inline), checked against its type and range.
    func decodePoint(_ node: YAMLNode?, type: ValueType?, range: ClosedRange<Double>?) -> PointReportSetting? {
        guard let node else { return nil }
        guard let map = MappingReader(node, file: file, log: log, what: "report settings", allowedKeys: Self.pointKeys)
        else { return nil }
        return decodeSetting(map, type: type, range: range)
    }

    /// A device's `report:`: turns report by exception on for its points, with defaults and per point overrides.
    /// Every heartbeat that applies must be at least twice the poll interval: the agent sends a heartbeat at the
    /// last poll that keeps the gap under it, which needs a poll to spare.
    func decodeDevice(_ node: YAMLNode?, points: [Point], pollInterval: Duration) -> ReportSettings? {
        guard let settings = decodeDeviceSettings(node, points: points) else { return nil }
        func check(_ heartbeat: Duration, _ what: String, at location: SourceLocation) {
            guard heartbeat < pollInterval * 2 else { return }
            log.error(
                "\(what) heartbeat \(heartbeat.shortDescription) is shorter than twice the poll interval "
                    + "(\(pollInterval.shortDescription)): a point could not be held back at all, and a late poll "
                    + "would break it; make it at least \((pollInterval * 2).shortDescription)",
                at: location)
        }
        check(settings.heartbeat, "the device's", at: settings.heartbeatLocation ?? settings.location)
        for point in points {
            let own = settings.points[point.name]?.heartbeat ?? point.report?.heartbeat
            if let own { check(own, "point '\(point.name)''s", at: settings.location) }
        }
        return settings
    }

    private func decodeDeviceSettings(_ node: YAMLNode?, points: [Point]) -> ReportSettings? {
        guard let node else { return nil }
        guard let map = MappingReader(node, file: file, log: log, what: "report settings", allowedKeys: Self.deviceKeys)
        else { return nil }
        var settings = ReportSettings(location: map.location)
        if let (deadband, node) = decodeDeadband(map) {
            switch deadband {
            case .percentOfRange(let percent): settings.deadbandPercent = percent
            case .absolute:
                log.error(
                    "a device's default 'deadband' is a percentage of each point's range, such as 1%; "
                        + "an absolute deadband belongs to one point (under 'points:'), in its units",
                    at: map.location(of: node))
            }
        }
        settings.heartbeat = decodeHeartbeat(map) ?? settings.heartbeat
        if map.has("heartbeat") { settings.heartbeatLocation = map.location(ofKey: "heartbeat") }
        if let pointsNode = map.value("points") {
            guard case .mapping(let pairs) = pointsNode.kind else {
                log.error(
                    "'points' expects point names, each with its deadband or heartbeat, found \(pointsNode.kindDescription)",
                    at: map.location(of: pointsNode))
                return settings
            }
            let names = points.map(\.name)
            for pair in pairs {
                guard let name = pair.key.scalar else { continue }
                guard let point = points.first(where: { $0.name == name }) else {
                    log.error(
                        "report settings name point '\(name)', which the device does not have\(Suggestion.hint(for: name, among: names))",
                        at: SourceLocation(file: file, mark: pair.key.mark))
                    continue
                }
                guard
                    let pointMap = MappingReader(
                        pair.value, file: file, log: log, what: "report settings", allowedKeys: Self.pointKeys)
                else { continue }
                if let setting = decodeSetting(pointMap, type: point.type, range: point.range) {
                    settings.points[name] = setting
                }
            }
        }
        return settings
    }

    private func decodeSetting(_ map: MappingReader, type: ValueType?, range: ClosedRange<Double>?)
        -> PointReportSetting?
    {
        var setting = PointReportSetting()
        if let (deadband, node) = decodeDeadband(map) {
            if let type, !(type.isInteger || type.isFloat) {
                log.error(
                    "'deadband' applies to numbers; a \(type) point is sent on every change", at: map.location(of: node)
                )
            } else if case .percentOfRange = deadband, range == nil {
                log.error(
                    "a deadband of \(deadband) needs the point's 'range: [low, high]' (its span, from the data sheet); "
                        + "or give it in the point's units",
                    at: map.location(of: node))
            } else {
                setting.deadband = deadband
            }
        }
        setting.heartbeat = decodeHeartbeat(map)
        return setting
    }

    /// `deadband: 0.5` (engineering units) or `deadband: 2%` (of the range).
    private func decodeDeadband(_ map: MappingReader) -> (Deadband, YAMLNode)? {
        guard let (text, node) = map.scalarText("deadband", expected: "a number in the point's units, or a percentage")
        else { return nil }
        let percent = text.hasSuffix("%")
        let number = ScalarSyntax.number(percent ? String(text.dropLast()).trimmingSpaces : text)
        guard let number, number.isFinite, number >= 0, !percent || number <= 100 else {
            log.error(
                "'deadband' expects a number of 0 or more in the point's units (0.5) or a percentage of its range "
                    + "(2%), found '\(text)'",
                at: map.location(of: node))
            return nil
        }
        return (percent ? .percentOfRange(number) : .absolute(number), node)
    }

    private func decodeHeartbeat(_ map: MappingReader) -> Duration? {
        map.duration("heartbeat", atLeast: Self.minimumHeartbeat)
    }

    private static func describe(_ node: YAMLNode) -> String {
        if let scalar = node.scalar { return "'\(scalar)'" }
        if case .sequence(let items) = node.kind { return "a list of \(items.count)" }
        return node.kindDescription
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
