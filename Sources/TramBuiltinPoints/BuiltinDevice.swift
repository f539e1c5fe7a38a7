/// One point of a built-in device: what it is called and how it travels. Its value comes from inside the agent,
/// not from a register, so it has no table or address (the one way it differs from a profile's point).
public struct BuiltinPoint: Sendable, Hashable {
    /// The point's type on the wire (a subset of the wire format's).
    public enum ValueType: String, Sendable, Hashable {
        case bool, int16, uint16, uint32, uint64, float64, string
    }

    /// A level, or a running total.
    public enum Kind: String, Sendable, Hashable {
        case gauge, counter
    }

    public var name: String
    public var type: ValueType
    public var unit: String
    public var kind: Kind
    public var description: String

    public init(_ name: String, _ type: ValueType, unit: String = "", kind: Kind = .gauge, _ description: String) {
        self.name = name
        self.type = type
        self.unit = unit
        self.kind = kind
        self.description = description
    }
}

/// A device the agent reports about itself: the `gateway` (its own health) or the `modem` (its cellular link).
///
/// The one place their points are named, typed, united and described: the agent's schema and the readers that fill
/// them, the collector's console and ingest summaries, and the docs' tables (checked by a test) all take them from
/// here, a pure module both processes import. Point order is the wire order.
public struct BuiltinDevice: Sendable, Hashable {
    public var name: String
    public var pollInterval: Duration
    public var points: [BuiltinPoint]

    public init(name: String, pollInterval: Duration, points: [BuiltinPoint]) {
        self.name = name
        self.pollInterval = pollInterval
        self.points = points
    }

    /// The index of a point by name.
    public func index(of point: String) -> Int? { points.firstIndex { $0.name == point } }
}

extension BuiltinDevice {
    public static let gatewayName = "gateway"
    public static let modemName = "modem"
    /// Both names: reserved in an agent file, and told apart from a plant's devices by the collector.
    public static let names = [gatewayName, modemName]

    /// Whether a device name is one of the built-in devices'.
    public static func isBuiltin(_ deviceName: String) -> Bool { names.contains(deviceName) }

    /// The spool's drop causes, in its own order and spelling (`DropCause.description`; a test keeps them equal).
    public static let spoolDropCauses = [
        "overflow", "age", "disk_full", "corrupt", "missing", "sync_failed", "power_loss", "rejected",
    ]

    /// The gateway's fixed points, before the three of each sink. `GatewayHealthSampler` fills them in this order.
    public static let gatewayPoints: [BuiltinPoint] =
        [
            BuiltinPoint("agent_version", .string, "tram-agent's version"),
            BuiltinPoint("uptime", .uint64, unit: "s", "seconds since the agent started"),
            BuiltinPoint("spool_bytes", .uint64, unit: "B", "bytes the spool holds on disk"),
            BuiltinPoint("spool_fill", .float64, unit: "%", "spool_bytes as a share of spool.max_bytes"),
            BuiltinPoint(
                "spool_oldest_age", .float64, unit: "s",
                "age of the oldest batch some sink has not acknowledged; 0 when every batch is delivered"),
            BuiltinPoint("spool_backlog", .uint64, "readings not yet delivered to every sink"),
            BuiltinPoint(
                "dropped_queue_full", .uint64, kind: .counter, "readings dropped because the spool writer was behind"),
            BuiltinPoint(
                "dropped_unencodable", .uint64, kind: .counter,
                "readings dropped because a cycle could not be encoded"),
        ]
        + spoolDropCauses.map { cause in
            BuiltinPoint(
                droppedPoint(cause), .uint64, kind: .counter, "readings the spool dropped for cause \(cause)")
        }
        + [
            BuiltinPoint("devices_online", .uint16, "Modbus devices whose last cycle fully succeeded"),
            BuiltinPoint("devices_degraded", .uint16, "Modbus devices whose last cycle partly failed"),
            BuiltinPoint("devices_offline", .uint16, "Modbus devices whose last cycle failed, or not read yet"),
            BuiltinPoint("clock_synchronised", .bool, "the kernel says the clock is synchronised (NTP)"),
            BuiltinPoint("clock_stepped", .bool, "the wall clock stepped since the last poll"),
            BuiltinPoint("cpu_time", .float64, unit: "s", kind: .counter, "user + system CPU of the agent process"),
            BuiltinPoint(
                "cpu_usage", .float64, unit: "%",
                "CPU of the agent since the previous poll (the first: since start), as a share of one core"),
            BuiltinPoint("memory_rss", .uint64, unit: "B", "resident memory of the agent process"),
        ]

    /// The point counting a spool drop cause's readings: `dropped_<cause>`.
    public static func droppedPoint(_ cause: String) -> String { droppedPrefix + cause }
    static let droppedPrefix = "dropped_"

    /// Whether a gateway point counts dropped readings (a `dropped_<cause>` of the spool's or the writer's).
    public static func isDroppedPoint(_ name: String) -> Bool { name.hasPrefix(droppedPrefix) }

    /// Whether a gateway point is a sink's consecutive failures (`sink_<name>_failures`).
    public static func isSinkFailuresPoint(_ name: String) -> Bool {
        name.hasPrefix("sink_") && name.hasSuffix("_failures")
    }

    /// The names of a sink's three points: `sink_<name>_state`, `_failures`, `_bytes_today`.
    public static func sinkPointNames(_ sink: String) -> (state: String, failures: String, bytesToday: String) {
        ("sink_\(sink)_state", "sink_\(sink)_failures", "sink_\(sink)_bytes_today")
    }

    /// The three points of each sink, after the fixed ones, in the config's sink order.
    public static func sinkPoints(_ sink: String) -> [BuiltinPoint] {
        [
            BuiltinPoint(
                sinkPointNames(sink).state, .uint16,
                "0 delivering, 1 backing off, 2 paused, 3 over budget, 4 stopped"),
            BuiltinPoint(sinkPointNames(sink).failures, .uint64, "consecutive failed uploads (0 after a success)"),
            BuiltinPoint(
                sinkPointNames(sink).bytesToday, .uint64, unit: "B",
                "bytes on the wire to the sink today (UTC day, the data budget's day)"),
        ]
    }

    /// The `gateway` device for a config's sinks.
    public static func gateway(sinks: [String], pollInterval: Duration) -> BuiltinDevice {
        BuiltinDevice(
            name: gatewayName, pollInterval: pollInterval, points: gatewayPoints + sinks.flatMap(sinkPoints))
    }

    /// The `modem` device: the same points whatever the modem exposes, so a USB reset never changes the schema.
    public static func modem(pollInterval: Duration) -> BuiltinDevice {
        BuiltinDevice(name: modemName, pollInterval: pollInterval, points: modemPoints)
    }

    public static let modemPoints: [BuiltinPoint] = [
        BuiltinPoint(
            "state", .int16,
            "ModemManager's MMModemState: -1 failed, 0 unknown, 1 initializing, 2 locked, 3 disabled, 4 disabling, "
                + "5 enabling, 6 enabled, 7 searching, 8 registered, 9 disconnecting, 10 connecting, 11 connected"),
        BuiltinPoint(
            "access_technologies", .uint32,
            "ModemManager's MMModemAccessTechnology bit mask, as it gives it (LTE 0x4000, 5GNR 0x8000)"),
        BuiltinPoint(
            "technology", .uint16,
            "the mask summarised: 0 none, 2 2G, 3 3G, 4 LTE, 5 5G NSA (LTE + NR), 6 5G SA (NR alone)"),
        BuiltinPoint("signal_quality", .uint16, unit: "%", "Modem.SignalQuality, 0-100"),
        BuiltinPoint(
            "registration_state", .uint16,
            "MMModem3gppRegistrationState: 0 idle, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming, ..."),
        BuiltinPoint("operator_code", .uint32, "MCC and MNC as one number (45204 is Viettel)"),
        BuiltinPoint("operator_name", .string, "the operator's name as the network gives it"),
        BuiltinPoint(
            "signal_rate", .uint32, unit: "s",
            "Modem.Signal.Rate: how often ModemManager refreshes the signal; 0 is off"),
        BuiltinPoint("lte_rsrp", .float64, unit: "dBm", "Signal.Lte[\"rsrp\"]"),
        BuiltinPoint("lte_rsrq", .float64, unit: "dB", "Signal.Lte[\"rsrq\"]"),
        BuiltinPoint("lte_snr", .float64, unit: "dB", "Signal.Lte[\"snr\"] (ModemManager's key is snr, not sinr)"),
        BuiltinPoint("lte_rssi", .float64, unit: "dBm", "Signal.Lte[\"rssi\"]"),
        BuiltinPoint("lte_error_rate", .float64, unit: "%", "Signal.Lte[\"error-rate\"]"),
        BuiltinPoint("nr_rsrp", .float64, unit: "dBm", "Signal.Nr5g[\"rsrp\"]"),
        BuiltinPoint("nr_rsrq", .float64, unit: "dB", "Signal.Nr5g[\"rsrq\"]"),
        BuiltinPoint("nr_snr", .float64, unit: "dB", "Signal.Nr5g[\"snr\"]"),
        BuiltinPoint("nr_error_rate", .float64, unit: "%", "Signal.Nr5g[\"error-rate\"]"),
        BuiltinPoint("cell_lac", .uint32, "serving cell's location area code, from Modem.Location (3GPP)"),
        BuiltinPoint("cell_tac", .uint32, "serving cell's tracking area code"),
        BuiltinPoint(
            "cell_id", .uint64, "serving cell id (28 bits on LTE, 36 on 5G NR: hence 64 bits)"),
    ]
}

extension BuiltinDevice {
    /// Names of the modem's points that code looks up by name (the collector's console and ingest summaries, the
    /// agent's status line); each is in ``modemPoints``, which a test checks.
    public enum Modem {
        public static let technology = "technology"
        public static let operatorCode = "operator_code"
        public static let operatorName = "operator_name"
        public static let lteRSRP = "lte_rsrp"
        public static let lteRSRQ = "lte_rsrq"
        public static let lteSNR = "lte_snr"
        public static let nrRSRP = "nr_rsrp"
        public static let nrRSRQ = "nr_rsrq"
        public static let nrSNR = "nr_snr"
    }

    /// Names of the gateway's points that code looks up by name; each is in ``gatewayPoints``.
    public enum Gateway {
        public static let agentVersion = "agent_version"
        public static let uptime = "uptime"
        public static let cpuUsage = "cpu_usage"
        public static let memoryRSS = "memory_rss"
        public static let spoolBacklog = "spool_backlog"
        public static let spoolFill = "spool_fill"
        public static let spoolOldestAge = "spool_oldest_age"
    }
}
