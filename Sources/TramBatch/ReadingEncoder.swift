import TramModbus
import TramSchema
import TramCore

/// Appends poll cycles to a batch: one group per device cycle, stamped with the
/// cycle's first response, raw values as read, qualities only where not good.
///
/// Keeps one scratch row per device, so encoding a cycle allocates nothing once
/// the rows exist (strings aside, which carry their own storage).
public final class ReadingEncoder {
    public let mapping: SchemaMapping
    public let encoder: BatchEncoder
    private var rows: [String: UnsafeMutableBufferPointer<WireValue>] = [:]

    public init(mapping: SchemaMapping, buffer: UnsafeMutableRawBufferPointer) {
        self.mapping = mapping
        encoder = BatchEncoder(dictionary: mapping.dictionary, buffer: buffer)
        for (device, first) in mapping.firstAlias {
            let count = mapping.dictionary.points[first...].prefix { $0.device == device }.count
            let row = UnsafeMutableBufferPointer<WireValue>.allocate(capacity: count)
            row.initialize(repeating: .missing(.linkDown))
            rows[device] = row
        }
    }

    deinit {
        for row in rows.values {
            row.deinitialize()
            row.deallocate()
        }
    }

    /// Appends one device cycle as a group. Clock flags come from the caller, who knows the clock's state.
    public func append(_ reading: DeviceReading, clock: ClockFlags = .synchronised) throws(WireError) {
        guard let row = rows[reading.device], let first = mapping.firstAlias[reading.device] else {
            throw .invalid("device '\(reading.device)' is not in the schema")
        }
        var time = Int64.max
        // By index through a buffer pointer, not `for in`: an unoptimised build runs Array's iterator unspecialised,
        // and that boxes each PointReading (72 bytes, too large for an inline buffer): one allocation per point.
        reading.points.withUnsafeBufferPointer { points in
            for index in 0..<points.count where points[index].point < row.count {
                row[points[index].point] = Self.wireValue(points[index])
                let wall = points[index].timestamp.wallMilliseconds
                if wall > 0 { time = min(time, wall) }
            }
        }
        if time == .max { time = Timestamp.now().wallMilliseconds }
        try encoder.append(timeMilliseconds: time, clock: clock, firstAlias: first, values: UnsafeBufferPointer(row))
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
