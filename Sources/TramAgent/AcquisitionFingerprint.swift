import TramConfig

/// What a running acquisition depends on in a config, without source positions: a reload that only moved
/// lines, edited comments or changed sinks keeps polling (and its connections) untouched.
struct AcquisitionFingerprint: Equatable {
    var gateway: String
    var ioThreads: Int
    var links: [LinkConfig]
    var devices: [DeviceShape]
    var batch: BatchSettings

    struct DeviceShape: Equatable {
        var name: String
        var link: String
        var unit: Int
        var points: [Point]
        var limits: RequestLimits
        var pollInterval: Duration
        var timeout: Duration?
    }

    init(_ config: AgentConfig) {
        gateway = config.gateway.id
        ioThreads = config.ioThreads
        links = config.links.map { link in
            var link = link
            link.location = .unknown
            return link
        }
        devices = config.devices.map { device in
            DeviceShape(name: device.name, link: device.link, unit: device.unit,
                        points: device.points.map { point in
                            var point = point
                            point.location = .unknown
                            return point
                        },
                        limits: device.limits, pollInterval: device.pollInterval, timeout: device.timeout)
        }
        batch = config.batch
    }
}
