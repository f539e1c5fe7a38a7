import CAllocationCounter
import Testing
import TramBatch
import TramCompression
import TramConfig
import TramCore
@testable import TramModbus
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// The batch step on its own: config → dictionary, cycles → groups, sealed by size or age, compressed.
@Suite("Batch builder")
struct BatchBuilderTests {
    /// The golden example of Tests/TramSchemaTests/vectors as an agent file's devices, with the values of
    /// dictionary-trailer.hex: energy a counter, the incomer polled every second, the inverter every minute, and
    /// the default batch max age of 10 s.
    static let config = AgentConfig(
        gateway: .init(id: "gw-demo"), links: [],
        devices: [
            DeviceConfig(
                name: "incomer", link: "l", unit: 1,
                points: [
                    Point(name: "voltage_l1", table: .input, address: 0, type: .float32, unit: "V"),
                    Point(
                        name: "energy", table: .input, address: 2, type: .uint32, scale: 0.1, unit: "kWh",
                        kind: .counter),
                    Point(name: "breaker_closed", table: .coil, address: 0, type: .bool),
                ], pollInterval: .seconds(1)),
            DeviceConfig(
                name: "pv", link: "l", unit: 2,
                points: [
                    Point(name: "power", table: .holding, address: 0, type: .int16, scaleFrom: "w_sf", unit: "W"),
                    Point(name: "w_sf", table: .holding, address: 1, type: .int16),
                    Point(name: "model", table: .holding, address: 2, type: .string(registers: 4)),
                ], pollInterval: .seconds(60)),
        ])
    static let base: Int64 = 1_764_000_000_000

    static func cycle(_ device: String, at time: Int64, _ values: [(RawValue?, Quality)]) -> DeviceReading {
        DeviceReading(
            device: device,
            points: values.enumerated().map { index, entry in
                PointReading(
                    point: index, value: entry.0, quality: entry.1, exponent: 0,
                    timestamp: Timestamp(wallMilliseconds: time, monotonicNanoseconds: 0))
            },
            requests: [], health: DeviceHealth())
    }

    /// The four groups of vectors/README.md, as poll cycles.
    static let goldenCycles: [(DeviceReading, ClockFlags)] = [
        (
            cycle("incomer", at: base, [(.float32(230.4), .good), (.uint(12345), .good), (.bool(true), .good)]),
            .synchronised
        ),
        (
            cycle("incomer", at: base + 1000, [(.float32(230.5), .good), (.uint(12347), .good), (.bool(true), .good)]),
            .synchronised
        ),
        (
            cycle("pv", at: base + 1003, [(.int(17822), .good), (.int(-1), .good), (.string("SE7600"), .good)]),
            [.synchronised, .stepped]
        ),
        (
            cycle(
                "incomer", at: base + 2001,
                [(.float32(Float(bitPattern: 0x7FC0_0000)), .good), (nil, .exception(2)), (.bool(false), .good)]),
            .synchronised
        ),
    ]

    static func vector(_ name: String) throws -> [UInt8] {
        let file = #filePath
        let path = String(file[..<file.lastIndex(of: "/")!]) + "/../TramSchemaTests/vectors/" + name
        let handle = try #require(fopen(path, "r"))
        defer { fclose(handle) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, handle)
            if count <= 0 { break }
            text += chunk[..<count]
        }
        return String(decoding: text, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap {
            UInt8($0, radix: 16)
        }
    }

    @Test("the dictionary and the sealed batch are the golden vectors byte for byte")
    func goldenBytes() throws {
        let builder = BatchBuilder(
            mapping: SchemaMapping(config: Self.config), maximumBytes: 1 << 16, maximumAge: .seconds(60))
        #expect(builder.dictionaryFrame == (try Self.vector("dictionary-trailer.hex")))
        #expect(builder.schemaID == 0xC75E_107A_E2B6_5A01)
        builder.begin(
            BatchIdentity(epoch: 3, sequence: 42), baseTimeMilliseconds: Self.base, atMonotonicMilliseconds: 0)
        for (reading, clock) in Self.goldenCycles { try builder.append(reading, clock: clock) }
        let sealed = try builder.seal()
        #expect(sealed.identity == BatchIdentity(epoch: 3, sequence: 42) && sealed.readings == 12)
        // batch.hex names the plain dictionary's schema id (frame bytes 19..<27); this batch names the trailer
        // dictionary's, and is otherwise the same bytes (the trailer changes nothing in how values are encoded).
        let plain = try FrameCodec.decompress(Array(sealed.frame), maximumDecodedSize: 1 << 20)
        let golden = try Self.vector("batch.hex")
        #expect(plain.count == golden.count)
        #expect(plain[..<19] == golden[..<19] && plain[27..<(plain.count - 4)] == golden[27..<(golden.count - 4)])
        #expect(plain[19..<27].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == builder.schemaID)
        #expect(sealed.plainBytes == (try Self.vector("batch.hex")).count)
        #expect(builder.open == nil)
    }

    @Test("a batch is full once its encoded size reaches maximumBytes, and not before")
    func sealBySize() throws {
        let builder = BatchBuilder(
            mapping: SchemaMapping(config: Self.config), maximumBytes: 200, maximumAge: .seconds(60))
        builder.begin(BatchIdentity(epoch: 1, sequence: 1), baseTimeMilliseconds: Self.base, atMonotonicMilliseconds: 0)
        var cycles = 0
        while !builder.isFull {
            try builder.append(Self.goldenCycles[cycles % 2].0)
            cycles += 1
            #expect(cycles < 100)
        }
        // Each incomer group is 11 to 13 bytes: 200 bytes take more than ten, and the builder stops at the first past.
        #expect(cycles > 10)
        let sealed = try builder.seal()
        #expect(sealed.plainBytes >= 200 && sealed.plainBytes < 200 + 40)
        #expect(sealed.readings == cycles * 3)
        #expect(!builder.isFull && builder.open == nil)
    }

    @Test("a batch is due max_age after it was begun, on the monotonic clock it was given")
    func sealByAge() throws {
        let builder = BatchBuilder(
            mapping: SchemaMapping(config: Self.config), maximumBytes: 1 << 16, maximumAge: .milliseconds(1500))
        #expect(!builder.isDue(atMonotonicMilliseconds: .max) && builder.dueAtMilliseconds == nil)
        builder.begin(
            BatchIdentity(epoch: 1, sequence: 7), baseTimeMilliseconds: Self.base, atMonotonicMilliseconds: 10_000)
        try builder.append(Self.goldenCycles[0].0)
        #expect(builder.dueAtMilliseconds == 11_500)
        #expect(!builder.isDue(atMonotonicMilliseconds: 11_499))
        #expect(builder.isDue(atMonotonicMilliseconds: 11_500))
        #expect(try builder.seal().identity.sequence == 7)
        #expect(!builder.isDue(atMonotonicMilliseconds: 20_000))
    }

    @Test("appending a cycle allocates nothing once each device's row exists")
    func noAllocationsPerReading() throws {
        let builder = BatchBuilder(
            mapping: SchemaMapping(config: Self.config), maximumBytes: 1 << 20, maximumAge: .seconds(60))
        let cycles = [Self.goldenCycles[0].0, Self.goldenCycles[1].0, Self.goldenCycles[3].0]
        builder.begin(BatchIdentity(epoch: 1, sequence: 1), baseTimeMilliseconds: Self.base, atMonotonicMilliseconds: 0)
        try builder.append(cycles[0])
        let before = tram_allocations_on_this_thread()
        for index in 0..<3_000 { try builder.append(cycles[index % 3]) }
        let allocations = tram_allocations_on_this_thread() - before
        #expect(allocations == 0, "\(allocations) allocations for 9,000 readings")
        #expect(builder.open?.readings == 9_003)
    }

    @Test("reported by exception, deciding and encoding a cycle allocates nothing either, whatever is sent")
    func noAllocationsByException() throws {
        var config = Self.config
        config.devices[0].report = ReportSettings()
        config.devices[0].points[0].report = PointReportSetting(deadband: .absolute(0.5))
        let builder = BatchBuilder(
            mapping: SchemaMapping(config: config), maximumBytes: 1 << 20, maximumAge: .seconds(60))
        #expect(builder.filter.isActive && builder.mapping.dictionary.isVersion2)
        // Voltage moving by 0.1, 0.2, ... and back: some cycles send it, some send nothing, quality flaps.
        func cycle(_ step: Int) -> DeviceReading {
            let voltage = Float(230 + Double(step % 20) * 0.1)
            let energy: (RawValue?, Quality) =
                step % 7 == 0 ? (nil, .timeout) : (.uint(UInt64(12345 + step / 5)), .good)
            var reading = Self.cycle(
                "incomer", at: Self.base + Int64(step) * 1000,
                [(.float32(voltage), .good), energy, (.bool(step % 11 == 0), .good)])
            for index in reading.points.indices {
                reading.points[index].timestamp.monotonicNanoseconds = UInt64(step + 1) * 1_000_000_000
            }
            return reading
        }
        let cycles = (0..<60).map(cycle)
        builder.begin(BatchIdentity(epoch: 1, sequence: 1), baseTimeMilliseconds: Self.base, atMonotonicMilliseconds: 0)
        try builder.append(cycles[0])
        var sent = 0, suppressed = 0
        let before = tram_allocations_on_this_thread()
        for index in 1..<60 {
            let outcome = try builder.append(cycles[index])
            sent += outcome.sent; suppressed += outcome.suppressed
        }
        let allocations = tram_allocations_on_this_thread() - before
        #expect(allocations == 0, "\(allocations) allocations for 59 cycles")
        #expect(sent > 0 && suppressed > 0 && sent + suppressed == 59 * 3)
    }

    @Test("a cycle of a device the schema does not know is refused and leaves the batch as it was")
    func unknownDevice() throws {
        let builder = BatchBuilder(
            mapping: SchemaMapping(config: Self.config), maximumBytes: 1 << 16, maximumAge: .seconds(60))
        #expect(throws: WireError.self) { try builder.append(Self.goldenCycles[0].0) }  // nothing open
        builder.begin(BatchIdentity(epoch: 1, sequence: 1), baseTimeMilliseconds: Self.base, atMonotonicMilliseconds: 0)
        try builder.append(Self.goldenCycles[0].0)
        #expect(throws: WireError.self) { try builder.append(Self.cycle("boiler", at: Self.base, [(.uint(1), .good)])) }
        #expect(builder.open?.readings == 3)
        #expect(try builder.seal().readings == 3)
    }
}
