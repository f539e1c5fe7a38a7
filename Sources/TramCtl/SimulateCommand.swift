import ArgumentParser
import TramConfig
import TramConfigFiles
import TramModbus
import TramSimulator
#if canImport(Glibc)
import Glibc
#endif

/// `tramctl simulate`: serve device profiles as Modbus slaves with changing values.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve device profiles as Modbus TCP or RTU slaves with plausible changing values.",
        discussion: """
            Examples:
              tramctl simulate --profile Devices/eastron/sdm630.yaml --listen 127.0.0.1:1502 --unit 1
              tramctl simulate --profile Devices/xy/xy-md02.yaml --rtu /dev/pts/5 --unit 3
              tramctl simulate --config deploy/demo/agent.yaml     (every device on a tcp:// loopback link)
            Prints one 'READY <url>' line per listener once clients can connect.
            """)

    @Option(help: "Profile to serve (repeatable, paired in order with --unit).")
    var profile: [String] = []

    @Option(help: "Unit id for each --profile.")
    var unit: [Int] = []

    @Option(help: "TCP listen address host:port (port 0 picks a free one).")
    var listen: String?

    @Option(help: "Serve RTU on this serial device or pty instead of TCP.")
    var rtu: String?

    @Option(help: "Serve every device of this agent file whose link is tcp:// on this machine.")
    var config: String?

    @Option(help: "Where profile references are looked up.")
    var profiles: String?

    func run() throws {
        var servers: [ModbusSimulator] = []
        if let config {
            let agent = try ConfigLoading.agent(config, profiles: profiles)
            var byPort: [Int: (host: String, devices: [SimulatedDevice])] = [:]
            for device in agent.devices {
                guard case .tcp(let host, let port)? = agent.link(named: device.link)?.endpoint,
                    ["127.0.0.1", "localhost", "::1"].contains(host)
                else { continue }
                guard let simulated = SimulatedDevice(unit: device.unit, points: device.points) else { continue }
                byPort[port, default: (host, [])].devices.append(simulated)
            }
            guard !byPort.isEmpty else {
                throw ValidationError("\(config) has no devices on tcp:// loopback links to simulate")
            }
            servers = byPort.keys.sorted().map { port in
                ModbusSimulator(
                    transport: .tcp(
                        host: byPort[port]!.host == "localhost" ? "127.0.0.1" : byPort[port]!.host, port: port),
                    devices: byPort[port]!.devices)
            }
        } else {
            guard !profile.isEmpty else {
                throw ValidationError("give --profile FILE (with --listen or --rtu) or --config FILE")
            }
            let units = unit.isEmpty ? Array(1...profile.count) : unit
            guard units.count == profile.count else { throw ValidationError("give one --unit per --profile") }
            let loader = DeviceMapLoader(source: FileConfigSource())
            var devices: [SimulatedDevice] = []
            for (file, unit) in zip(profile, units) {
                let result = loader.loadProfile(file)
                result.diagnostics.forEach { print($0, to: &standardError) }
                guard let loaded = result.value, let device = SimulatedDevice(unit: unit, points: loaded.points) else {
                    throw ExitCode(1)
                }
                devices.append(device)
            }
            if let rtu {
                servers = [ModbusSimulator(transport: .rtu(device: rtu, serial: SerialSettings()), devices: devices)]
            } else {
                let address = listen ?? "127.0.0.1:1502"
                guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...])
                else {
                    throw ValidationError("--listen expects host:port")
                }
                servers = [
                    ModbusSimulator(transport: .tcp(host: String(address[..<colon]), port: port), devices: devices)
                ]
            }
        }
        try serve(servers)
    }

    /// Runs each server on its own thread; the main thread waits for them all.
    private func serve(_ servers: [ModbusSimulator]) throws {
        let executor = IOExecutor(threads: servers.count, name: "tram-sim")
        let finished = SimulatorGroup(count: servers.count)
        for (index, server) in servers.enumerated() {
            nonisolated(unsafe) let server = server
            executor.submit(IOExecutor.Lane(name: "sim-\(index)")) {
                do {
                    try server.run { url in
                        print("READY \(url)")
                        fflush(nil)
                    }
                } catch {
                    print("error: \(error)", to: &standardError)
                    finished.fail()
                    // A half-served config would only confuse: stop the other listeners too.
                    ModbusSimulator.stopAll()
                }
                finished.done()
            }
        }
        finished.wait()
        executor.shutdown()
        if finished.failed { throw ExitCode(1) }
    }
}

/// Waits for every simulator thread to end.
final class SimulatorGroup: @unchecked Sendable {
    private var remaining: Int
    private(set) var failed = false
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    init(count: Int) {
        remaining = count
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    func fail() {
        pthread_mutex_lock(&mutex); failed = true; pthread_mutex_unlock(&mutex)
    }

    func done() {
        pthread_mutex_lock(&mutex)
        remaining -= 1
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    func wait() {
        pthread_mutex_lock(&mutex)
        while remaining > 0 { pthread_cond_wait(&condition, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
}
