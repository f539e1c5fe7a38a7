import TramSchema

extension ReplayTrace {
    /// A hostile trace for the property test: one device whose points each follow one of random walks, steps,
    /// spikes, NaN bursts, booleans, strings and counters, under random deadbands and heartbeats (some points with
    /// none: every poll); reads fail at random (timeouts, exceptions, whole cycles offline); the poll interval
    /// jitters; the wall clock steps back and forth while monotonic time runs on.
    public static func random(seed: UInt64, polls count: Int = 600, points pointCount: Int = 24) -> ReplayTrace {
        var random = SplitMix64(state: seed)
        enum Shape: CaseIterable { case walk, step, spike, nan, bool, string, counter }
        let intervalMilliseconds = [100, 500, 1000, 5000].randomElement(using: &random)!
        var shapes: [Shape] = []
        var points: [PointDescriptor] = []
        for index in 0..<pointCount {
            let shape = Shape.allCases.randomElement(using: &random)!
            shapes.append(shape)
            let type: WireType =
                switch shape {
                case .bool: .bool
                case .string: .string
                case .counter: .uint32
                case .step: [.int16, .uint16, .int32].randomElement(using: &random)!
                case .walk, .spike, .nan: [.float32, .float64].randomElement(using: &random)!
                }
            let ruled = Int.random(in: 0..<8, using: &random) > 0
            let deadband = [0, 0, 0.1, 0.5, 2, 10].randomElement(using: &random)!
            // As the config allows: at least twice the poll interval.
            let heartbeat = UInt64(max([2, 5, 15, 60].randomElement(using: &random)! * 1000, 2 * intervalMilliseconds))
            points.append(
                PointDescriptor(
                    device: "dev", name: "p\(index)", type: type,
                    scale: type.isSigned || type.isUnsigned ? [1, 0.1, 0.01].randomElement(using: &random)! : 1,
                    offset: Bool.random(using: &random) ? 0 : -40,
                    kind: shape == .counter ? .counter : .gauge, intervalMilliseconds: UInt64(intervalMilliseconds),
                    deadband: ruled ? deadband : nil, heartbeatMilliseconds: ruled ? heartbeat : nil))
        }
        var level = (0..<pointCount).map { _ in Double.random(in: -50...50, using: &random) }
        var wallOffset: Int64 = 0
        var monotonic: Int64 = 1_000
        var polls: [Poll] = []
        for poll in 0..<count {
            monotonic += Int64(
                intervalMilliseconds
                    + Int.random(in: -intervalMilliseconds / 20...intervalMilliseconds / 20, using: &random))
            if Int.random(in: 0..<100, using: &random) == 0 {
                wallOffset += Int64.random(in: -3_600_000...3_600_000, using: &random)
            }
            let offline = Int.random(in: 0..<40, using: &random) == 0
            var values: [WireValue] = []
            for index in 0..<pointCount {
                if offline { values.append(.missing(.timeout)); continue }
                if Int.random(in: 0..<30, using: &random) == 0 {
                    values.append(
                        .missing([.timeout, .exception(2), .exception(4), .ioError].randomElement(using: &random)!))
                    continue
                }
                switch shapes[index] {
                case .walk: level[index] += random.normal() * 0.2
                case .step:
                    if Int.random(in: 0..<20, using: &random) == 0 {
                        level[index] = Double.random(in: -300...300, using: &random).rounded()
                    }
                case .spike:
                    level[index] =
                        Int.random(in: 0..<25, using: &random) == 0 ? 1e4 : Double.random(in: -1...1, using: &random)
                case .nan:
                    level[index] = Int.random(in: 0..<6, using: &random) == 0 ? .nan : level[index] + random.normal()
                case .bool: if Int.random(in: 0..<10, using: &random) == 0 { level[index] = level[index] > 0 ? -1 : 1 }
                case .string:
                    if Int.random(in: 0..<15, using: &random) == 0 {
                        level[index] = Double(Int.random(in: 0..<4, using: &random))
                    }
                case .counter: level[index] += Double(Int.random(in: 0...3, using: &random))
                }
                values.append(Self.value(level[index], type: points[index].type, scale: points[index].scale))
            }
            _ = poll
            polls.append(
                Poll(
                    device: "dev", wallMilliseconds: 1_764_000_000_000 + monotonic + wallOffset,
                    monotonicMilliseconds: monotonic, values: values))
        }
        return ReplayTrace(dictionary: SchemaDictionary(gateway: "gw-random", points: points), polls: polls)
    }

    /// A level as a raw value of `type` (integers undo the point's scale, so its engineering value is the level).
    static func value(_ level: Double, type: WireType, scale: Double) -> WireValue {
        switch type {
        case .bool: return .bool(level > 0)
        case .string: return .string(["idle", "run", "fault", "stop"][Int(abs(level.isNaN ? 0 : level)) % 4])
        case .float32: return .float32(bits: Float(level).bitPattern)
        case .float64: return .float64(bits: level.bitPattern)
        case .int16, .int32, .int64:
            let raw = level.isFinite ? (level / scale).rounded() : 0
            let bound = type == .int16 ? 32767.0 : 2_147_483_647.0
            return .int(Int64(max(-bound, min(bound, raw))))
        case .uint16, .uint32, .uint64:
            let raw = level.isFinite ? (abs(level) / scale).rounded() : 0
            return .uint(UInt64(min(raw, type == .uint16 ? 65535 : 4_294_967_295)))
        }
    }
}
