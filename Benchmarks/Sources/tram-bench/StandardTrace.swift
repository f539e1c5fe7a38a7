import TramReplay
import TramSchema

/// One device cycle: a timestamp and the raw values of the points the device gave. `values[i]` is alias
/// `firstAlias + i` when `aliases` is nil (the cycle read every point of its device: a range group on the wire),
/// and alias `aliases[i]` otherwise (only some of them: a sparse group, or a range with the rest marked missing).
struct Tick {
    var timeMilliseconds: Int64
    var values: [WireValue]
    var firstAlias = 0
    var aliases: [Int]? = nil
    /// The index of its device in `Trace.devices`.
    var device = 0

    func alias(at index: Int) -> Int { aliases?[index] ?? firstAlias + index }

    /// The readings it holds: the values that are not missing.
    var readings: Int {
        values.reduce(0) {
            if case .missing = $1 { return $0 }
            return $0 + 1
        }
    }
}

/// A trace: point names and types, the devices that own them (each a range of aliases), and the device cycles.
struct Trace {
    struct Device {
        var name: String
        var aliases: Range<Int>
    }

    var names: [String]
    var types: [WireType]
    var devices: [Device]
    var ticks: [Tick]

    var readings: Int { ticks.reduce(0) { $0 + $1.readings } }
    /// Cycles that hold only some of their device's points.
    var partialTicks: Int { ticks.reduce(0) { $0 + ($1.aliases == nil ? 0 : 1) } }

    var dictionary: SchemaDictionary {
        SchemaDictionary(
            gateway: "gw-bench",
            points: devices.flatMap { device in
                device.aliases.map { PointDescriptor(device: device.name, name: names[$0], type: types[$0]) }
            })
    }

    /// The same cycles with each partial one as its device's whole range, the points it lacks marked missing
    /// (not available): what the wire would carry without sparse groups.
    var filled: Trace {
        var trace = self
        for index in trace.ticks.indices {
            let tick = trace.ticks[index]
            guard let aliases = tick.aliases else { continue }
            let range = devices[tick.device].aliases
            var values = [WireValue](repeating: .missing(.notAvailable), count: range.count)
            for (alias, value) in zip(aliases, tick.values) { values[alias - range.lowerBound] = value }
            trace.ticks[index] = Tick(
                timeMilliseconds: tick.timeMilliseconds, values: values, firstAlias: range.lowerBound,
                device: tick.device)
        }
        return trace
    }

    /// The standard trace (seed 1755): TramReplay's, which the replay check and `tram-bench rbe` use too. One
    /// device of 100 points at 1 Hz for an hour; its points in alias order, every poll a range group.
    static func standard(seconds: Int = 3600, seed: UInt64 = 1755) -> Trace {
        Trace(ReplayTrace.standard(seconds: seconds, seed: seed))
    }

    /// A plant's own recording: CSV lines `timestamp_ms,point,type,raw_value` (type: bool, int16 … float64, string),
    /// an optional header line `timestamp_ms,…` first.
    ///
    /// Grouped as the agent groups readings: the device is the point name's part before its first `.` (`inv1` of
    /// `inv1.power`; the point is the rest), or `trace` for a name without one; the rows of one device with one
    /// timestamp are one device cycle, wherever they are in the file. Cycles are taken in time order. Aliases are
    /// given device by device (devices in order of first appearance, each device's points in order of first
    /// appearance), so a cycle that has every point of its device is a range. A point a cycle does not mention is
    /// not a reading: it is absent from the cycle, never a missing value.
    static func csv(_ text: String) throws -> Trace {
        struct Point {
            var device: Int
            var name: String
            var type: WireType
        }
        var points: [Point] = []
        var pointIndex: [String: Int] = [:]
        var deviceNames: [String] = []
        var deviceIndex: [String: Int] = [:]
        var deviceSizes: [Int] = []
        // Each cycle: (time, device, [(point, value)]), in order of first row; found by device and time.
        var cycles: [(time: Int64, device: Int, readings: [(point: Int, value: WireValue)])] = []
        var cycleIndex: [Int64: [Int: Int]] = [:]
        for (number, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            if number == 0, fields.first == "timestamp_ms" { continue }
            guard fields.count == 4, let time = Int64(fields[0]), let type = typeNamed(fields[2]) else {
                throw TraceError(
                    message: "line \(number + 1): expected timestamp_ms,point,type,raw_value, found '\(line)'")
            }
            let point: Int
            if let known = pointIndex[fields[1]] {
                point = known
                guard points[point].type == type else {
                    throw TraceError(message: "line \(number + 1): \(fields[1]) was \(points[point].type), now \(type)")
                }
            } else {
                let dot = fields[1].firstIndex(of: ".")
                let deviceName = dot.map { String(fields[1][..<$0]) } ?? "trace"
                let name = dot.map { String(fields[1][fields[1].index(after: $0)...]) } ?? fields[1]
                let device: Int
                if let known = deviceIndex[deviceName] {
                    device = known
                } else {
                    device = deviceNames.count
                    deviceIndex[deviceName] = device
                    deviceNames.append(deviceName)
                    deviceSizes.append(0)
                }
                point = points.count
                pointIndex[fields[1]] = point
                points.append(Point(device: device, name: name, type: type))
                deviceSizes[device] += 1
            }
            guard let value = parse(fields[3], type) else {
                throw TraceError(message: "line \(number + 1): '\(fields[3])' is not a \(fields[2])")
            }
            let device = points[point].device
            if let cycle = cycleIndex[time]?[device] {
                guard !cycles[cycle].readings.contains(where: { $0.point == point }) else {
                    throw TraceError(message: "line \(number + 1): \(fields[1]) appears twice at \(time)")
                }
                cycles[cycle].readings.append((point, value))
            } else {
                cycleIndex[time, default: [:]][device] = cycles.count
                cycles.append((time, device, [(point, value)]))
            }
        }
        // Aliases device by device: a device's points are contiguous.
        var devices: [Device] = []
        var next = 0
        for (index, name) in deviceNames.enumerated() {
            devices.append(Device(name: name, aliases: next..<next + deviceSizes[index]))
            next += deviceSizes[index]
        }
        var aliasOfPoint = [Int](repeating: 0, count: points.count)
        var names = [String](repeating: "", count: points.count)
        var types = [WireType](repeating: .bool, count: points.count)
        var filledOf = deviceSizes.map { _ in 0 }
        for (index, point) in points.enumerated() {
            let alias = devices[point.device].aliases.lowerBound + filledOf[point.device]
            filledOf[point.device] += 1
            aliasOfPoint[index] = alias
            names[alias] = point.name
            types[alias] = point.type
        }
        let ticks = cycles.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map {
            _, cycle in
            let readings = cycle.readings.map { (alias: aliasOfPoint[$0.point], value: $0.value) }.sorted {
                $0.alias < $1.alias
            }
            let range = devices[cycle.device].aliases
            let values = readings.map(\.value)
            return readings.count == range.count
                ? Tick(timeMilliseconds: cycle.time, values: values, firstAlias: range.lowerBound, device: cycle.device)
                : Tick(
                    timeMilliseconds: cycle.time, values: values, firstAlias: range.lowerBound,
                    aliases: readings.map(\.alias), device: cycle.device)
        }
        return Trace(names: names, types: types, devices: devices, ticks: ticks)
    }

    static func typeNamed(_ name: String) -> WireType? {
        [
            "bool": .bool, "int16": .int16, "uint16": .uint16, "int32": .int32, "uint32": .uint32, "int64": .int64,
            "uint64": .uint64, "float32": .float32, "float64": .float64, "string": .string,
        ][name]
    }

    static func parse(_ text: String, _ type: WireType) -> WireValue? {
        switch type {
        case .bool:
            return text == "1" || text == "true" ? .bool(true) : text == "0" || text == "false" ? .bool(false) : nil
        case .int16, .int32, .int64: return Int64(text).map { .int($0) }
        case .uint16, .uint32, .uint64: return UInt64(text).map { .uint($0) }
        case .float32: return Float(text).map { .float32(bits: $0.bitPattern) }
        case .float64: return Double(text).map { .float64(bits: $0.bitPattern) }
        case .string: return .string(text)
        }
    }
}

struct TraceError: Error { var message: String }

extension Trace {
    /// A replay trace's polls as device cycles, each with every point of its device.
    init(_ replay: ReplayTrace) {
        var devices: [Device] = []
        for (alias, point) in replay.dictionary.points.enumerated() {
            if devices.last?.name == point.device {
                devices[devices.count - 1].aliases = devices[devices.count - 1].aliases.lowerBound..<alias + 1
            } else {
                devices.append(Device(name: point.device, aliases: alias..<alias + 1))
            }
        }
        let deviceIndex = Dictionary(devices.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.init(
            names: replay.dictionary.points.map(\.name), types: replay.dictionary.points.map(\.type), devices: devices,
            ticks: replay.polls.map { poll in
                let device = deviceIndex[poll.device] ?? 0
                return Tick(
                    timeMilliseconds: poll.wallMilliseconds, values: poll.values,
                    firstAlias: devices[device].aliases.lowerBound, device: device)
            })
    }
}
