import TramConfig
import TramModbus
import TramSpool
import TramUplink
#if canImport(Glibc)
import Glibc
#endif

/// The control socket's requests and their JSON answers (docs/agent.md, "Control socket").
///
///     status                     the one-screen summary: agent, devices, spool, uplinks
///     cycles <cursor> [device]   poll cycles after <cursor>, for `tramctl tail` (cursor 0: the newest ring)
///     read <serial-device> <unit> <table> <address> <count>
///                                a read on the bus the agent owns, between its poll cycles (`tramctl read`, `scan`)
///     version
enum ControlProtocol {
    static func answer(_ request: String, runtime: AgentRuntime) -> [UInt8] {
        let words = request.split(separator: " ").map(String.init)
        var json = JSONText()
        switch words.first {
        case "status"?:
            status(runtime, into: &json)
        case "cycles"?:
            let cursor = words.count > 1 ? Int(words[1]) ?? 0 : 0
            cycles(runtime, after: cursor, device: words.count > 2 ? words[2] : nil, into: &json)
        case "read"?:
            read(words, runtime: runtime, into: &json)
        case "version"?:
            json.object { $0.field("version", AgentRuntime.version) }
        default:
            json.object { $0.field("error", "unknown request '\(request.prefix(40))'; expected status, cycles, read or version") }
        }
        return json.bytes
    }

    static func read(_ words: [String], runtime: AgentRuntime, into json: inout JSONText) {
        guard words.count == 6, let unit = Int(words[2]), (0...255).contains(unit), let table = RegisterTable(rawValue: words[3]),
              let address = Int(words[4]), let count = Int(words[5]), (0...0xFFFF).contains(address),
              count >= 1, count <= (table.holdsBits ? 2000 : 125), address + count - 1 <= 0xFFFF else {
            json.object { $0.field("error", "read takes: read <serial-device> <unit> <table> <address> <count>") }
            return
        }
        let request = ReadRequest(table: table, address: address, count: count, points: [])
        guard let (link, result, roundTrip) = runtime.read(serialDevice: words[1], unit: unit, request: request) else {
            json.object { $0.field("error", "the agent does not poll \(words[1])") }
            return
        }
        json.object { o in
            o.field("link", link)
            o.field("round_trip_ns", Int64(roundTrip))
            switch result {
            case .success(let registers):
                o.field("registers", array: { list in for value in registers { list.number(Double(value)) } })
            case .failure(let error):
                o.field("read_error", "\(error)")
                switch error {
                case .timeout: o.field("error_kind", "timeout")
                case .exception(let code): o.field("error_kind", "exception"); o.field("exception", code)
                default: o.field("error_kind", "link")
                }
            }
        }
    }

    static func status(_ runtime: AgentRuntime, into json: inout JSONText) {
        let spool = runtime.status.spool
        let writer = runtime.status.writer
        let clock = runtime.clockFlags()
        json.object { o in
            o.field("agent", object: { a in
                a.field("version", AgentRuntime.version)
                a.field("pid", Int(getpid()))
                a.field("uptime_ms", runtime.status.uptimeMilliseconds)
                a.field("config", runtime.configPath)
                a.field("gateway", runtime.config.gateway.id)
                a.field("reloads", runtime.status.reloadCount)
                a.field("last_reload_error", runtime.status.lastReloadError)
                a.field("alive", runtime.status.isAlive())
            })
            o.field("clock", object: { c in
                c.field("synchronised", clock.contains(.synchronised))
                c.field("stepped", clock.contains(.stepped))
            })
            o.field("devices", array: { list in
                for entry in runtime.status.devices.entries { device(entry, into: &list) }
            })
            o.field("writer", object: { w in
                w.field("readings_produced", writer.readingsProduced)
                w.field("batches_sealed", writer.batchesSealed)
                w.field("readings_sealed", writer.readingsSealed)
                w.field("readings_dropped_queue_full", writer.readingsDroppedQueueFull)
                w.field("readings_dropped_unencodable", writer.readingsDroppedUnencodable)
                w.field("last_seal_ms", writer.lastSealWallMilliseconds)
            })
            o.field("spool", object: { s in
                s.field("directory", runtime.config.spool.directory)
                s.field("disk_bytes", spool.diskBytes)
                s.field("max_bytes", spool.maximumBytes)
                s.field("segments", spool.segments)
                s.field("epoch", Int64(spool.epoch))
                s.field("oldest_buffered_ms", spool.oldestBufferedMilliseconds)
                s.field("held_in_memory", spool.heldInMemory)
                tally("appended", spool.counters.appended, into: &s)
                tally("delivered", spool.counters.delivered, into: &s)
                tally("buffered", spool.counters.buffered, into: &s)
                s.field("dropped", object: { d in
                    for (cause, count) in spool.counters.dropped.sorted(by: { "\($0.key)" < "\($1.key)" }) { tally("\(cause)", count, into: &d) }
                })
            })
            o.field("uplinks", array: { list in
                for uplink in runtime.status.uplinks {
                    list.object { u in
                        u.field("sink", uplink.sink)
                        u.field("url", uplink.url)
                        u.field("state", uplink.stateName)
                        u.field("problem", uplink.stateProblem ?? uplink.lastProblem)
                        u.field("uploads", uplink.uploads)
                        u.field("failed_uploads", uplink.failedUploads)
                        u.field("batches_delivered", uplink.batchesDelivered)
                        u.field("batches_rejected", uplink.batchesRejected)
                        u.field("bytes_on_wire", uplink.bytesOnWire)
                        u.field("budget_used_today", uplink.budgetUsedToday)
                        u.field("budget_limit", uplink.budgetLimit)
                        u.field("last_delivery_ms", uplink.lastDeliveryMilliseconds)
                    }
                }
            })
        }
    }

    static func tally(_ name: String, _ tally: Tally, into json: inout JSONText) {
        json.field(name, object: { t in
            t.field("readings", tally.readings)
            t.field("batches", tally.batches)
        })
    }

    static func device(_ entry: DeviceBoard.Entry, into json: inout JSONText) {
        json.object { d in
            d.field("name", entry.device.name)
            d.field("link", entry.device.link)
            d.field("unit", entry.device.unit)
            d.field("health", entry.latest?.health.state.rawValue ?? "unknown")
            d.field("last_error", entry.latest?.health.lastError)
            d.field("latency_ms", entry.latencyMilliseconds)
            d.field("cycles", entry.cycles)
            d.field("failed_cycles", entry.failedCycles)
            d.field("poll_interval_ms", Int64(entry.device.pollInterval.components.seconds) * 1000
                        + entry.device.pollInterval.components.attoseconds / 1_000_000_000_000_000)
            d.field("points", array: { list in
                guard let reading = entry.latest else { return }
                points(reading, device: entry.device, into: &list)
            })
        }
    }

    static func points(_ reading: DeviceReading, device: DeviceConfig, point filter: String? = nil, into list: inout JSONText) {
        for index in reading.points.indices {
            let value = reading.points[index]
            guard value.point < device.points.count else { continue }
            let point = device.points[value.point]
            if let filter, point.name != filter { continue }
            list.object { p in
                p.field("name", point.name)
                p.key("value")
                if let raw = value.value, case .string(let text) = raw {
                    p.string(text)
                } else {
                    p.number(value.value.flatMap { Engineering.value($0, scale: point.scale, offset: point.offset, exponent: value.exponent) })
                }
                p.field("unit", point.unit)
                p.field("quality", value.quality.description)
                p.field("time_ms", value.timestamp.wallMilliseconds)
            }
        }
    }

    static func cycles(_ runtime: AgentRuntime, after cursor: Int, device filter: String?, into json: inout JSONText) {
        let (cycles, next, missed) = runtime.status.devices.cycles(after: cursor, nowMilliseconds: runtime.status.monotonicMilliseconds)
        json.object { o in
            o.field("cursor", next)
            o.field("missed", missed)
            o.field("cycles", array: { list in
                for cycle in cycles {
                    if let filter, cycle.reading.device != filter { continue }
                    guard let device = runtime.status.devices.device(named: cycle.reading.device) else { continue }
                    list.object { c in
                        c.field("device", cycle.reading.device)
                        c.field("health", cycle.reading.health.state.rawValue)
                        c.field("points", array: { points(cycle.reading, device: device, into: &$0) })
                    }
                }
            })
        }
    }
}
