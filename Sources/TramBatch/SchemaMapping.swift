import TramBuiltinPoints
import TramConfig
import TramCore
import TramModbus
import TramSchema

/// How a config's points become the wire dictionary: every device's points in
/// config order, aliases counted across devices, and each device's alias range.
/// Each point also carries its kind and its device's poll interval, and the
/// dictionary the batch max age, so a receiver knows what to expect and when;
/// a point reported by exception carries its deadband and heartbeat, which are
/// what the agent's ``ExceptionFilter`` applies (one rule, read from one place).
///
/// Aliases depend only on the config, never on the request plan (which changes
/// when a device rejects an address), so a plan change never changes the schema.
/// The built-in devices (`gateway`, `modem`) come after the config's devices, so
/// turning one on or off never moves a Modbus point's alias.
public struct SchemaMapping: Sendable {
    public let dictionary: SchemaDictionary
    /// First alias of each device's points, by device name.
    public let firstAlias: [String: Int]

    public init(config: AgentConfig, builtins: [BuiltinDevice] = []) {
        var points: [PointDescriptor] = []
        points.reserveCapacity(
            config.devices.reduce(0) { $0 + $1.points.count } + builtins.reduce(0) { $0 + $1.points.count })
        var first: [String: Int] = [:]
        first.reserveCapacity(config.devices.count)
        for device in config.devices {
            first[device.name] = points.count
            let base = points.count
            let indexByName = Dictionary(
                device.points.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            for (point, rule) in zip(device.points, device.reportRules) {
                points.append(
                    PointDescriptor(
                        device: device.name, name: point.name, unit: point.unit, type: Self.wireType(point.type),
                        scale: point.scale, offset: point.offset,
                        exponentAlias: point.scaleFrom.flatMap { indexByName[$0] }.map { base + $0 },
                        kind: Self.kind(point.kind), intervalMilliseconds: Self.milliseconds(device.pollInterval),
                        deadband: rule?.deadband,
                        heartbeatMilliseconds: rule.flatMap { Self.milliseconds($0.heartbeat) }))
            }
        }
        for device in builtins {
            first[device.name] = points.count
            let interval = Self.milliseconds(device.pollInterval)
            for point in device.points {
                points.append(
                    PointDescriptor(
                        device: device.name, name: point.name, unit: point.unit, type: Self.wireType(point.type),
                        scale: 1, offset: 0, exponentAlias: nil, kind: point.kind == .counter ? .counter : .gauge,
                        intervalMilliseconds: interval))
            }
        }
        dictionary = SchemaDictionary(
            gateway: config.gateway.id, points: points,
            batchMaximumAgeMilliseconds: Self.milliseconds(config.batch.maximumAge))
        firstAlias = first
    }

    /// The mapping of a dictionary built elsewhere (a replayed trace, a benchmark): each device's points must be
    /// contiguous, in alias order.
    public init(dictionary: SchemaDictionary) {
        self.dictionary = dictionary
        var first: [String: Int] = [:]
        for (alias, point) in dictionary.points.enumerated() where first[point.device] == nil {
            first[point.device] = alias
        }
        firstAlias = first
    }

    static func kind(_ kind: Point.Kind) -> PointKind {
        switch kind {
        case .gauge: .gauge
        case .counter: .counter
        }
    }

    /// Whole milliseconds for the dictionary; nil (unknown) for a duration below one.
    static func milliseconds(_ duration: Duration) -> UInt64? {
        let milliseconds = duration.milliseconds
        return milliseconds > 0 ? UInt64(milliseconds) : nil
    }

    static func wireType(_ type: BuiltinPoint.ValueType) -> WireType {
        switch type {
        case .bool: .bool
        case .int16: .int16
        case .uint16: .uint16
        case .uint32: .uint32
        case .uint64: .uint64
        case .float64: .float64
        case .string: .string
        }
    }

    static func wireType(_ type: ValueType) -> WireType {
        switch type {
        case .bool, .bit: .bool
        case .int16: .int16
        case .uint16: .uint16
        case .int32: .int32
        case .uint32: .uint32
        case .int64: .int64
        case .uint64: .uint64
        case .float32: .float32
        case .float64: .float64
        case .string: .string
        }
    }
}
