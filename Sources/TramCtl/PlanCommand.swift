import ArgumentParser
import TramConfig
import TramModbus

/// `tramctl plan`: the requests each device will get, without touching a device.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the read requests planned for each device (dry run).")

    @OptionGroup var agentFile: AgentFileOptions

    @Option(help: "Only this device.")
    var device: String?

    @Flag(help: "Print JSON.")
    var json = false

    struct DevicePlanJSON: Encodable {
        struct Request: Encodable {
            let table: String
            let function: Int
            let address: Int
            let count: Int
            let points: [String]
        }
        let device: String
        let link: String
        let unit: Int
        let points: Int
        let requests: [Request]
    }

    func run() throws {
        let agent = try agentFile.load()
        let devices = agent.devices.filter { device == nil || $0.name == device }
        if let device, devices.isEmpty {
            throw ValidationError(
                "no device '\(device)' in \(agentFile.config); devices: \(agent.devices.map(\.name).joined(separator: ", "))"
            )
        }
        var plans: [DevicePlanJSON] = []
        for device in devices {
            let requests = RequestPlanner.plan(device.points, limits: device.limits)
            plans.append(
                DevicePlanJSON(
                    device: device.name, link: device.link, unit: device.unit, points: device.points.count,
                    requests: requests.map { request in
                        .init(
                            table: request.table.rawValue, function: request.table.functionCode,
                            address: request.address, count: request.count,
                            points: request.points.map { device.points[$0].name })
                    }))
        }
        if json {
            print(Output.json(plans))
            return
        }
        for (plan, device) in zip(plans, devices) {
            let limits = device.limits
            print(
                "\(plan.device) (link \(plan.link), unit \(plan.unit)): \(plan.points) points in \(plan.requests.count) requests"
                    + "  [max_registers \(limits.maxRegisters), even_count \(limits.evenCount), max_gap \(limits.maxGap), pause \(limits.pause.shortDescription)]"
            )
            let rows = plan.requests.map { r in
                [
                    "FC\(r.function < 10 ? "0" : "")\(r.function)", r.table, "\(r.address)", "\(r.count)",
                    r.points.joined(separator: " "),
                ]
            }
            print(
                Output.table(
                    ["  fc", "table", "address", "count", "points"], rows.map { ["  " + $0[0]] + $0.dropFirst() }))
            print("")
        }
    }
}
