import ArgumentParser
import FoundationEssentials
import TramControlProtocol

/// Where the agent's control socket is; shared by the verbs that talk to a running agent.
struct AgentSocketOptions: ParsableArguments {
    @Option(help: "The running agent's control socket.")
    var socket: String = AgentClient.defaultSocket
}

/// `tramctl status`: the running agent on one screen.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running agent: devices, spool, uplink and today's data use.")

    @OptionGroup var agent: AgentSocketOptions

    @Flag(help: "Print the agent's answer as JSON.")
    var json = false

    func run() throws {
        let status = try AgentClient.status(socket: agent.socket)
        if json {
            print(String(decoding: status.bytes, as: UTF8.self), terminator: "")
            return
        }
        print(
            StatusScreen.render(status, nowMilliseconds: Int64(Date().timeIntervalSince1970 * 1000)).joined(
                separator: "\n"))
    }
}

/// The status screen as lines, shared by `status` and `top`.
enum StatusScreen {
    static func render(_ status: ControlStatus, nowMilliseconds: Int64, width: Int = 80) -> [String] {
        var lines: [String] = []
        let a = status.agent
        lines.append(
            "tram-agent \(a.version) · gateway \(a.gateway) · pid \(a.pid) · up \(Output.duration(milliseconds: a.uptimeMilliseconds))"
        )
        var clock = status.clock.synchronised ? "clock synchronised" : "CLOCK NOT SYNCHRONISED (readings are flagged)"
        if status.clock.stepped { clock += " · CLOCK STEPPED recently (readings flagged)" }
        lines.append("config \(a.config) · \(clock)")
        if let error = a.lastReloadError { lines.append("RELOAD REFUSED: \(error)") }
        if !a.alive { lines.append("WARNING: a stage of the agent is not making progress (see its log)") }
        if let link = status.link {
            var line = "LINK \(link.line)"
            if let measured = link.measuredMilliseconds {
                line += " · measured \(Output.duration(milliseconds: max(0, nowMilliseconds - measured))) ago"
            }
            lines.append(clip(line, to: width))
        }
        lines.append("")
        let online = status.devices.filter { $0.health == "online" }.count
        lines.append("DEVICES \(online)/\(status.devices.count) online")
        let rows = status.devices.map { d -> [String] in
            [
                "  " + d.name, d.link, d.health, String(format1(d.latencyMilliseconds)) + " ms", "\(d.cycles)",
                "\(d.failedCycles)",
                clip(d.lastError ?? "", to: 30),
            ]
        }
        lines += Output.table(["  device", "link", "health", "latency", "cycles", "failed", "last error"], rows).split(
            separator: "\n"
        ).map(String.init)
        lines.append("")
        let s = status.spool
        let fill = s.maximumBytes > 0 ? Double(s.diskBytes) / Double(s.maximumBytes) * 100 : 0
        var spool = "SPOOL \(Output.bytes(s.diskBytes)) of \(Output.bytes(s.maximumBytes)) (\(format1(fill))%)"
        spool += " · buffered \(s.buffered.readings) readings in \(s.buffered.batches) batches"
        if let oldest = s.oldestBufferedMilliseconds {
            spool += " · oldest \(Output.duration(milliseconds: max(0, nowMilliseconds - oldest))) old"
        }
        lines.append(spool)
        let dropped = s.dropped.filter { $0.value.readings > 0 || $0.value.batches > 0 }
        var drops = "  produced \(status.writer.readingsProduced)"
        if status.writer.readingsSuppressed > 0 {
            drops += " · held back by exception \(status.writer.readingsSuppressed)"
        }
        drops += " · delivered \(s.delivered.readings) · dropped "
        drops +=
            dropped.isEmpty
            ? "none"
            : dropped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.readings)" }.joined(separator: ", ")
        let writerDrops = status.writer.readingsDroppedQueueFull + status.writer.readingsDroppedUnencodable
        if writerDrops > 0 { drops += " · before the spool \(writerDrops)" }
        lines.append(drops)
        lines.append("")
        if status.uplinks.isEmpty { lines.append("UPLINK none configured: readings are only spooled") }
        for u in status.uplinks {
            var line = "UPLINK \(u.sink) \(u.state.uppercased()) → \(u.url)"
            if u.state == "delivering", u.failedUploads == 0 { line += " ✓" }
            lines.append(line)
            var detail = "  delivered \(u.batchesDelivered) batches · \(u.uploads) uploads, \(u.failedUploads) failed"
            if let last = u.lastDeliveryMilliseconds {
                detail += " · last \(Output.duration(milliseconds: max(0, nowMilliseconds - last))) ago"
            }
            lines.append(detail)
            var data = "  data today \(Output.bytes(u.budgetUsedToday))"
            if let limit = u.budgetLimit { data += " of \(Output.bytes(limit)) budget" }
            if u.batchesRejected > 0 {
                data += " · \(u.batchesRejected) batches refused as malformed (dead-letter file)"
            }
            lines.append(data)
            if let problem = u.problem, u.state != "delivering" { lines.append("  problem: \(problem)") }
        }
        if !status.writes.isEmpty {
            lines.append("")
            lines.append("WRITES the newest \(status.writes.count), oldest first (the agent's write journal)")
            for entry in status.writes { lines.append("  " + writeSummary(entry, nowMilliseconds: nowMilliseconds)) }
        }
        return lines.map { clip($0, to: width) }
    }

    /// A journal line as `12 s ago  alice  boiler.setpoint  verified  0x01D9 → 0x022B`.
    static func writeSummary(_ line: String, nowMilliseconds: Int64) -> String {
        var fields: [String: String] = [:]
        var rest = Substring(line.hasPrefix("write ") ? line.dropFirst(6) : Substring(line))
        while let equals = rest.firstIndex(of: "=") {
            let key = String(rest[..<equals]).trimmingPrefix(" ")
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.popFirst() {
                    if escaped {
                        value.append(character); escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        value.append(character)
                    }
                }
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            fields[String(key)] = value
        }
        let age = Int64(fields["time_ms"] ?? "").map { "\(max(0, nowMilliseconds - $0) / 1000) s ago" } ?? "?"
        let change = fields["before"].map { before in "\(before) → \(fields["after"] ?? "not read")" } ?? ""
        return [age, fields["user"] ?? "?", fields["what"] ?? "?", fields["result"] ?? "?", change]
            .filter { !$0.isEmpty }.joined(separator: "  ")
    }

    static func format1(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded))" : "\(rounded)"
    }

    static func clip(_ text: String, to width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(0, width - 1))) + "…"
    }
}
