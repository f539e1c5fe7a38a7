import CAllocationCounter
import Testing
import TramSchema
import TramTestSupport

/// Random dictionaries and readings of every type, encoded then decoded.
struct RandomTrace {
    var dictionary: SchemaDictionary
    var groups: [(time: Int64, clock: ClockFlags, first: Int, values: [WireValue])]

    static func make(_ random: inout SeededRandom) -> RandomTrace {
        let count = Int.random(in: 1...40, using: &random)
        let points = (0..<count).map { i in
            PointDescriptor(
                device: "d\(i % 3)", name: "p\(i)", unit: ["", "V", "kWh"].randomElement(using: &random)!,
                type: WireType.allCases.randomElement(using: &random)!,
                scale: [1, 0.1, 0.001].randomElement(using: &random)!,
                kind: PointKind.allCases.randomElement(using: &random)!,
                intervalMilliseconds: [nil, 1000, 60_000, UInt64.max].randomElement(using: &random)!)
        }
        let dictionary = SchemaDictionary(
            gateway: "gw-\(count)", points: points,
            batchMaximumAgeMilliseconds: [nil, 10_000, 1 << 40].randomElement(using: &random)!)
        var time = Int64.random(in: 1_600_000_000_000...1_900_000_000_000, using: &random)
        var groups: [(Int64, ClockFlags, Int, [WireValue])] = []
        for _ in 0..<Int.random(in: 0...30, using: &random) {
            time += Int64.random(in: -5...2000, using: &random)
            let first = Int.random(in: 0..<count, using: &random)
            let length = Int.random(in: 0...(count - first), using: &random)
            let values = (first..<first + length).map { value(for: points[$0].type, &random) }
            groups.append((time, ClockFlags(rawValue: UInt8.random(in: 0...3, using: &random)), first, values))
        }
        return RandomTrace(dictionary: dictionary, groups: groups)
    }

    static func value(for type: WireType, _ random: inout SeededRandom) -> WireValue {
        if Int.random(in: 0..<10, using: &random) == 0 {
            return .missing(
                [
                    .notAvailable, .exception(UInt8.random(in: 1...11, using: &random)), .timeout, .linkDown, .ioError,
                    .unsupported, .unexpected,
                ]
                .randomElement(using: &random)!)
        }
        switch type {
        case .bool: return .bool(Bool.random(using: &random))
        case .int16: return .int(Int64(Int16.random(in: .min ... .max, using: &random)))
        case .int32: return .int(Int64(Int32.random(in: .min ... .max, using: &random)))
        case .int64:
            return .int(
                [Int64.min, Int64.max, 0, Int64.random(in: .min ... .max, using: &random)].randomElement(
                    using: &random)!)
        case .uint16: return .uint(UInt64(UInt16.random(in: .min ... .max, using: &random)))
        case .uint32: return .uint(UInt64(UInt32.random(in: .min ... .max, using: &random)))
        case .uint64:
            return .uint(
                [UInt64.max, 0, UInt64.random(in: .min ... .max, using: &random)].randomElement(using: &random)!)
        case .float32:
            let choices: [UInt32] = [
                Float(230.4).bitPattern, Float(-0.0).bitPattern, Float.nan.bitPattern, 0x7FA0_0001,
                Float.infinity.bitPattern,
                Float(Double(Int.random(in: -100_000...100_000, using: &random)) / 100).bitPattern,
                UInt32.random(in: .min ... .max, using: &random),
            ]
            return .float32(bits: choices.randomElement(using: &random)!)
        case .float64:
            let choices: [UInt64] = [
                (49.98).bitPattern, (-0.0).bitPattern, Double.nan.bitPattern, 0x7FF0_0000_0000_0001,
                (Double(Int.random(in: -10_000_000...10_000_000, using: &random)) / 1000).bitPattern,
                UInt64.random(in: .min ... .max, using: &random),
            ]
            return .float64(bits: choices.randomElement(using: &random)!)
        case .string:
            return .string(
                ["", "SunS", "Ünïcode ⚡", String(repeating: "x", count: Int.random(in: 0...40, using: &random))]
                    .randomElement(using: &random)!)
        }
    }
}

@Suite("Wire round trip")
struct RoundTripTests {
    @Test("random readings of every type decode to exactly what was encoded")
    func roundTrip() throws {
        var random = SeededRandom(seed: 1755)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        for iteration in 0..<500 {
            let trace = RandomTrace.make(&random)
            let encoder = BatchEncoder(dictionary: trace.dictionary, buffer: buffer)
            let base = trace.groups.first?.time ?? 0
            encoder.begin(epoch: UInt64(iteration), sequence: UInt64(iteration * 7), baseTimeMilliseconds: base)
            for group in trace.groups {
                try group.values.withUnsafeBufferPointer {
                    try encoder.append(
                        timeMilliseconds: group.time, clock: group.clock, firstAlias: group.first, values: $0)
                }
            }
            let frame = Array(try encoder.seal())
            let dictionaryFrame = trace.dictionary.frame()
            guard
                case .dictionary(let dictionary, let id) = try FrameDecoder.decode(
                    dictionaryFrame, dictionary: { _ in nil }
                ).frame
            else {
                Issue.record("dictionary frame decoded as something else"); return
            }
            #expect(dictionary == trace.dictionary)
            #expect(id == trace.dictionary.schemaID)
            let (decoded, size) = try FrameDecoder.decode(frame, dictionary: { $0 == id ? dictionary : nil })
            #expect(size == frame.count)
            guard case .batch(let batch) = decoded else {
                Issue.record("batch frame decoded as something else"); return
            }
            #expect(batch.gateway == trace.dictionary.gateway)
            #expect(batch.epoch == UInt64(iteration) && batch.sequence == UInt64(iteration * 7))
            #expect(batch.groups.count == trace.groups.count)
            for (got, want) in zip(batch.groups, trace.groups) {
                #expect(got.timeMilliseconds == want.time && got.clock == want.clock && got.firstAlias == want.first)
                #expect(got.values == want.values, "iteration \(iteration)")
            }
        }
    }

    @Test("a config change gives a new schema id; the same config the same id")
    func schemaID() {
        let a = SchemaDictionary(
            gateway: "gw", points: [PointDescriptor(device: "m", name: "v", unit: "V", type: .float32)])
        var b = a
        #expect(a.schemaID == b.schemaID)
        b.points[0].scale = 0.1
        #expect(a.schemaID != b.schemaID)
    }

    @Test("a batch needs its dictionary: without it the decoder says so")
    func missingDictionary() throws {
        let dictionary = SchemaDictionary(
            gateway: "gw", points: [PointDescriptor(device: "m", name: "v", type: .uint16)])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: 0)
        let frame = Array(try encoder.seal())
        #expect(throws: WireError.self) { try FrameDecoder.decode(frame, dictionary: { _ in nil }) }
    }
}

@Suite("Encoder allocations")
struct AllocationTests {
    @Test("steady state: zero heap allocations per batch")
    func zeroAllocations() throws {
        let points = (0..<100).map { i in
            PointDescriptor(
                device: "meter", name: "p\(i)", type: i < 60 ? .float32 : i < 80 ? .uint16 : i < 99 ? .uint32 : .string)
        }
        let dictionary = SchemaDictionary(gateway: "gw-alloc", points: points)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        var values = points.enumerated().map { i, point -> WireValue in
            switch point.type {
            case .float32: .float32(bits: Float(100 + Double(i) / 100).bitPattern)
            case .uint16: .uint(42)
            case .uint32: .uint(UInt64(i * 1000))
            default: .string("FW 1.2.3")
            }
        }
        values[7] = .missing(.exception(2))
        func batch(_ sequence: UInt64) throws -> Int {
            encoder.begin(epoch: 1, sequence: sequence, baseTimeMilliseconds: 1_700_000_000_000)
            for second in 0..<60 {
                try values.withUnsafeBufferPointer {
                    try encoder.append(
                        timeMilliseconds: 1_700_000_000_000 + Int64(second) * 1000, clock: .synchronised, firstAlias: 0,
                        values: $0)
                }
            }
            return try encoder.seal().count
        }
        _ = try batch(0)  // warm-up: lazy statics (the CRC table) initialise once
        let before = tram_allocations_on_this_thread()
        var bytes = 0
        for sequence in 1...20 { bytes += try batch(UInt64(sequence)) }
        let allocations = tram_allocations_on_this_thread() - before
        #expect(allocations == 0, "\(allocations) allocations in 20 batches")
        #expect(bytes > 0)
    }

    @Test("the counter counts: an array allocation is seen")
    func counterWorks() {
        let before = tram_allocations_on_this_thread()
        let array = [Int](repeating: 1, count: Int.random(in: 1000...2000))
        #expect(tram_allocations_on_this_thread() - before >= 1)
        #expect(array.count >= 1000)
    }
}

@Suite("Encoder edge cases")
struct EncoderEdgeTests {
    static let dictionary = SchemaDictionary(
        gateway: "gw",
        points: [
            PointDescriptor(device: "d", name: "f", type: .float32),
            PointDescriptor(device: "d", name: "i", type: .int64),
        ])

    @Test("a group that does not fit is dropped whole, its aliases' state with it; the batch still decodes exactly")
    func bufferFull() throws {
        let first: [WireValue] = [.float32(bits: Float(1.5).bitPattern), .int(5)]
        let huge: [WireValue] = [.float32(bits: Float(1.6).bitPattern), .int(Int64.max / 2)]
        let next: [WireValue] = [.float32(bits: Float(1.7).bitPattern), .int(6)]
        // Measure: room for the header, `first`, `next` and the checksum, but not for `huge` after `first`.
        let probe = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { probe.deallocate() }
        let measuring = BatchEncoder(dictionary: Self.dictionary, buffer: probe)
        measuring.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: 0)
        try first.withUnsafeBufferPointer {
            try measuring.append(timeMilliseconds: 0, clock: [], firstAlias: 0, values: $0)
        }
        try next.withUnsafeBufferPointer {
            try measuring.append(timeMilliseconds: 2, clock: [], firstAlias: 0, values: $0)
        }
        let capacity = measuring.byteCount + Frame.trailerSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: Self.dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: 0)
        try first.withUnsafeBufferPointer {
            try encoder.append(timeMilliseconds: 0, clock: [], firstAlias: 0, values: $0)
        }
        do {
            try huge.withUnsafeBufferPointer {
                try encoder.append(timeMilliseconds: 1, clock: [], firstAlias: 0, values: $0)
            }
            Issue.record("the large group should not fit")
        } catch {
            guard case WireError.bufferFull? = error as? WireError else { throw error }
        }
        // Encoded against the state `first` left, not the dropped group's.
        try next.withUnsafeBufferPointer {
            try encoder.append(timeMilliseconds: 2, clock: [], firstAlias: 0, values: $0)
        }
        let frame = Array(try encoder.seal())
        let dictionary = Self.dictionary
        guard case .batch(let batch) = try FrameDecoder.decode(frame, dictionary: { _ in dictionary }).frame else {
            Issue.record("no batch"); return
        }
        #expect(batch.groups.map(\.values) == [first, next])
    }

    @Test("a wrong-typed value rejects the group and leaves the batch decodable")
    func typeMismatch() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: Self.dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: 0)
        let good: [WireValue] = [.float32(bits: Float(1.5).bitPattern), .int(7)]
        let bad: [WireValue] = [.float32(bits: Float(2.5).bitPattern), .uint(8)]
        let missing: [WireValue] = [.missing(.timeout), .int(9)]
        try good.withUnsafeBufferPointer {
            try encoder.append(timeMilliseconds: 0, clock: [], firstAlias: 0, values: $0)
        }
        #expect(throws: WireError.self) {
            try bad.withUnsafeBufferPointer {
                try encoder.append(timeMilliseconds: 1, clock: [], firstAlias: 0, values: $0)
            }
        }
        try missing.withUnsafeBufferPointer {
            try encoder.append(timeMilliseconds: 2, clock: [], firstAlias: 0, values: $0)
        }
        try good.withUnsafeBufferPointer {
            try encoder.append(timeMilliseconds: 3, clock: [], firstAlias: 0, values: $0)
        }
        let frame = Array(try encoder.seal())
        let dictionary = Self.dictionary
        guard case .batch(let batch) = try FrameDecoder.decode(frame, dictionary: { _ in dictionary }).frame else {
            Issue.record("no batch"); return
        }
        #expect(batch.groups.map(\.values) == [good, missing, good])
    }
}
