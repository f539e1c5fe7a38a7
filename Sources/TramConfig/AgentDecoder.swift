import TramBuiltinPoints
import TramYAML

/// Decodes an agent file. Profiles are resolved through a closure so that this
/// type stays free of I/O and of the profile cache.
struct AgentDecoder {
    static let keys = [
        "gateway", "profiles", "io_threads", "links", "devices", "spool", "sinks", "control", "batch", "modem",
    ]
    static let spoolKeys = [
        "directory", "max_bytes", "max_age", "overflow", "sync_interval", "replay", "disk_full_ring",
    ]
    static let gatewayKeys = ["id", "site", "health"]
    static let linkKeys = ["name", "url", "serial", "response_timeout", "byte_timeout", "connect_timeout"]
    static let serialKeys = ["baud", "parity", "data_bits", "stop_bits", "mode", "rts", "rts_delay"]
    static let deviceKeys = [
        "name", "link", "unit", "profile", "points", "address_base", "defaults", "poll_interval", "timeout", "limits",
        "report",
    ]

    let file: String
    let log: DiagnosticLog
    /// Looks up `profile:` references; reports and returns nil when one cannot be found.
    let resolveProfile: (_ reference: String, _ at: SourceLocation) -> Profile?

    func decode(_ root: YAMLNode) -> AgentConfig? {
        guard let map = MappingReader(root, file: file, log: log, what: "an agent file", allowedKeys: Self.keys) else {
            return nil
        }
        let (gateway, health) = decodeGateway(map.require("gateway", what: "an agent file"))
        let modem = decodeModem(map.value("modem"))
        let ioThreads = map.integer("io_threads", in: 1...256) ?? AgentConfig.defaultIOThreads
        let linkNodes = map.list("links") ?? []
        let links = linkNodes.compactMap(decodeLink)
        if !map.has("links") { log.error("missing required key 'links' in an agent file", at: map.location) }
        // Names as written, so that a link or device with other errors still counts as defined.
        let linkNames = declaredNames(linkNodes)
        checkUniqueNames(linkNames, what: "link")
        let deviceNodes = map.list("devices") ?? []
        let devices = deviceNodes.compactMap { decodeDevice($0, links: links, declaredLinks: Set(linkNames.map(\.0))) }
        if !map.has("devices") { log.error("missing required key 'devices' in an agent file", at: map.location) }
        checkUniqueNames(declaredNames(deviceNodes), what: "device")
        checkUnitClashes(devices)
        checkSharedEndpoints(links)
        let spool = decodeSpool(map.value("spool"))
        let sinkNodes = map.list("sinks") ?? []
        let sinks = sinkNodes.compactMap(decodeSink)
        checkUniqueNames(declaredNames(sinkNodes), what: "sink")
        let control = decodeControl(map.value("control"))
        let batch = decodeBatch(map.value("batch"))
        guard let gateway else { return nil }
        return AgentConfig(
            gateway: gateway, ioThreads: ioThreads, links: links, devices: devices, spool: spool, sinks: sinks,
            control: control, batch: batch, health: health, modem: modem)
    }

    private func decodeSpool(_ node: YAMLNode?) -> SpoolSettings {
        var settings = SpoolSettings()
        guard let node,
            let map = MappingReader(node, file: file, log: log, what: "spool settings", allowedKeys: Self.spoolKeys)
        else { return settings }
        settings.directory = map.string("directory") ?? settings.directory
        settings.maximumBytes = map.byteSize("max_bytes", atLeast: 1 << 20) ?? settings.maximumBytes
        settings.maximumAge = map.duration("max_age", atLeast: .seconds(60)) ?? settings.maximumAge
        settings.overflow =
            map.choice("overflow", SpoolSettings.Overflow.allCases.map { ($0.rawValue, $0) }) ?? settings.overflow
        settings.syncInterval = map.duration("sync_interval", atLeast: .milliseconds(10)) ?? settings.syncInterval
        settings.replay =
            map.choice("replay", SpoolSettings.Replay.allCases.map { ($0.rawValue, $0) }) ?? settings.replay
        settings.diskFullRingBytes = map.byteSize("disk_full_ring", atLeast: 64 << 10) ?? settings.diskFullRingBytes
        if settings.diskFullRingBytes > settings.maximumBytes {
            log.error(
                "'disk_full_ring' (\(settings.diskFullRingBytes) bytes) is larger than the whole spool's 'max_bytes' (\(settings.maximumBytes))",
                at: map.location(ofKey: "disk_full_ring"))
        }
        return settings
    }

    private func decodeGateway(_ node: YAMLNode?) -> (AgentConfig.Gateway?, HealthSettings) {
        guard let node,
            let map = MappingReader(node, file: file, log: log, what: "gateway", allowedKeys: Self.gatewayKeys)
        else { return (nil, HealthSettings()) }
        let health = decodeHealth(map.value("health"))
        guard map.require("id", what: "gateway") != nil, let id = map.string("id") else { return (nil, health) }
        if !Naming.isValid(id) {
            log.error(
                "gateway id '\(id)' may hold only letters, digits, '_', '-' and '.'",
                at: map.location(of: map.value("id")!))
        }
        return (AgentConfig.Gateway(id: id, site: map.string("site") ?? ""), health)
    }

    private func decodeLink(_ node: YAMLNode) -> LinkConfig? {
        guard let map = MappingReader(node, file: file, log: log, what: "a link", allowedKeys: Self.linkKeys) else {
            return nil
        }
        let name = map.require("name", what: "a link") != nil ? map.string("name") : nil
        var endpoint: LinkConfig.Endpoint?
        if map.require("url", what: "a link") != nil,
            let (text, urlNode) = map.scalarText("url", expected: "a link URL")
        {
            switch EndpointSyntax.parse(text) {
            case .failure(let error):
                log.error(error.message, at: map.location(of: urlNode))
            case .success(.tcp(let host, let port)):
                endpoint = .tcp(host: host, port: port)
            case .success(.rtuOverTCP(let host, let port)):
                endpoint = .rtuOverTCP(host: host, port: port)
            case .success(.rtu(let device)):
                endpoint = .rtu(device: device, serial: decodeSerial(map.value("serial")))
            }
            if let endpoint, map.has("serial"), case .rtu = endpoint {
            } else if map.has("serial") {
                log.error(
                    "'serial' settings apply to rtu:// links only",
                    at: map.location(of: map.value("serial") ?? map.node))
            }
        }
        let defaults = LinkConfig(name: "", endpoint: .tcp(host: "", port: 0))
        let responseTimeout = map.duration("response_timeout", atLeast: .milliseconds(1)) ?? defaults.responseTimeout
        let byteTimeout = map.duration("byte_timeout", atLeast: .microseconds(100)) ?? defaults.byteTimeout
        let connectTimeout = map.duration("connect_timeout", atLeast: .milliseconds(1)) ?? defaults.connectTimeout
        guard let name, let endpoint else { return nil }
        return LinkConfig(
            name: name, endpoint: endpoint, responseTimeout: responseTimeout, byteTimeout: byteTimeout,
            connectTimeout: connectTimeout, location: map.location)
    }

    private func decodeSerial(_ node: YAMLNode?) -> SerialSettings {
        var serial = SerialSettings()
        guard let node,
            let map = MappingReader(node, file: file, log: log, what: "serial settings", allowedKeys: Self.serialKeys)
        else { return serial }
        if let baud = map.integer("baud", in: 50...4_000_000) {
            serial.baud = baud
            if !SerialSettings.baudRates.contains(baud) {
                log.warning(
                    "baud \(baud) is not a common rate (\(SerialSettings.baudRates.map(String.init).joined(separator: ", ")))",
                    at: map.location(of: map.value("baud")!))
            }
        }
        serial.parity =
            map.choice(
                "parity", [("none", .none), ("even", .even), ("odd", .odd), ("N", .none), ("E", .even), ("O", .odd)])
            ?? serial.parity
        serial.dataBits = map.integer("data_bits", in: 5...8) ?? serial.dataBits
        serial.stopBits = map.integer("stop_bits", in: 1...2) ?? serial.stopBits
        serial.mode = map.choice("mode", [("rs232", SerialSettings.Mode.rs232), ("rs485", .rs485)])
        serial.rts = map.choice("rts", [("none", .none), ("up", .up), ("down", .down)]) ?? serial.rts
        serial.rtsDelay = map.duration("rts_delay")
        return serial
    }

    /// The names of the agent's built-in devices, which report the gateway itself (its health) and its cellular
    /// modem: no device of the file may take one (in any case), or two devices would share a name on the wire.
    static let reservedDeviceNames = BuiltinDevice.names

    private func decodeDevice(_ node: YAMLNode, links: [LinkConfig], declaredLinks: Set<String>) -> DeviceConfig? {
        guard let map = MappingReader(node, file: file, log: log, what: "a device", allowedKeys: Self.deviceKeys) else {
            return nil
        }
        let name = map.require("name", what: "a device") != nil ? map.string("name") : nil
        if let name, !Naming.isValid(name) {
            log.error(
                "device name '\(name)' may hold only letters, digits, '_', '-' and '.'",
                at: map.location(of: map.value("name")!))
        }
        if let name, let reserved = Self.reservedDeviceNames.first(where: { $0 == name.lowercased() }) {
            log.error(
                "device name '\(name)' is reserved: '\(reserved)' is one of the agent's built-in devices "
                    + "(\(Self.reservedDeviceNames.joined(separator: ", "))); name this device otherwise, "
                    + "for example '\(reserved)-1' or after what it measures",
                at: map.location(of: map.value("name")!))
        }
        var link: LinkConfig?
        let linkName = map.require("link", what: "a device") != nil ? map.string("link") : nil
        if let linkName {
            link = links.first { $0.name == linkName }
            if link == nil, !declaredLinks.contains(linkName) {
                log.error(
                    "device '\(name ?? "?")' names link '\(linkName)', which is not defined\(Suggestion.hint(for: linkName, among: links.map(\.name)))",
                    at: map.location(of: map.value("link")!))
            }
        }
        let unit = map.require("unit", what: "a device") != nil ? map.integer("unit", in: 0...255) : nil
        if let unit, let link, link.endpoint.isSerialBus, !(1...247).contains(unit) {
            log.error(
                "unit \(unit) cannot be polled on a serial bus: unit ids there run from 1 to 247 (0 is broadcast, which no device answers)",
                at: map.location(of: map.value("unit")!))
        }
        let pollInterval = map.duration("poll_interval", atLeast: .milliseconds(10)) ?? .seconds(1)
        let timeout = map.duration("timeout", atLeast: .milliseconds(1))

        var profile: Profile?
        var points: [Point] = []
        var limits = RequestLimits.default
        let reference = map.string("profile")
        switch (reference, map.has("points")) {
        case (let reference?, false):
            profile = resolveProfile(reference, map.location(of: map.value("profile")!))
            points = profile?.points ?? []
            limits = profile?.limits ?? .default
            if map.has("address_base") || map.has("defaults") {
                log.error(
                    "'address_base' and 'defaults' belong to inline points; the profile sets its own",
                    at: map.location(ofKey: map.has("address_base") ? "address_base" : "defaults"))
            }
        case (nil, true):
            let profileDecoder = ProfileDecoder(file: file, log: log)
            let base = profileDecoder.decodeAddressBase(map, what: "a device with inline points")
            let defaults = profileDecoder.decodeDefaults(map.value("defaults"), addressBase: base ?? 0)
            points = profileDecoder.decodePoints(map.value("points"), defaults: defaults)
        case (_?, true):
            log.error("device '\(name ?? "?")' has both 'profile' and 'points'; give one", at: map.location)
        case (nil, false):
            if map.value("profile") == nil {
                log.error(
                    "device '\(name ?? "?")' needs 'profile' (a file under Devices/) or inline 'points'",
                    at: map.location)
            }
        }
        let overrides = map.value("limits")
        limits = LimitsDecoder(file: file, log: log).decode(overrides, over: limits)
        if reference == nil {
            PointSetValidator(log: log).validate(points, limits: limits)
        } else if let overrides, let profile {
            // A profile under this device's limits: the profile's own problems are reported once, in the profile;
            // here only what these limits add, at this device's `limits:`.
            let own = DiagnosticLog(), here = DiagnosticLog()
            PointSetValidator(log: own).validate(points, limits: profile.limits)
            PointSetValidator(log: here).validate(points, limits: limits)
            let known = Set(own.diagnostics.map(\.description))
            for diagnostic in here.diagnostics where !known.contains(diagnostic.description) {
                log.error("\(diagnostic.message) (\(diagnostic.location))", at: map.location(of: overrides))
            }
        }
        let report = ReportDecoder(file: file, log: log).decodeDevice(
            map.value("report"), points: points, pollInterval: pollInterval)
        guard let name, let linkName, let unit else { return nil }
        var device = DeviceConfig(
            name: name, link: linkName, unit: unit, profileReference: reference, profile: profile, points: points,
            limits: limits, pollInterval: pollInterval, timeout: timeout, location: map.location)
        device.report = report
        return device
    }

    /// The `name:` of each mapping in a list, where it is text, with the mapping's place.
    func declaredNames(_ nodes: [YAMLNode]) -> [(String, SourceLocation)] {
        nodes.compactMap { node in
            guard case .mapping(let pairs) = node.kind,
                let pair = pairs.first(where: { $0.key.scalar == "name" }), !pair.value.isNull,
                let name = pair.value.scalar
            else { return nil }
            return (name, SourceLocation(file: file, mark: node.mark))
        }
    }

    func checkUniqueNames(_ names: [(String, SourceLocation)], what: String) {
        var seen: [String: SourceLocation] = [:]
        for (name, location) in names {
            if let first = seen[name] {
                log.error("duplicate \(what) name '\(name)' (first defined at line \(first.mark.line))", at: location)
            } else {
                seen[name] = location
            }
        }
    }

    /// A serial line has one owner: two links on one port (or one device server port) would be two masters on one bus.
    /// Two TCP links to one endpoint are legal but open two connections where one would serve.
    private func checkSharedEndpoints(_ links: [LinkConfig]) {
        var seen: [String: LinkConfig] = [:]
        for link in links {
            let key: String
            switch link.endpoint {
            case .rtu(let device, _): key = "rtu \(ConfigPath.normalize(device))"
            case .rtuOverTCP(let host, let port): key = "rtu+tcp \(host.lowercased()):\(port)"
            case .tcp(let host, let port): key = "tcp \(host.lowercased()):\(port)"
            }
            guard let first = seen[key] else {
                seen[key] = link
                continue
            }
            if link.endpoint.isSerialBus {
                log.error(
                    "links '\(first.name)' and '\(link.name)' both use \(first.endpoint): a serial bus has one master; put all its devices on one link",
                    at: link.location)
            } else {
                log.warning(
                    "links '\(first.name)' and '\(link.name)' both connect to \(link.endpoint); one link (one connection) can serve every unit id there",
                    at: link.location)
            }
        }
    }

    /// Two devices with one unit id on one link would answer each other's requests.
    private func checkUnitClashes(_ devices: [DeviceConfig]) {
        var seen: [String: DeviceConfig] = [:]
        for device in devices {
            let key = "\(device.link)#\(device.unit)"
            if let first = seen[key] {
                log.error(
                    "devices '\(first.name)' and '\(device.name)' both use unit \(device.unit) on link '\(device.link)'",
                    at: device.location)
            } else {
                seen[key] = device
            }
        }
    }
}
