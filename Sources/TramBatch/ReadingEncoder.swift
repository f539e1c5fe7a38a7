import TramModbus
import TramSchema
import TramCore

/// Appends poll cycles to a batch: one group per device cycle, stamped with the
/// cycle's first response, raw values as read, qualities only where not good.
///
/// A device reported by exception passes each reading through the ``ExceptionFilter``: the group then holds only
/// what is sent (a sparse group; a range group when every point is), and a cycle with nothing to send adds no
/// group at all. A held-back reading is absent, never encoded as missing. The device's first cycle, its first
/// after it comes back online, and its first after ``requestSnapshot()`` send every point, flagged as a snapshot.
///
/// Keeps one scratch row per device, so encoding a cycle allocates nothing once
/// the rows exist (strings aside, which carry their own storage).
public final class ReadingEncoder {
    /// What one cycle became.
    public struct Outcome: Sendable, Equatable {
        /// Readings encoded into the batch.
        public var sent = 0
        /// Readings held back by report by exception (polled = sent + suppressed).
        public var suppressed = 0
    }

    public let mapping: SchemaMapping
    public let encoder: BatchEncoder
    public let filter: ExceptionFilter
    private var rows: [String: UnsafeMutableBufferPointer<WireValue>] = [:]
    /// Per device reported by exception: whether its next cycle is a snapshot, and its last health state.
    private var snapshotDue: [String: Bool] = [:]
    private var wasOffline: [String: Bool] = [:]
    /// Scratch for a sparse group: the aliases sent, their values and exponents (sized for the largest device).
    private let sentAliases: UnsafeMutableBufferPointer<Int>
    private let sentValues: UnsafeMutableBufferPointer<WireValue>
    private let exponents: UnsafeMutableBufferPointer<Int>

    public init(
        mapping: SchemaMapping, buffer: UnsafeMutableRawBufferPointer,
        reference: ExceptionFilter.Reference = .lastSent
    ) {
        self.mapping = mapping
        encoder = BatchEncoder(dictionary: mapping.dictionary, buffer: buffer)
        filter = ExceptionFilter(dictionary: mapping.dictionary, reference: reference)
        var largest = 1
        for (device, first) in mapping.firstAlias {
            let count = mapping.dictionary.points[first...].prefix { $0.device == device }.count
            let row = UnsafeMutableBufferPointer<WireValue>.allocate(capacity: count)
            row.initialize(repeating: .missing(.linkDown))
            rows[device] = row
            largest = max(largest, count)
            if (first..<first + count).contains(where: filter.reportsByException(alias:)) {
                snapshotDue[device] = true
                wasOffline[device] = false
            }
        }
        sentAliases = .allocate(capacity: largest)
        sentAliases.initialize(repeating: 0)
        sentValues = .allocate(capacity: largest)
        sentValues.initialize(repeating: .missing(.linkDown))
        exponents = .allocate(capacity: largest)
        exponents.initialize(repeating: 0)
    }

    deinit {
        for row in rows.values {
            row.deinitialize()
            row.deallocate()
        }
        sentValues.deinitialize()
        sentValues.deallocate()
        sentAliases.deallocate()
        exponents.deallocate()
    }

    /// Makes every device reported by exception send all its points in its next cycle, as a snapshot: after the
    /// spool dropped a batch, whose sends a consumer would otherwise miss until each point's heartbeat.
    public func requestSnapshot() {
        for device in snapshotDue.keys { snapshotDue[device] = true }
    }

    /// Appends one device cycle as a group (or, reported by exception, what of it is sent). Clock flags come from
    /// the caller, who knows the clock's state. Throws when the batch has no room; nothing is recorded as sent then.
    @discardableResult
    public func append(_ reading: DeviceReading, clock: ClockFlags = .synchronised) throws(WireError) -> Outcome {
        guard let row = rows[reading.device], let first = mapping.firstAlias[reading.device] else {
            throw .invalid("device '\(reading.device)' is not in the schema")
        }
        // The cycle's own time when the producer gives it (the poller does); the points' earliest otherwise.
        var time = reading.timestamp.wallMilliseconds > 0 ? reading.timestamp.wallMilliseconds : Int64.max
        var monotonicNanoseconds =
            reading.timestamp.monotonicNanoseconds > 0 ? reading.timestamp.monotonicNanoseconds : UInt64.max
        let stamped = time != .max
        let byException = snapshotDue[reading.device] != nil
        // By index through a buffer pointer, not `for in`: an unoptimised build runs Array's iterator unspecialised,
        // and that boxes each PointReading (40 bytes, too large for an inline buffer): one allocation per point.
        reading.points.withUnsafeBufferPointer { points in
            for index in 0..<points.count where points[index].point < row.count {
                row[points[index].point] = Self.wireValue(points[index])
                if byException { exponents[points[index].point] = points[index].exponent }
                guard !stamped else { continue }
                let wall = points[index].timestamp.wallMilliseconds
                if wall > 0 { time = min(time, wall) }
                let monotonic = points[index].timestamp.monotonicNanoseconds
                if monotonic > 0 { monotonicNanoseconds = min(monotonicNanoseconds, monotonic) }
            }
        }
        if time == .max { time = Timestamp.now().wallMilliseconds }
        guard byException else {
            try encoder.append(
                timeMilliseconds: time, clock: clock, firstAlias: first, values: UnsafeBufferPointer(row))
            return Outcome(sent: row.count)
        }
        if monotonicNanoseconds == .max { monotonicNanoseconds = Timestamp.now().monotonicNanoseconds }
        let offline = reading.health.state == .offline
        let snapshot = snapshotDue[reading.device]! || (wasOffline[reading.device]! && !offline)
        if snapshot { filter.forget(first..<first + row.count) }
        return try appendFiltered(
            device: reading.device, row: row, first: first, time: time,
            monotonicMilliseconds: Int64(monotonicNanoseconds / 1_000_000), clock: clock, snapshot: snapshot,
            offline: offline)
    }

    /// Encodes what the filter sends of a device's row, then records it as sent.
    private func appendFiltered(
        device: String, row: UnsafeMutableBufferPointer<WireValue>, first: Int, time: Int64,
        monotonicMilliseconds now: Int64, clock: ClockFlags, snapshot: Bool, offline: Bool
    ) throws(WireError) -> Outcome {
        var sent = 0
        for offset in 0..<row.count
        where filter.decide(alias: first + offset, value: row[offset], exponent: exponents[offset], atMilliseconds: now)
        {
            sentAliases[sent] = first + offset
            sentValues[sent] = row[offset]
            sent += 1
        }
        if sent == row.count {
            try encoder.append(
                timeMilliseconds: time, clock: clock, firstAlias: first, values: UnsafeBufferPointer(row),
                snapshot: snapshot)
        } else if sent > 0 {
            try encoder.append(
                timeMilliseconds: time, clock: clock,
                aliases: UnsafeBufferPointer(rebasing: sentAliases[0..<sent]),
                values: UnsafeBufferPointer(rebasing: sentValues[0..<sent]))
        }
        for index in 0..<sent {
            let alias = sentAliases[index]
            filter.commit(
                alias: alias, value: sentValues[index], exponent: exponents[alias - first], atMilliseconds: now)
        }
        if filter.reference == .lastPolled {
            for offset in 0..<row.count {
                filter.commitPolled(alias: first + offset, value: row[offset], exponent: exponents[offset])
            }
        }
        if snapshot { snapshotDue[device] = false }
        wasOffline[device] = offline
        return Outcome(sent: sent, suppressed: row.count - sent)
    }

    /// A point reading as it travels: its raw value when good, otherwise its quality (with the exception code).
    public static func wireValue(_ reading: PointReading) -> WireValue {
        switch reading.quality {
        case .good:
            // Unwrapped before the switch: matching `.bool(let b)?` on the optional copies it through a heap box in
            // unoptimised builds (one allocation per point, measured by BatchBuilderTests).
            guard let value = reading.value else { return .missing(.ioError) }
            switch value {
            case .bool(let b): return .bool(b)
            case .int(let v): return .int(v)
            case .uint(let v): return .uint(v)
            case .float32(let f): return .float32(bits: f.bitPattern)
            case .float64(let d): return .float64(bits: d.bitPattern)
            case .string(let s): return .string(s)
            }
        case .notAvailable: return .missing(.notAvailable)
        case .exception(let code): return .missing(.exception(UInt8(clamping: code)))
        case .timeout: return .missing(.timeout)
        case .linkDown, .pending: return .missing(.linkDown)
        case .ioError: return .missing(.ioError)
        case .unsupported: return .missing(.unsupported)
        case .unexpected: return .missing(.unexpected)
        case .disabled: return .missing(.disabled)
        case .absent: return .missing(.absent)
        case .notReady: return .missing(.notReady)
        }
    }
}
