import TramConfig

/// What one link's polling depends on in a config, without source positions: the link and its devices. A reload
/// restarts a link's polling (and reconnects it) only when this changed, so moving lines, editing comments or
/// changing another link's devices leaves its connection up.
struct LinkFingerprint: Equatable {
    var link: LinkConfig
    var devices: [DeviceShape]

    struct DeviceShape: Equatable {
        var name: String
        var unit: Int
        var points: [Point]
        var limits: RequestLimits
        var pollInterval: Duration
        var timeout: Duration?
    }

    init(_ link: LinkConfig, in config: AgentConfig) {
        var link = link
        link.location = .unknown
        self.link = link
        devices = config.devices.filter { $0.link == link.name }.map { device in
            DeviceShape(
                name: device.name, unit: device.unit,
                points: device.points.map { point in
                    var point = point
                    point.location = .unknown
                    point.kind = .gauge  // what readers make of the values; polling reads the same registers
                    return point
                },
                limits: device.limits, pollInterval: device.pollInterval, timeout: device.timeout)
        }
    }

    /// Every link's fingerprint, by link name.
    static func all(_ config: AgentConfig) -> [String: LinkFingerprint] {
        var out: [String: LinkFingerprint] = [:]
        for link in config.links { out[link.name] = LinkFingerprint(link, in: config) }
        return out
    }
}

extension AgentConfig {
    /// The part of the config one link's engine polls: that link and its devices.
    func restricted(toLink name: String) -> AgentConfig {
        var part = self
        part.links = links.filter { $0.name == name }
        part.devices = devices.filter { $0.link == name }
        return part
    }
}
