import TramBuiltinPoints
import Testing
import TramConfig

/// The built-in devices' settings reach the config, and their point tables are the ones the docs show (their errors
/// are the data-driven case `testcases/agent-builtin-device-settings`).
@Suite("Built-in devices")
struct BuiltinDeviceTests {
    static let agent = """
        gateway: { id: gw-1 }
        links: [ { name: plc, url: "tcp://192.0.2.1" } ]
        devices:
          - { name: m, link: plc, unit: 1, address_base: 0, points: [ { name: p, table: holding, address: 0, type: uint16 } ] }

        """

    static func load(_ text: String) throws -> AgentConfig {
        let result = DeviceMapLoader(source: InMemoryConfigSource(["agent.yaml": text])).loadAgent("agent.yaml")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        return try #require(result.value)
    }

    @Test("defaults: the gateway device on at 60 s, the modem on auto at 30 s")
    func defaults() throws {
        let config = try Self.load(Self.agent)
        #expect(config.health == HealthSettings())
        #expect(config.health.enabled && config.health.pollInterval == .seconds(60))
        #expect(config.modem.mode == .auto && config.modem.device == nil && config.modem.pollInterval == .seconds(30))
    }

    @Test("every key; a modem section that names a device turns it on")
    func everyKey() throws {
        let config = try Self.load(
            """
            gateway:
              id: gw-1
              health: { enabled: false, poll_interval: 5m }
            links: [ { name: plc, url: "tcp://192.0.2.1" } ]
            devices: []
            modem:
              device: /org/freedesktop/ModemManager1/Modem/3
              poll_interval: 10s

            """)
        #expect(!config.health.enabled && config.health.pollInterval == .seconds(300))
        #expect(config.modem.mode == .on && config.modem.device == "/org/freedesktop/ModemManager1/Modem/3")
        #expect(config.modem.pollInterval == .seconds(10))
        let off = try Self.load(Self.agent + "modem: { enabled: false, device: wwan0 }\n")
        #expect(off.modem.mode == .off)
    }

    @Test("every name code looks points up by is in its device's table")
    func lookupNames() {
        let modem = Set(BuiltinDevice.modemPoints.map(\.name))
        for name in [
            BuiltinDevice.Modem.technology, BuiltinDevice.Modem.operatorCode, BuiltinDevice.Modem.operatorName,
            BuiltinDevice.Modem.lteRSRP, BuiltinDevice.Modem.lteRSRQ, BuiltinDevice.Modem.lteSNR,
            BuiltinDevice.Modem.nrRSRP, BuiltinDevice.Modem.nrRSRQ, BuiltinDevice.Modem.nrSNR,
        ] { #expect(modem.contains(name), "\(name)") }
        let gateway = Set(BuiltinDevice.gatewayPoints.map(\.name))
        for name in [
            BuiltinDevice.Gateway.agentVersion, BuiltinDevice.Gateway.uptime, BuiltinDevice.Gateway.cpuUsage,
            BuiltinDevice.Gateway.memoryRSS, BuiltinDevice.Gateway.spoolBacklog, BuiltinDevice.Gateway.spoolFill,
            BuiltinDevice.Gateway.spoolOldestAge,
        ] { #expect(gateway.contains(name), "\(name)") }
    }

    @Test("the gateway device has three points per sink, after its fixed ones, in sink order")
    func gatewayPoints() {
        let device = BuiltinDevice.gateway(sinks: ["park", "backup"], pollInterval: .seconds(60))
        let names = device.points.map(\.name)
        #expect(names.count == BuiltinDevice.gatewayPoints.count + 6)
        #expect(
            Array(names.suffix(6)) == [
                "sink_park_state", "sink_park_failures", "sink_park_bytes_today", "sink_backup_state",
                "sink_backup_failures", "sink_backup_bytes_today",
            ])
        #expect(Set(names).count == names.count)
        #expect(Set(BuiltinDevice.modemPoints.map(\.name)).count == BuiltinDevice.modemPoints.count)
    }

    /// docs/builtin-devices.md's tables list every point with its type and unit, in order (a range like
    /// `dropped_overflow … dropped_rejected` stands for the spool's causes, `sink_<name>_x` for each sink's).
    @Test("docs/builtin-devices.md shows exactly these points")
    func docsTables() throws {
        let text = try #require(TestFiles.readText(TestFiles.packageRoot + "/docs/builtin-devices.md"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        func trim(_ s: Substring) -> String {
            String(s.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        }
        func table(after heading: String) -> [(name: String, type: String, unit: String)] {
            guard let start = lines.firstIndex(where: { $0 == heading }) else { return [] }
            var rows: [(String, String, String)] = []
            for line in lines[(start + 1)...] {
                if line.hasPrefix("## ") { break }
                guard line.hasPrefix("| `") else {
                    if rows.isEmpty { continue } else { break }
                }
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().map(trim)
                rows.append((cells[0].filter { $0 != "`" }, cells[1], cells[2]))
            }
            return rows
        }
        let modem = table(after: "## The `modem` device")
        #expect(modem.map(\.name) == BuiltinDevice.modemPoints.map(\.name))
        #expect(modem.map(\.type) == BuiltinDevice.modemPoints.map(\.type.rawValue))
        #expect(modem.map(\.unit) == BuiltinDevice.modemPoints.map(\.unit))

        let gateway = table(after: "## The `gateway` device")
        let causes = BuiltinDevice.spoolDropCauses
        let range = "dropped_\(causes.first!) … dropped_\(causes.last!)"
        var expected: [String] = []
        for point in BuiltinDevice.gatewayPoints {
            let isCause = point.name.hasPrefix("dropped_") && causes.contains(String(point.name.dropFirst(8)))
            if !isCause {
                expected.append(point.name)
            } else if expected.last != range {
                expected.append(range)
            }
        }
        expected += BuiltinDevice.sinkPoints("<name>").map(\.name)
        #expect(gateway.map(\.name) == expected)
        let row = try #require(lines.first { $0.hasPrefix("| `dropped_\(causes.first!)`") })
        for cause in causes { #expect(row.contains("`\(cause)`"), "cause \(cause) is not in the docs' row") }
    }
}
