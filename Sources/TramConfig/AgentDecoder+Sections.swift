import TramYAML
import TramCore

extension AgentDecoder {
    static let sinkKeys = [
        "name", "kind", "url", "token_file", "ca_file", "client_cert", "client_key", "pinned_public_key",
        "insecure_skip_verify", "connect_timeout", "request_timeout", "max_upload", "bandwidth", "daily_budget",
        "dead_letter_file", "compression", "auth_scheme",
    ]
    static let controlKeys = ["socket", "metrics_port", "writes", "raw_writes", "write_group", "write_journal"]
    static let batchKeys = ["max_age", "max_bytes"]
    static let healthKeys = ["enabled", "poll_interval"]
    static let modemKeys = ["enabled", "device", "poll_interval"]

    /// `gateway: health:`, the built-in `gateway` device.
    func decodeHealth(_ node: YAMLNode?) -> HealthSettings {
        var health = HealthSettings()
        guard let node,
            let map = MappingReader(
                node, file: file, log: log, what: "gateway health settings", allowedKeys: Self.healthKeys)
        else { return health }
        health.enabled = map.bool("enabled") ?? health.enabled
        health.pollInterval = map.duration("poll_interval", atLeast: .seconds(1)) ?? health.pollInterval
        return health
    }

    /// `modem:`, the built-in `modem` device. A section that names a `device` turns it on unless `enabled` says not.
    func decodeModem(_ node: YAMLNode?) -> ModemSettings {
        var modem = ModemSettings()
        guard let node,
            let map = MappingReader(node, file: file, log: log, what: "modem settings", allowedKeys: Self.modemKeys)
        else { return modem }
        modem.device = map.string("device")
        if modem.device?.isEmpty == true {
            log.error("'device' is empty; name a modem or leave the key out", at: map.location(ofKey: "device"))
            modem.device = nil
        }
        if modem.device != nil { modem.mode = .on }
        modem.mode =
            map.choice(
                "enabled", [("auto", .auto), ("true", .on), ("false", .off), ("yes", .on), ("no", .off)]) ?? modem.mode
        modem.pollInterval = map.duration("poll_interval", atLeast: .seconds(1)) ?? modem.pollInterval
        return modem
    }

    func decodeBatch(_ node: YAMLNode?) -> BatchSettings {
        var batch = BatchSettings()
        guard let node,
            let map = MappingReader(node, file: file, log: log, what: "batch settings", allowedKeys: Self.batchKeys)
        else { return batch }
        if let age = map.duration("max_age", atLeast: .milliseconds(100)) {
            if age > .seconds(3600) {
                log.error(
                    "'max_age' must be at most 1h (readings wait in memory until their batch is sealed)",
                    at: map.location(ofKey: "max_age"))
            } else {
                batch.maximumAge = age
            }
        }
        if let bytes = map.byteSize("max_bytes", atLeast: 4096) {
            if bytes > 8 << 20 {
                log.error("'max_bytes' must be at most 8MiB", at: map.location(ofKey: "max_bytes"))
            } else {
                batch.maximumBytes = bytes
            }
        }
        return batch
    }

    func decodeSink(_ node: YAMLNode) -> SinkSettings? {
        guard let map = MappingReader(node, file: file, log: log, what: "a sink", allowedKeys: Self.sinkKeys) else {
            return nil
        }
        let name = map.require("name", what: "a sink") != nil ? map.string("name") : nil
        if let name, !Naming.isValid(name) {
            log.error(
                "sink name '\(name)' may hold only letters, digits, '_', '-' and '.'",
                at: map.location(of: map.value("name")!))
        }
        let kind = map.choice("kind", SinkSettings.Kind.allCases.map { ($0.rawValue, $0) }) ?? .collector
        var url: String?
        if map.require("url", what: "a sink") != nil,
            let (text, urlNode) = map.scalarText("url", expected: "an http:// or https:// URL")
        {
            if text.hasPrefix("https://") || text.hasPrefix("http://") {
                url = text
            } else {
                log.error(
                    "sink 'url' must start with http:// or https://, found '\(text)'", at: map.location(of: urlNode))
            }
        }
        var sink = SinkSettings(name: name ?? "", kind: kind, url: url ?? "", location: map.location)
        sink.tokenFile = map.string("token_file")
        sink.caFile = map.string("ca_file")
        sink.clientCertificate = map.string("client_cert")
        sink.clientKey = map.string("client_key")
        sink.pinnedPublicKey = map.string("pinned_public_key")
        sink.verifyTLS = !(map.bool("insecure_skip_verify") ?? false)
        sink.connectTimeout = map.duration("connect_timeout", atLeast: .seconds(1)) ?? sink.connectTimeout
        sink.requestTimeout = map.duration("request_timeout", atLeast: .seconds(1)) ?? sink.requestTimeout
        sink.maximumUploadBytes = map.byteSize("max_upload", atLeast: 4096) ?? sink.maximumUploadBytes
        sink.bandwidthBytesPerSecond = map.byteSize("bandwidth", atLeast: 128)
        sink.dailyBudgetBytes = map.byteSize("daily_budget", atLeast: 1 << 20)
        sink.deadLetterFile = map.string("dead_letter_file")
        if let compression = map.choice("compression", [("gzip", true), ("none", false)]) {
            sink.compressLines = compression
            if kind == .collector {
                log.warning(
                    "'compression' applies to line_protocol sinks; the collector's frames are always zstd",
                    at: map.location(ofKey: "compression"))
            }
        }
        sink.authScheme = map.choice("auth_scheme", [("bearer", "Bearer"), ("token", "Token")]) ?? sink.authScheme
        if (sink.clientCertificate == nil) != (sink.clientKey == nil) {
            log.error("'client_cert' and 'client_key' go together (mTLS needs both)", at: map.location)
        }
        if let url, url.hasPrefix("http://") {
            if sink.tokenFile != nil, !Self.isLoopback(url) {
                log.warning(
                    "the token for sink '\(sink.name)' would cross the network in clear text over http://; use https://",
                    at: map.location(ofKey: "url"))
            }
            for key in ["ca_file", "client_cert", "pinned_public_key"] where map.has(key) {
                log.warning("'\(key)' has no effect on an http:// URL", at: map.location(ofKey: key))
            }
        }
        if kind == .lineProtocol, let url, !url.containsBytes(of: "precision=ms") {
            log.error(
                "a line_protocol sink's URL must carry 'precision=ms' (Tram timestamps are milliseconds), such as "
                    + "http://127.0.0.1:8428/write?precision=ms", at: map.location(ofKey: "url"))
        }
        guard name != nil, url != nil else { return nil }
        return sink
    }

    func decodeControl(_ node: YAMLNode?) -> ControlSettings {
        var control = ControlSettings()
        guard let node,
            let map = MappingReader(node, file: file, log: log, what: "control settings", allowedKeys: Self.controlKeys)
        else {
            return control
        }
        control.socket = map.string("socket") ?? control.socket
        if map.has("metrics_port") {
            if map.value("metrics_port") == nil {
                control.metricsPort = nil
            } else {
                control.metricsPort = map.integer("metrics_port", in: 0...65535) ?? control.metricsPort
            }
        }
        control.writes = map.bool("writes") ?? false
        control.rawWrites = map.bool("raw_writes") ?? false
        if control.rawWrites, !control.writes {
            log.error(
                "'raw_writes: true' needs 'writes: true' as well: writes by address are a kind of write",
                at: map.location(ofKey: "raw_writes"))
        }
        control.writeGroup = map.string("write_group") ?? control.writeGroup
        control.writeJournal = map.string("write_journal") ?? control.writeJournal
        return control
    }

    private static func isLoopback(_ url: String) -> Bool {
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        return rest.hasPrefix("127.") || rest.hasPrefix("localhost") || rest.hasPrefix("[::1]")
    }
}
