import Logging
import TramConfig
import TramCore

/// Polls one device: runs its plan over the link, decodes each answer, and
/// adapts the plan when the device rejects an address. Confined to its link's lane.
public final class DevicePoller {
    public let device: DeviceConfig
    /// `device.points`, held here so the decode loop reads the array without going through the config's storage.
    private let points: [Point]
    public private(set) var requests: [ReadRequest]
    public private(set) var health = DeviceHealth()
    /// Optional points the device rejected; they are no longer requested.
    public private(set) var unsupported: Set<Int> = []
    /// This cycle's readings, and the array handed out with the cycle before.
    ///
    /// A cycle's arrays go out in its `DeviceReading`, and the status board keeps the latest until the next cycle.
    /// Writing the same array again would copy it on write: an allocation per device per cycle on the poll path.
    /// Alternating between two arrays means each cycle writes the one handed out two cycles ago, which its readers
    /// (the board, the batch writer) have let go of by then; if one still holds it, copy on write keeps that reader's
    /// view intact, as before.
    private var readings: [PointReading]
    private var handedOutReadings: [PointReading]
    /// Set when a point was retired: the next cycle starts from a fresh plan without it.
    private var replanAfterCycle = false
    private var mismatchThisCycle = false
    /// When this cycle's first request came back, answered or failed: the cycle's time on the wire.
    private var firstResponse = Timestamp.zero
    /// Each cycle's request outcomes, alternating like `readings`.
    private var outcomes: [RequestOutcome] = []
    private var handedOutOutcomes: [RequestOutcome] = []
    /// Each point's `scale_from` point, by index; empty when the device has none (most have none).
    private let scalePoint: [Int?]
    /// Sized to the largest request the plan holds: splits after exception 02 only make requests smaller, and
    /// 500 devices with 2,000-word buffers each would be 3 MB of a gateway's memory for nothing.
    private let registers: UnsafeMutablePointer<UInt16>
    private let bits: UnsafeMutablePointer<UInt8>
    private let logger: Logger

    public init(device: DeviceConfig, logger: Logger) {
        self.device = device
        points = device.points
        self.logger = logger
        requests = RequestPlanner.plan(device.points, limits: device.limits)
        let largest = requests.map(\.count).max() ?? 1
        registers = .allocate(capacity: max(1, largest))
        bits = .allocate(capacity: requests.contains { $0.table.holdsBits } ? max(1, largest) : 1)
        readings = device.points.indices.map {
            PointReading(point: $0, value: nil, quality: .pending, exponent: 0, timestamp: .zero)
        }
        handedOutReadings = readings
        if device.points.contains(where: { $0.scaleFrom != nil }) {
            let indexByName = Dictionary(
                device.points.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            scalePoint = device.points.map { point in point.scaleFrom.flatMap { indexByName[$0] } }
        } else {
            scalePoint = []
        }
    }

    deinit {
        registers.deallocate()
        bits.deallocate()
    }

    /// Runs one cycle on `session`'s link. Blocking: call it on the link's lane only.
    func poll(on session: LinkSession) -> DeviceReading {
        swap(&readings, &handedOutReadings)
        swap(&outcomes, &handedOutOutcomes)
        // The array two cycles old takes up last cycle's values, so what a point keeps across cycles (its last good
        // timestamp while it fails) is as if there were one array.
        for i in readings.indices { readings[i] = handedOutReadings[i] }
        outcomes.removeAll(keepingCapacity: true)
        mismatchThisCycle = false
        firstResponse = .zero
        var index = 0
        while index < requests.count {
            let request = requests[index]
            let started = TramClock.system.monotonicNanoseconds()
            let error = perform(request, on: session)
            outcomes.append(
                RequestOutcome(
                    request: request, error: error,
                    roundTripNanoseconds: TramClock.system.monotonicNanoseconds() - started))
            // A rejected request stays counted above; its replacement is tried at the same index.
            if case .exception(2)? = error, adapt(at: index) { continue }
            index += 1
        }
        for i in unsupported { readings[i].quality = .unsupported; readings[i].value = nil }
        if replanAfterCycle {
            requests = RequestPlanner.plan(device.points, limits: device.limits, excluding: unsupported)
            replanAfterCycle = false
        }
        if !mismatchThisCycle { health.mapMismatch = nil }
        updateHealth()
        return DeviceReading(
            device: device.name, points: readings, requests: outcomes, health: health,
            timestamp: firstResponse == .zero ? Timestamp.now() : firstResponse)
    }

    /// Reads one request and decodes its points; marks them with the error if it fails.
    private func perform(_ request: ReadRequest, on session: LinkSession) -> ModbusError? {
        if let down = session.ensureOpen() {
            mark(request, .linkDown)
            if firstResponse == .zero { firstResponse = Timestamp.now() }
            return down
        }
        session.pace(device.limits.pause)
        session.connection.setResponseTimeout(device.timeout ?? session.link.responseTimeout)
        do {
            try session.connection.read(request, unit: device.unit, into: registers, scratch: bits)
        } catch {
            session.frameEnded()
            session.record(error)
            mark(request, Quality(error))
            if firstResponse == .zero { firstResponse = Timestamp.now() }
            return error
        }
        session.frameEnded()
        session.record(nil)
        let timestamp = Timestamp.now()
        if firstResponse == .zero { firstResponse = timestamp }
        decode(request, timestamp: timestamp)
        return nil
    }

    private func decode(_ request: ReadRequest, timestamp: Timestamp) {
        var mismatch: Int?
        defer { if let mismatch { reportMismatch(mismatch) } }
        let buffer = UnsafeBufferPointer(start: registers, count: request.count)
        for i in request.points {
            let point = points[i]
            let value = RegisterCodec.decode(point, registers: buffer, base: request.address)
            readings[i].value = value
            readings[i].timestamp = timestamp
            readings[i].quality = RegisterCodec.isNotAvailable(value, point: point) ? .notAvailable : .good
            if let expected = point.expected, RegisterCodec.bits(of: value, type: point.type) != expected {
                readings[i].quality = .unexpected
                if mismatch == nil { mismatch = i }
            }
        }
        // Exponents after values: a scale register is in the same request, decoded above.
        guard !scalePoint.isEmpty else { return }
        for i in request.points {
            guard let s = scalePoint[i] else { continue }
            if readings[s].quality == .good, let exponent = readings[s].value?.exponent {
                readings[i].exponent = exponent
            } else if readings[i].quality == .good {
                readings[i].quality = .notAvailable
            }
        }
    }

    /// Says once per device which identity register disagreed, so a wrong map is found, not guessed at.
    private func reportMismatch(_ index: Int) {
        mismatchThisCycle = true
        let point = points[index]
        let got = readings[index].value.map { "\($0)" } ?? "?"
        let message =
            "point '\(point.name)' reads \(got), but the map expects \(point.expected.map { "0x" + String($0, radix: 16, uppercase: true) } ?? "?"): the profile does not fit this device (wrong model, firmware or base address?)"
        if health.mapMismatch != message {
            health.mapMismatch = message
            logger.warning("device map does not fit", metadata: ["device": "\(device.name)", "detail": "\(message)"])
        }
    }

    private func mark(_ request: ReadRequest, _ quality: Quality) {
        for i in request.points {
            readings[i].quality = quality
            readings[i].value = nil
        }
    }

    /// After exception 02: split a coalesced request, or retire a rejected optional point.
    /// Returns true when the plan changed and the request at `index` should be tried again.
    private func adapt(at index: Int) -> Bool {
        let request = requests[index]
        let halves = RequestPlanner.split(request, points: device.points, limits: device.limits)
        if halves.count > 1 {
            requests.replaceSubrange(index...index, with: halves)
            health.splits += 1
            logger.notice(
                "device rejected a coalesced request with exception 02; split it to isolate the address",
                metadata: ["device": "\(device.name)", "request": "\(request)", "into": "\(halves)"])
            return true
        }
        let points = request.points
        guard points.allSatisfy({ device.points[$0].isOptional }) else { return false }
        for i in points {
            unsupported.insert(i)
            health.unsupportedPoints.append(device.points[i].name)
        }
        // Without the rejected points, the neighbours it split apart may coalesce again.
        // Only requests after `index` are replanned: those before it have been read this cycle.
        let done = Array(requests[..<index])
        let covered = Set(done.flatMap(\.points))
        let remaining = RequestPlanner.plan(device.points, limits: device.limits, excluding: unsupported.union(covered))
        requests = done + remaining
        replanAfterCycle = true
        logger.notice(
            "device does not support optional points; no longer requesting them",
            metadata: ["device": "\(device.name)", "points": "\(points.map { device.points[$0].name })"])
        return true
    }

    /// Health follows what the cycle delivered: `online` when every requested point
    /// arrived, `degraded` when some did not, `offline` when none did. Rejected
    /// attempts that a split then recovered still count in `failedRequests`.
    private func updateHealth() {
        health.cycles += 1
        var lastError: ModbusError?
        for outcome in outcomes where outcome.error != nil {
            health.failedRequests += 1
            lastError = outcome.error
        }
        if let lastError {
            health.lastError = "\(lastError)"
            health.lastErrorWallMilliseconds = Timestamp.now().wallMilliseconds
        }
        var delivered = 0, missing = 0
        for reading in readings where reading.quality != .unsupported {
            if reading.quality == .good || reading.quality == .notAvailable || reading.quality == .unexpected {
                delivered += 1
            } else {
                missing += 1
            }
        }
        if missing == 0, health.mapMismatch == nil {
            health.state = .online
            health.consecutiveFailedCycles = 0
        } else if delivered > 0 {
            health.state = .degraded
            health.consecutiveFailedCycles = 0
        } else {
            health.state = .offline
            health.consecutiveFailedCycles += 1
        }
    }

}
