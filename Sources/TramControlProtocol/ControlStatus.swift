import TramJSON

/// The answer to `status`: the agent on one screen (`tramctl status`, `tramctl top`).
///
///     {"agent":{…},"clock":{…},"devices":[…],"writer":{…},"spool":{…},"uplinks":[…]}
///
/// Field names are snake case on the socket (`uptime_ms`) and in this order; `tramctl status --json` prints them as
/// they come. Fields an older agent did not send read as zero or nil.
public struct ControlStatus: ControlMessage {
    public var agent: Agent
    public var clock: Clock
    public var devices: [Device]
    public var writer: Writer
    public var spool: Spool
    public var uplinks: [Uplink]
    /// The cellular link, when the agent has a `modem` device.
    public var link: Link?
    /// The write journal's newest lines, oldest first, when writes are on (`control: writes: true`).
    public var writes: [String]
    /// For a page (`status <from> <count>`): the first device's position and how many devices the agent has; nil
    /// when `devices` is all of them.
    public var page: Page?

    public struct Page: Sendable, Equatable {
        public var from: Int
        public var total: Int

        public init(from: Int, total: Int) {
            self.from = from
            self.total = total
        }

        /// Where the next page starts; nil after the last.
        public func next(after count: Int) -> Int? { from + count < total ? from + count : nil }
    }

    public init(
        agent: Agent, clock: Clock, devices: [Device], writer: Writer, spool: Spool, uplinks: [Uplink],
        link: Link? = nil, writes: [String] = []
    ) {
        self.link = link
        self.writes = writes
        self.agent = agent
        self.clock = clock
        self.devices = devices
        self.writer = writer
        self.spool = spool
        self.uplinks = uplinks
    }

    /// `link` only when the agent has a modem device, `writes` only when there are any; both last.
    public var json: JSON {
        var fields: [(String, JSON)] = [
            ("agent", agent.json), ("clock", clock.json), ("devices", .array(devices.map(\.json))),
            ("writer", writer.json),
            ("spool", spool.json), ("uplinks", .array(uplinks.map(\.json))),
        ]
        if let link { fields.append(("link", link.json)) }
        if !writes.isEmpty { fields.append(("writes", .array(writes.map(JSON.string)))) }
        if let page {
            fields.append(("devices_from", .int(Int64(page.from))))
            fields.append(("devices_total", .int(Int64(page.total))))
        }
        return .object(fields)
    }

    public init(json: JSON) throws(JSONShapeError) {
        let agent = try json.nested("agent") { () throws(JSONShapeError) in try Agent(json: try json.object("agent")) }
        let clock = try json.nested("clock") { () throws(JSONShapeError) in try Clock(json: try json.object("clock")) }
        let writer = try json.nested("writer") { () throws(JSONShapeError) in
            try Writer(json: try json.object("writer"))
        }
        let spool = try json.nested("spool") { () throws(JSONShapeError) in try Spool(json: try json.object("spool")) }
        var link: Link?
        if let member = json["link"], !member.isNull {
            link = try json.nested("link") { () throws(JSONShapeError) in try Link(json: member) }
        }
        self.init(
            agent: agent, clock: clock, devices: try json.items("devices", Device.init(json:)), writer: writer,
            spool: spool,
            uplinks: try json.items("uplinks", Uplink.init(json:)), link: link,
            writes: json["writes"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        if json["devices_total"] != nil {
            page = Page(from: try json.int("devices_from"), total: try json.int("devices_total"))
        }
    }
}

extension ControlStatus {
    /// The process: `{"version","pid","uptime_ms","config","gateway","reloads","last_reload_error","alive"}`.
    public struct Agent: Sendable, Equatable {
        public var version: String
        public var pid: Int
        public var uptimeMilliseconds: Int64
        /// The config file's path.
        public var config: String
        public var gateway: String
        public var reloads: Int
        /// Why the last reload was refused (the agent runs on with the config before it); nil after a good one.
        public var lastReloadError: String?
        /// Every stage's loop beat recently (what the watchdog checks).
        public var alive: Bool

        public init(
            version: String, pid: Int, uptimeMilliseconds: Int64, config: String, gateway: String, reloads: Int,
            lastReloadError: String?, alive: Bool
        ) {
            self.version = version
            self.pid = pid
            self.uptimeMilliseconds = uptimeMilliseconds
            self.config = config
            self.gateway = gateway
            self.reloads = reloads
            self.lastReloadError = lastReloadError
            self.alive = alive
        }

        var json: JSON {
            .object([
                ("version", .string(version)), ("pid", .int(Int64(pid))), ("uptime_ms", .int(uptimeMilliseconds)),
                ("config", .string(config)), ("gateway", .string(gateway)), ("reloads", .int(Int64(reloads))),
                ("last_reload_error", lastReloadError.map(JSON.string) ?? .null), ("alive", .bool(alive)),
            ])
        }

        init(json: JSON) throws(JSONShapeError) {
            self.init(
                version: try json.string("version"), pid: try json.int("pid"),
                uptimeMilliseconds: try json.int64("uptime_ms"),
                config: try json.string("config"), gateway: try json.string("gateway"),
                reloads: try json.int("reloads"),
                lastReloadError: try json.optionalString("last_reload_error"), alive: try json.bool("alive"))
        }
    }

    /// The kernel clock as the agent sees it: `{"synchronised","stepped"}` (readings are flagged when either is off).
    public struct Clock: Sendable, Equatable {
        public var synchronised: Bool
        /// The clock was stepped recently.
        public var stepped: Bool

        public init(synchronised: Bool, stepped: Bool) {
            self.synchronised = synchronised
            self.stepped = stepped
        }

        var json: JSON { .object([("synchronised", .bool(synchronised)), ("stepped", .bool(stepped))]) }

        init(json: JSON) throws(JSONShapeError) {
            self.init(synchronised: try json.bool("synchronised"), stepped: try json.bool("stepped"))
        }
    }

    /// A polled device and its points' newest readings.
    public struct Device: Sendable, Equatable {
        public var name: String
        public var link: String
        public var unit: Int
        /// `online`, `degraded`, `offline`, or `unknown` before its first cycle.
        public var health: String
        public var lastError: String?
        public var latencyMilliseconds: Double
        public var cycles: Int
        public var failedCycles: Int
        public var pollIntervalMilliseconds: Int64
        public var points: [ControlPoint]

        public init(
            name: String, link: String, unit: Int, health: String, lastError: String?, latencyMilliseconds: Double,
            cycles: Int, failedCycles: Int, pollIntervalMilliseconds: Int64, points: [ControlPoint]
        ) {
            self.name = name
            self.link = link
            self.unit = unit
            self.health = health
            self.lastError = lastError
            self.latencyMilliseconds = latencyMilliseconds
            self.cycles = cycles
            self.failedCycles = failedCycles
            self.pollIntervalMilliseconds = pollIntervalMilliseconds
            self.points = points
        }

        var json: JSON {
            .object([
                ("name", .string(name)), ("link", .string(link)), ("unit", .int(Int64(unit))),
                ("health", .string(health)),
                ("last_error", lastError.map(JSON.string) ?? .null), ("latency_ms", .number(latencyMilliseconds)),
                ("cycles", .int(Int64(cycles))), ("failed_cycles", .int(Int64(failedCycles))),
                ("poll_interval_ms", .int(pollIntervalMilliseconds)), ("points", .array(points.map(\.json))),
            ])
        }

        init(json: JSON) throws(JSONShapeError) {
            self.init(
                name: try json.string("name"), link: try json.string("link"), unit: try json.int("unit"),
                health: try json.string("health"), lastError: try json.optionalString("last_error"),
                latencyMilliseconds: try json.double("latency_ms"), cycles: try json.int("cycles"),
                failedCycles: try json.int("failed_cycles"),
                pollIntervalMilliseconds: try json.int64("poll_interval_ms"),
                points: try json.items("points", ControlPoint.init(json:)))
        }
    }

    /// Readings and batches, as the spool counts them: `{"readings","batches"}`.
    public struct Tally: Sendable, Equatable {
        public var readings: Int
        public var batches: Int

        public init(readings: Int, batches: Int) {
            self.readings = readings
            self.batches = batches
        }

        var json: JSON { .object([("readings", .int(Int64(readings))), ("batches", .int(Int64(batches)))]) }

        init(json: JSON) throws(JSONShapeError) {
            self.init(readings: try json.int("readings"), batches: try json.int("batches"))
        }
    }

    /// The stage that turns poll cycles into sealed batches.
    public struct Writer: Sendable, Equatable {
        public var readingsProduced: Int
        public var batchesSealed: Int
        public var readingsSealed: Int
        /// Readings lost before the spool because the writer's queue was full.
        public var readingsDroppedQueueFull: Int
        /// Readings the encoder could not represent.
        public var readingsDroppedUnencodable: Int
        /// Readings held back by report by exception (polled = sealed + suppressed + dropped here).
        public var readingsSuppressed: Int
        public var lastSealMilliseconds: Int64?

        public init(
            readingsProduced: Int, batchesSealed: Int, readingsSealed: Int, readingsDroppedQueueFull: Int,
            readingsDroppedUnencodable: Int, readingsSuppressed: Int = 0, lastSealMilliseconds: Int64?
        ) {
            self.readingsSuppressed = readingsSuppressed
            self.readingsProduced = readingsProduced
            self.batchesSealed = batchesSealed
            self.readingsSealed = readingsSealed
            self.readingsDroppedQueueFull = readingsDroppedQueueFull
            self.readingsDroppedUnencodable = readingsDroppedUnencodable
            self.lastSealMilliseconds = lastSealMilliseconds
        }

        var json: JSON {
            .object([
                ("readings_produced", .int(Int64(readingsProduced))), ("batches_sealed", .int(Int64(batchesSealed))),
                ("readings_sealed", .int(Int64(readingsSealed))),
                ("readings_dropped_queue_full", .int(Int64(readingsDroppedQueueFull))),
                ("readings_dropped_unencodable", .int(Int64(readingsDroppedUnencodable))),
                ("readings_suppressed", .int(Int64(readingsSuppressed))),
                ("last_seal_ms", lastSealMilliseconds.map(JSON.int) ?? .null),
            ])
        }

        init(json: JSON) throws(JSONShapeError) {
            self.init(
                readingsProduced: try json.int("readings_produced"), batchesSealed: try json.int("batches_sealed"),
                readingsSealed: try json.optionalInt("readings_sealed") ?? 0,
                readingsDroppedQueueFull: try json.int("readings_dropped_queue_full"),
                readingsDroppedUnencodable: try json.int("readings_dropped_unencodable"),
                readingsSuppressed: try json.optionalInt("readings_suppressed") ?? 0,
                lastSealMilliseconds: try json.optionalInt64("last_seal_ms"))
        }
    }

    /// The disk spool: its size, its books, and what it gave up (`dropped`, by cause).
    public struct Spool: Sendable, Equatable {
        public var directory: String
        public var diskBytes: Int
        public var maximumBytes: Int
        public var segments: Int
        public var epoch: UInt64
        /// When the oldest batch not yet delivered was sealed (wall ms); nil when none waits.
        public var oldestBufferedMilliseconds: Int64?
        /// Batches held in RAM while the disk refuses writes.
        public var heldInMemory: Int
        public var appended: Tally
        public var delivered: Tally
        public var buffered: Tally
        /// By cause (`disk_full`, `evicted`, …); written sorted by cause.
        public var dropped: [String: Tally]

        public init(
            directory: String, diskBytes: Int, maximumBytes: Int, segments: Int, epoch: UInt64,
            oldestBufferedMilliseconds: Int64?,
            heldInMemory: Int, appended: Tally, delivered: Tally, buffered: Tally, dropped: [String: Tally]
        ) {
            self.directory = directory
            self.diskBytes = diskBytes
            self.maximumBytes = maximumBytes
            self.segments = segments
            self.epoch = epoch
            self.oldestBufferedMilliseconds = oldestBufferedMilliseconds
            self.heldInMemory = heldInMemory
            self.appended = appended
            self.delivered = delivered
            self.buffered = buffered
            self.dropped = dropped
        }

        var json: JSON {
            .object([
                ("directory", .string(directory)), ("disk_bytes", .int(Int64(diskBytes))),
                ("max_bytes", .int(Int64(maximumBytes))),
                ("segments", .int(Int64(segments))), ("epoch", .uint(epoch)),
                ("oldest_buffered_ms", oldestBufferedMilliseconds.map(JSON.int) ?? .null),
                ("held_in_memory", .int(Int64(heldInMemory))),
                ("appended", appended.json), ("delivered", delivered.json), ("buffered", buffered.json),
                ("dropped", .object(dropped.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) })),
            ])
        }

        init(json: JSON) throws(JSONShapeError) {
            func tally(_ key: String) throws(JSONShapeError) -> Tally {
                try json.nested(key) { () throws(JSONShapeError) in try Tally(json: try json.object(key)) }
            }
            var dropped: [String: Tally] = [:]
            for (cause, value) in try json.object("dropped").objectMembers ?? [] {
                dropped[cause] = try json.nested("dropped.\(cause)") { () throws(JSONShapeError) in
                    try Tally(json: value)
                }
            }
            self.init(
                directory: try json.string("directory"), diskBytes: try json.int("disk_bytes"),
                maximumBytes: try json.int("max_bytes"),
                segments: try json.int("segments"),
                epoch: try json.optionalField("epoch", "an unsigned integer", \.uint64Value) ?? 0,
                oldestBufferedMilliseconds: try json.optionalInt64("oldest_buffered_ms"),
                heldInMemory: try json.int("held_in_memory"),
                appended: try tally("appended"), delivered: try tally("delivered"), buffered: try tally("buffered"),
                dropped: dropped)
        }
    }

    /// One sink's uplink.
    public struct Uplink: Sendable, Equatable {
        public var sink: String
        public var url: String
        /// `delivering`, `backing_off`, `paused`, … (the uplink's state by name).
        public var state: String
        /// Why it is paused or backing off, else the last problem it had; nil when it never had one.
        public var problem: String?
        public var uploads: Int
        public var failedUploads: Int
        public var batchesDelivered: Int
        /// Batches the sink refused as malformed (set aside in the dead-letter file).
        public var batchesRejected: Int
        public var bytesOnWire: Int
        public var budgetUsedToday: Int
        public var budgetLimit: Int?
        public var lastDeliveryMilliseconds: Int64?

        public init(
            sink: String, url: String, state: String, problem: String?, uploads: Int, failedUploads: Int,
            batchesDelivered: Int,
            batchesRejected: Int, bytesOnWire: Int, budgetUsedToday: Int, budgetLimit: Int?,
            lastDeliveryMilliseconds: Int64?
        ) {
            self.sink = sink
            self.url = url
            self.state = state
            self.problem = problem
            self.uploads = uploads
            self.failedUploads = failedUploads
            self.batchesDelivered = batchesDelivered
            self.batchesRejected = batchesRejected
            self.bytesOnWire = bytesOnWire
            self.budgetUsedToday = budgetUsedToday
            self.budgetLimit = budgetLimit
            self.lastDeliveryMilliseconds = lastDeliveryMilliseconds
        }

        var json: JSON {
            .object([
                ("sink", .string(sink)), ("url", .string(url)), ("state", .string(state)),
                ("problem", problem.map(JSON.string) ?? .null),
                ("uploads", .int(Int64(uploads))), ("failed_uploads", .int(Int64(failedUploads))),
                ("batches_delivered", .int(Int64(batchesDelivered))),
                ("batches_rejected", .int(Int64(batchesRejected))),
                ("bytes_on_wire", .int(Int64(bytesOnWire))), ("budget_used_today", .int(Int64(budgetUsedToday))),
                ("budget_limit", budgetLimit.map { .int(Int64($0)) } ?? .null),
                ("last_delivery_ms", lastDeliveryMilliseconds.map(JSON.int) ?? .null),
            ])
        }

        init(json: JSON) throws(JSONShapeError) {
            self.init(
                sink: try json.string("sink"), url: try json.string("url"), state: try json.string("state"),
                problem: try json.optionalString("problem"), uploads: try json.int("uploads"),
                failedUploads: try json.int("failed_uploads"),
                batchesDelivered: try json.int("batches_delivered"), batchesRejected: try json.int("batches_rejected"),
                bytesOnWire: try json.int("bytes_on_wire"), budgetUsedToday: try json.int("budget_used_today"),
                budgetLimit: try json.optionalInt("budget_limit"),
                lastDeliveryMilliseconds: try json.optionalInt64("last_delivery_ms"))
        }
    }
}
