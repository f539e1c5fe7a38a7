import Logging
import Testing
import TramBatch
import TramConfig
import TramModbus
import TramSchema
import TramSimulator
import TramCore

@Suite("Poll to wire")
struct ReadingEncoderTests {
    static let points: [Point] = [
        Point(name: "v", table: .input, address: 0, type: .float32, unit: "V"),
        Point(name: "e", table: .input, address: 2, type: .uint32, scale: 0.1, unit: "kWh"),
        Point(name: "w", table: .holding, address: 10, type: .int16, scaleFrom: "w_sf", unit: "W"),
        Point(name: "w_sf", table: .holding, address: 11, type: .int16),
        Point(name: "on", table: .coil, address: 0, type: .bool),
        Point(name: "model", table: .holding, address: 20, type: .string(registers: 4)),
    ]

    @Test("readings from the simulator survive encode and decode exactly, qualities included")
    func pollEncodeDecode() async throws {
        let port = await startSimulator(devices: [SimulatedDevice(unit: 1, points: Self.points)!])
        let link = LinkConfig(
            name: "sim", endpoint: .tcp(host: "127.0.0.1", port: port), responseTimeout: .milliseconds(500))
        let config = AgentConfig(
            gateway: .init(id: "gw-test"), links: [link],
            devices: [
                DeviceConfig(name: "meter", link: "sim", unit: 1, points: Self.points),
                DeviceConfig(name: "absent", link: "sim", unit: 9, points: Array(Self.points.prefix(2))),
            ])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let engine = AcquisitionEngine(config: config, logger: logger)
        let mapping = SchemaMapping(config: config)
        #expect(mapping.dictionary.points.count == 8)
        #expect(mapping.dictionary.points[2].exponentAlias == 3)
        #expect(mapping.firstAlias == ["meter": 0, "absent": 6])

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = ReadingEncoder(mapping: mapping, buffer: buffer)
        encoder.encoder.begin(epoch: 1, sequence: 1, baseTimeMilliseconds: Timestamp.now().wallMilliseconds)
        var readings: [DeviceReading] = []
        for _ in 0..<3 {
            for device in ["meter", "absent"] {
                let reading = try #require(await engine.poll(device))
                readings.append(reading)
                try encoder.append(reading)
            }
        }
        await engine.shutdown()
        let frame = Array(try encoder.encoder.seal())
        let dictionary = mapping.dictionary
        guard
            case .batch(let batch) = try FrameDecoder.decode(
                frame, dictionary: { $0 == dictionary.schemaID ? dictionary : nil }
            ).frame
        else {
            Issue.record("no batch"); return
        }
        #expect(batch.groups.count == readings.count)
        for (group, reading) in zip(batch.groups, readings) {
            #expect(group.firstAlias == mapping.firstAlias[reading.device])
            #expect(group.values == reading.points.map(ReadingEncoder.wireValue))
        }
        // The absent unit's points travel as missing, with the gateway's exception code.
        #expect(batch.groups[1].values == [.missing(.exception(11)), .missing(.exception(11))])
        // And the meter's are real values: the simulator's voltage is near 230 V.
        guard case .float32(let bits) = batch.groups[0].values[0] else {
            Issue.record("voltage is not a float"); return
        }
        #expect(abs(Float(bitPattern: bits) - 230) < 10)
    }
}
