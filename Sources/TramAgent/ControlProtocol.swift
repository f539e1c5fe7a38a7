import TramBuiltinPoints
import TramConfig
import TramControlProtocol
import TramModbus
import TramSpool
import TramUplink
import TramWrite
#if canImport(Glibc)
import Glibc
import TramCore
#endif

/// Answers the control socket's requests from the runtime's state. The requests and answers themselves, and their
/// JSON, are TramControlProtocol's (shared with `tramctl`); this builds them (docs/agent.md, "Control socket").
enum ControlProtocol {
    static func answer(_ line: String, peer: ControlPeer?, runtime: AgentRuntime) -> [UInt8] {
        let request: ControlRequest
        do { request = try ControlRequest(line: line) } catch { return error.bytes }
        switch request {
        case .status:
            return status(runtime).bytes
        case .statusPage(let from, let count):
            // `from + count` can overflow for numbers a client sent; the window then runs to the end.
            let (end, overflowed) = from.addingReportingOverflow(count)
            return status(runtime, devices: from..<(overflowed ? Int.max : end)).bytes
        case .cycles(let cursor, let device):
            return cycles(runtime, after: cursor, device: device).bytes
        case .read(let read):
            switch self.read(read, runtime: runtime) {
            case .success(let result): return result.bytes
            case .failure(let error): return error.bytes
            }
        case .version:
            return ControlVersion(version: AgentRuntime.version).bytes
        case .write(let write):
            return runtime.writes().answer(write, peer: peer).bytes
        }
    }

    static func read(_ read: ControlReadRequest, runtime: AgentRuntime) -> Result<ControlReadResult, ControlError> {
        guard (0...255).contains(read.unit), let table = RegisterTable(rawValue: read.table),
            (0...0xFFFF).contains(read.address),
            read.count >= 1, read.count <= (table.holdsBits ? 2000 : 125), read.address + read.count - 1 <= 0xFFFF
        else {
            return .failure(.readUsage)
        }
        let request = ReadRequest(table: table, address: read.address, count: read.count, points: [])
        guard
            let (link, result, roundTrip) = runtime.read(
                serialDevice: read.serialDevice, unit: read.unit, request: request)
        else {
            return .failure(.notPolled(read.serialDevice))
        }
        switch result {
        case .success(let registers):
            return .success(
                ControlReadResult(link: link, roundTripNanoseconds: roundTrip, outcome: .registers(registers)))
        case .failure(let error):
            let kind: ControlReadFailure.Kind =
                switch error {
                case .timeout: .timeout
                case .exception(let code): .exception(code: code)
                default: .link
                }
            return .success(
                ControlReadResult(
                    link: link, roundTripNanoseconds: roundTrip,
                    outcome: .failure(ControlReadFailure(description: "\(error)", kind: kind))))
        }
    }

    /// - Parameter devices: positions of the devices to include, sorted by name; nil for all (then no `page`).
    ///   A page's answer is built alone, so a `status` costs the agent memory in proportion to its page only.
    static func status(_ runtime: AgentRuntime, devices range: Range<Int>? = nil) -> ControlStatus {
        let (entries, total) = runtime.status.devices.entries(at: range)
        let spool = runtime.status.spool
        let writer = runtime.status.writer
        let clock = runtime.clockFlags()
        var status = ControlStatus(
            agent: .init(
                version: AgentRuntime.version, pid: Int(getpid()),
                uptimeMilliseconds: runtime.status.uptimeMilliseconds,
                config: runtime.configPath, gateway: runtime.config.gateway.id, reloads: runtime.status.reloadCount,
                lastReloadError: runtime.status.lastReloadError, alive: runtime.status.isAlive()),
            clock: .init(synchronised: clock.contains(.synchronised), stepped: clock.contains(.stepped)),
            devices: entries.map(device),
            writer: .init(
                readingsProduced: writer.readingsProduced, batchesSealed: writer.batchesSealed,
                readingsSealed: writer.readingsSealed,
                readingsDroppedQueueFull: writer.readingsDroppedQueueFull,
                readingsDroppedUnencodable: writer.readingsDroppedUnencodable,
                readingsSuppressed: writer.readingsSuppressed,
                lastSealMilliseconds: writer.lastSealWallMilliseconds),
            spool: .init(
                directory: runtime.config.spool.directory, diskBytes: spool.diskBytes, maximumBytes: spool.maximumBytes,
                segments: spool.segments, epoch: spool.epoch,
                oldestBufferedMilliseconds: spool.oldestBufferedMilliseconds,
                heldInMemory: spool.heldInMemory, appended: tally(spool.counters.appended),
                delivered: tally(spool.counters.delivered),
                buffered: tally(spool.counters.buffered),
                dropped: Dictionary(spool.counters.dropped.map { ("\($0.key)", tally($0.value)) }) { $1 }),
            uplinks: runtime.status.uplinks.map { uplink in
                ControlStatus.Uplink(
                    sink: uplink.sink, url: uplink.url, state: uplink.stateName,
                    problem: uplink.stateProblem ?? uplink.lastProblem,
                    uploads: uplink.uploads, failedUploads: uplink.failedUploads,
                    batchesDelivered: uplink.batchesDelivered,
                    batchesRejected: uplink.batchesRejected, bytesOnWire: uplink.bytesOnWire,
                    budgetUsedToday: uplink.budgetUsedToday, budgetLimit: uplink.budgetLimit,
                    lastDeliveryMilliseconds: uplink.lastDeliveryMilliseconds)
            },
            link: link(runtime), writes: runtime.recentWrites())
        if let range { status.page = ControlStatus.Page(from: min(range.lowerBound, total), total: total) }
        return status
    }

    /// The modem device's newest cycle as one line's worth: NR's signal on 5G when it has one, else LTE's.
    static func link(_ runtime: AgentRuntime) -> ControlStatus.Link? {
        let stages = runtime.status.stages
        guard let device = stages.builtins.withLock({ $0.first { $0.name == BuiltinDevice.modemName } }) else {
            return nil
        }
        let problem = stages.modem.withLock { $0?.statistics.lastProblem }
        guard let reading = stages.builtinLatest.withLock({ $0[device.name] }) else {
            return ControlStatus.Link(
                technology: nil, rsrp: nil, rsrq: nil, snr: nil, operatorName: nil, quality: "pending",
                problem: problem, measuredMilliseconds: nil)
        }
        // A built-in device's cycle has every point, in the device's order.
        func point(_ name: String) -> PointReading? {
            device.index(of: name).flatMap { reading.points.indices.contains($0) ? reading.points[$0] : nil }
        }
        func number(_ name: String) -> Double? {
            guard let point = point(name), point.quality == .good else { return nil }
            return point.value?.numeric
        }
        let technology = number("technology").flatMap { AccessTechnology(rawValue: UInt16($0)) }
        let leg = technology?.showsNRSignal(nrRSRPPresent: number("nr_rsrp") != nil) == true ? "nr" : "lte"
        var operatorName: String?
        if let name = point("operator_name"), name.quality == .good, case .string(let text)? = name.value {
            operatorName = text
        }
        let signal = point("\(leg)_rsrp")
        return ControlStatus.Link(
            technology: technology?.label, rsrp: number("\(leg)_rsrp"), rsrq: number("\(leg)_rsrq"),
            snr: number("\(leg)_snr"), operatorName: operatorName,
            quality: signal?.quality.description ?? "absent", problem: problem,
            measuredMilliseconds: reading.points.first?.timestamp.wallMilliseconds)
    }

    static func tally(_ tally: Tally) -> ControlStatus.Tally {
        ControlStatus.Tally(readings: tally.readings, batches: tally.batches)
    }

    static func device(_ entry: DeviceBoard.Entry) -> ControlStatus.Device {
        ControlStatus.Device(
            name: entry.device.name, link: entry.device.link, unit: entry.device.unit,
            health: entry.latest?.health.state.rawValue ?? "unknown",
            lastError: entry.latest?.health.lastError, latencyMilliseconds: entry.latencyMilliseconds,
            cycles: entry.cycles,
            failedCycles: entry.failedCycles,
            pollIntervalMilliseconds: entry.device.pollInterval.milliseconds,
            points: entry.latest.map { points($0, device: entry.device) } ?? [])
    }

    static func points(_ reading: DeviceReading, device: DeviceConfig) -> [ControlPoint] {
        reading.points.compactMap { value in
            guard value.point < device.points.count else { return nil }
            let point = device.points[value.point]
            let shown: ControlPoint.Value?
            if let raw = value.value, case .string(let text) = raw {
                shown = .text(text)
            } else {
                shown = value.value.flatMap {
                    Engineering.value($0, scale: point.scale, offset: point.offset, exponent: value.exponent)
                }
                .map(ControlPoint.Value.number)
            }
            return ControlPoint(
                name: point.name, value: shown, unit: point.unit, quality: value.quality.description,
                timeMilliseconds: value.timestamp.wallMilliseconds)
        }
    }

    static func cycles(_ runtime: AgentRuntime, after cursor: Int, device filter: String?) -> ControlCycles {
        let (cycles, next, missed) = runtime.status.devices.cycles(
            after: cursor, nowMilliseconds: runtime.status.monotonicMilliseconds)
        return ControlCycles(
            cursor: next, missed: missed,
            cycles: cycles.compactMap { cycle in
                if let filter, cycle.reading.device != filter { return nil }
                guard let device = runtime.status.devices.device(named: cycle.reading.device) else { return nil }
                return ControlCycles.Cycle(
                    device: cycle.reading.device, health: cycle.reading.health.state.rawValue,
                    points: points(cycle.reading, device: device))
            })
    }
}
