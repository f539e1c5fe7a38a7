import ArgumentParser
import Logging
import TramConfig
import TramControlProtocol
import TramCore
import TramModbus
import TramWrite
#if canImport(Glibc)
import Glibc
#endif

/// `tramctl write`: a guarded write to a register or a coil, by map or by address, with a read-back.
///
/// While the agent runs, the write goes through its control socket and runs on the link's own thread between poll
/// cycles; the agent checks every guard itself and audits the attempt. Otherwise `tramctl` opens the link, applies
/// the same guards (TramWrite) and prints the audit line.
struct WriteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write",
        abstract: "Write a register or a coil, guarded, with a read-back.",
        discussion: """
            By map (the point must be 'writable: true' in its profile; type, order and scale come from the map):
              tramctl write --config /etc/tram/agent.yaml --device boiler --point setpoint --value 47.3
            By address (no map to check against: needs --force; through the agent, root and 'control: raw_writes: true'):
              tramctl write --link tcp://10.0.0.7:502 --unit 1 --table holding --address 20 --type float32 --value 2 --force --fc 16

            It shows what it will send and asks on a terminal; --yes skips the question, --dry-run only shows.
            Exit status: 0 written (and read back unchanged), 1 refused or not confirmed, 2 failed, 3 read back different.
            """)

    @Option(name: .customLong("config"), help: "Agent file: write a point of one of its devices.")
    var config: String?

    @Option(help: "Where profile references are looked up (default: Devices/ beside the agent file).")
    var profiles: String?

    @Option(help: "With --config: the device's name.")
    var device: String?

    @Option(help: "With --config: the point's name.")
    var point: String?

    // Unconditional: `--value -1.5` is a value, not an option.
    @Option(
        parsing: .unconditional,
        help: "The value: engineering units by map (47.3), the raw value by address; 1/0 for coils and bits.")
    var value: String

    @Option(help: "By address: link URL, tcp://host:port, rtu:///dev/ttyUSB0 or rtu+tcp://host:port.")
    var link: String?

    @Option(help: "By address: unit id (1-247).")
    var unit: Int = 1

    @Option(help: "By address: holding or coil.")
    var table: String = "holding"

    @Option(help: "By address: the address (0-based PDU address).")
    var address: Int?

    @Option(help: "By address: uint16, int16, uint32, int32, uint64, int64, float32, float64, string(N), bit(N).")
    var type: String = "uint16"

    @Option(help: "By address: word/byte order, ABCD, CDAB, BADC or DCBA.")
    var order: String = "ABCD"

    @Option(help: "Serial baud rate (rtu:// without the agent).")
    var baud: Int = 9600

    @Option(help: "Serial parity: none, even or odd (rtu:// without the agent).")
    var parity: String = "none"

    @Option(help: "Response timeout without the agent, e.g. 500ms (default 1s).")
    var timeout: String?

    @Option(
        name: .customLong("fc"),
        help: "Function code to use: 16 for one register on devices that refuse 6, 15 for one coil.")
    var functionCode: Int?

    @Flag(help: "By address: send it although no device map checks it.")
    var force = false

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @Flag(name: .customLong("dry-run"), help: "Show what would be sent, and send nothing.")
    var dryRun = false

    @Option(
        name: .customLong("socket"),
        help:
            "The running agent's control socket (default: the agent file's control.socket, else /run/tram/agent.sock).")
    var socketOption: String?

    /// The agent's socket: as given, or the one the agent file names. Loads the file: `run` asks once.
    func agentSocket() -> String {
        if let socketOption { return socketOption }
        if let config, let loaded = try? ConfigLoading.agentQuietly(config, profiles: profiles) {
            return loaded.control.socket
        }
        return AgentClient.defaultSocket
    }

    func validate() throws {
        switch (config != nil || device != nil || point != nil, link != nil || address != nil) {
        case (true, true):
            throw ValidationError(
                "write either by map (--config --device --point) or by address (--link --address), not both")
        case (false, false):
            throw ValidationError(
                "name what to write: --config FILE --device NAME --point NAME, or --link URL --address N")
        case (true, false):
            guard config != nil, device != nil, point != nil else {
                throw ValidationError("a write by map needs --config, --device and --point")
            }
        case (false, true):
            guard link != nil, address != nil else {
                throw ValidationError("a write by address needs --link and --address")
            }
        }
    }

    func run() throws {
        let request = ControlWriteRequest(
            target: link.map {
                .address(link: $0, unit: unit, table: table, address: address ?? 0, type: type, order: order)
            } ?? .point(device: device ?? "", point: point ?? ""),
            value: value, functionCode: functionCode, force: force, dryRun: true)
        let socket = agentSocket()
        if AgentClient.isRunning(socket: socket) {
            let planned = try ask(request, socket: socket)
            if case .refused(let reason, _) = planned.answer, reason == WriteRefusal.Reason.notOwned.rawValue {
                // The agent has neither the device nor the link: no bus of its to share, so write directly.
            } else {
                try throughAgent(request, plan: planned, socket: socket)
                return
            }
        }
        try direct()
    }

    // MARK: Through the agent

    func ask(_ request: ControlWriteRequest, socket: String) throws -> ControlWriteResult {
        try AgentClient.ask(.write(request), ControlWriteResult.self, socket: socket)
    }

    func throughAgent(_ request: ControlWriteRequest, plan answer: ControlWriteResult, socket: String) throws {
        guard case .planned(let plan) = answer.answer else { return try report(answer, agent: true) }
        show(plan.summary, note: plan.note, readback: plan.readback, via: "through the agent (link \(plan.link))")
        if dryRun { return }
        try confirm()
        var real = request
        real.dryRun = false
        try report(try ask(real, socket: socket), agent: true)
    }

    func report(_ answer: ControlWriteResult, agent: Bool) throws {
        switch answer.answer {
        case .refused(_, let message):
            print("refused: \(message)", to: &standardError)
            throw ExitCode(1)
        case .planned:
            return
        case .sent(_, let outcome):
            let before = outcome.before.map { $0.map(WritePlan.hex).joined(separator: " ") } ?? "?"
            let after = outcome.after.map { $0.map(WritePlan.hex).joined(separator: " ") } ?? "not read"
            print("before  \(before)\(outcome.beforeValue.isEmpty ? "" : "  (\(outcome.beforeValue))")")
            print("after   \(after)\(outcome.afterValue.isEmpty ? "" : "  (\(outcome.afterValue))")")
            let milliseconds = Double(outcome.roundTripNanoseconds / 10_000) / 100
            print("result  \(outcome.result): \(Self.explain(outcome.result)) (\(outcome.method), \(milliseconds) ms)")
            if !outcome.detail.isEmpty { print("        \(outcome.detail)") }
            if outcome.result == "mismatch" { throw ExitCode(3) }
            if !outcome.succeeded { throw ExitCode(2) }
        }
    }

    static func explain(_ result: String) -> String {
        switch result {
        case "verified": "written, and the device reads back the value"
        case "written": "written; not read back (the point is 'readback: none')"
        case "mismatch": "the device accepted the write but reads back something else: it ignored or changed it"
        case "read_failed": "the current value could not be read, so nothing was written"
        case "failed": "the write failed: the device may or may not have applied it"
        case "readback_failed": "written, but the read-back failed"
        case let code where code.hasPrefix("exception_"):
            "the device refused it with Modbus exception \(code.dropFirst(10)) "
                + (code == "exception_2" ? "(illegal address)" : code == "exception_3" ? "(illegal value)" : "")
        default: result
        }
    }

    // MARK: Without the agent

    func direct() throws {
        let target: WriteTarget
        let planned: Result<WritePlan, WriteRefusal>
        var linkConfig: LinkConfig
        var pause = Duration.zero
        if let config {
            let agent = try ConfigLoading.agent(config, profiles: profiles)
            switch WriteResolver.point(point ?? "", of: device ?? "", in: agent, functionCode: functionCode) {
            case .failure(let refusal): throw refused(refusal)
            case .success(let (resolved, device)):
                target = resolved
                guard let link = agent.links.first(where: { $0.name == device.link }) else {
                    throw ValidationError(
                        "device '\(device.name)' names link '\(device.link)', which the file does not define")
                }
                linkConfig = link
                pause = device.limits.pause
                if let timeout = device.timeout { linkConfig.responseTimeout = timeout }
                planned = WritePlanner.plan(target, value: value)
            }
        } else {
            switch WriteResolver.address(
                unit: unit, table: table, address: address ?? 0, type: type, order: order, functionCode: functionCode)
            {
            case .failure(let refusal): throw refused(refusal)
            case .success(let resolved): target = resolved
            }
            var serial = SerialSettings()
            serial.baud = baud
            guard let parity = SerialSettings.Parity(rawValue: parity.lowercased()) else {
                throw ValidationError("--parity must be none, even or odd")
            }
            serial.parity = parity
            switch LinkConfig.Endpoint.parse(link ?? "", serial: serial) {
            case .failure(let error): throw ValidationError(error.message)
            case .success(let endpoint):
                linkConfig = LinkConfig(
                    name: "cli", endpoint: endpoint,
                    responseTimeout: try timeout.map { try CLIParsing.duration($0, option: "--timeout") } ?? .seconds(1)
                )
            }
            planned = WritePlanner.planRaw(target, value: value, force: force)
        }
        let plan: WritePlan
        switch planned {
        case .failure(let refusal): throw refused(refusal)
        case .success(let value): plan = value
        }
        show(plan.summary, note: plan.note, readback: plan.readback.rawValue, via: "directly (no agent owns the link)")
        if dryRun { return }
        try confirm()
        let access = LinkAccess(
            link: linkConfig, pause: pause, timeout: linkConfig.responseTimeout, logger: Logger(label: "tramctl"))
        defer { access.close() }
        let outcome = WriteExecution.run(plan, on: access)
        let user = getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(getuid())"
        let audit = WriteAudit(
            plan: plan, outcome: outcome, user: user, uid: Int(getuid()),
            wallMilliseconds: TramClock.system.wallMilliseconds(),
            link: link ?? linkConfig.name)
        print("audit: \(audit.line)", to: &standardError)
        try report(
            ControlWriteResult(
                .sent(
                    ControlWriteResult.Plan(plan, link: linkConfig.name), ControlWriteResult.Outcome(outcome, of: plan))
            ),
            agent: false)
    }

    // MARK: Showing and asking

    func refused(_ refusal: WriteRefusal) -> ExitCode {
        print("refused: \(refusal.message)", to: &standardError)
        return ExitCode(1)
    }

    func show(_ summary: String, note: String, readback: String, via: String) {
        print("will write \(summary)")
        print("          \(via); read back: \(readback == "none" ? "no (readback: none)" : "yes")")
        if !note.isEmpty { print("note      \(note)") }
        if dryRun { print("dry run: nothing sent") }
    }

    /// On a terminal, asks; elsewhere needs `--yes`, so a script never writes by accident.
    func confirm() throws {
        if yes { return }
        guard isatty(0) == 1 else {
            print(
                "refused: standard input is not a terminal to confirm on; give --yes to write without asking",
                to: &standardError)
            throw ExitCode(1)
        }
        print("write it? [y/N] ", terminator: "")
        fflush(nil)
        let answer = readLine()?.lowercased() ?? ""
        guard answer == "y" || answer == "yes" else {
            print("not written", to: &standardError)
            throw ExitCode(1)
        }
    }
}
