import Logging
import Synchronization
import Testing
import TramConfig
import TramModbus
import TramSimulator

/// Starts Tram's libmodbus simulator on a free loopback port, on its own thread, and returns the port.
func startSimulator(devices: [SimulatedDevice]) async -> Int {
    let simulator = ModbusSimulator(
        transport: .tcp(host: "127.0.0.1", port: 0), devices: devices, refreshInterval: .milliseconds(50))
    nonisolated(unsafe) let unsafeSimulator = simulator
    let port = Recorder<Int>()
    let thread = IOExecutor(threads: 1, name: "test-sim")
    thread.submit(IOExecutor.Lane(name: "sim")) {
        try? unsafeSimulator.run { url in port.record(Int(url.split(separator: ":").last!)!) }
    }
    _ = await port.wait { !$0.isEmpty }
    return port.all[0]
}

@Suite("AcquisitionEngine")
struct AcquisitionEngineTests {
    static let points =
        (0..<10).map { Point(name: "r\($0)", table: .holding, address: $0, type: .uint16) }
        + [Point(name: "v", table: .input, address: 0, type: .float32, unit: "V")]

    func config(port: Int, interval: Duration) -> AgentConfig {
        let link = LinkConfig(
            name: "sim", endpoint: .tcp(host: "127.0.0.1", port: port), responseTimeout: .milliseconds(500))
        let devices = [1, 2].map {
            DeviceConfig(name: "d\($0)", link: "sim", unit: $0, points: Self.points, pollInterval: interval)
        }
        return AgentConfig(gateway: .init(id: "t", site: ""), ioThreads: 2, links: [link], devices: devices)
    }

    @Test("scheduled polling delivers every device at its interval, on time, until stopped")
    func scheduledPolling() async throws {
        let port = await startSimulator(devices: [1, 2].map { SimulatedDevice(unit: $0, points: Self.points)! })
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let engine = AcquisitionEngine(config: config(port: port, interval: .milliseconds(40)), logger: logger)
        let readings = Recorder<(String, Double, Bool)>()
        // The schedule starts inside startPolling, so no cycle i may run before start + i intervals.
        let start = monotonicMilliseconds()
        engine.startPolling { reading in
            readings.record(
                (reading.device, monotonicMilliseconds(), reading.points.allSatisfy { $0.quality == .good }))
        }
        #expect(
            await readings.wait { events in ["d1", "d2"].allSatisfy { d in events.filter { $0.0 == d }.count >= 8 } })
        engine.stopPolling()
        let stoppedAt = readings.all.count
        for device in ["d1", "d2"] {
            let times = readings.all.filter { $0.0 == device }.map(\.1)
            // On schedule, not flat out: cycle i runs no earlier than i intervals after the start
            // (a late cycle catches up, but nothing runs ahead of its deadline), and not far behind it.
            let offsets = times.map { $0 - start }
            for (i, offset) in offsets.enumerated() {
                #expect(offset >= Double(i) * 40, "\(device) cycle \(i) at \(offset) ms")
                #expect(offset < Double(i) * 40 + 300, "\(device) cycle \(i) at \(offset) ms")
            }
        }
        let allGood = readings.all.allSatisfy { $0.2 }
        #expect(allGood, "every point good")
        // Stopped means stopped: at most the cycles already running finish.
        _ = await readings.wait(timeout: .milliseconds(200)) { _ in false }
        #expect(readings.all.count <= stoppedAt + 2)
        await engine.shutdown()
    }

    @Test("a device whose unit does not answer is offline with its error; its neighbour on the link stays online")
    func partialFailure() async throws {
        let port = await startSimulator(devices: [SimulatedDevice(unit: 1, points: Self.points)!])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let engine = AcquisitionEngine(config: config(port: port, interval: .seconds(1)), logger: logger)
        let good = try #require(await engine.poll("d1"))
        let absent = try #require(await engine.poll("d2"))
        #expect(good.health.state == .online)
        #expect(good.points.allSatisfy { $0.quality == .good })
        #expect(absent.health.state == .offline)
        // The simulator answers for an absent unit as a gateway would: exception 11.
        #expect(absent.points.allSatisfy { $0.quality == .exception(11) })
        #expect(absent.health.lastError?.contains("exception 11") == true)
        await engine.shutdown()
    }
}
