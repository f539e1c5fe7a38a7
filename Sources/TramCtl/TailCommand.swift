import ArgumentParser
import FoundationEssentials
import TramControlProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `tramctl tail`: decoded readings as the running agent produces them.
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Stream readings from the running agent as they are polled.")

    @OptionGroup var agent: AgentSocketOptions

    @Option(help: "Only this device.")
    var device: String?

    @Option(help: "Only this point (by name).")
    var point: String?

    @Option(help: "Stop after this many cycles (default: until interrupted).")
    var count: Int?

    @Flag(help: "One JSON object per reading.")
    var json = false

    func run() throws {
        // Start at the newest cycle: a tail shows what happens from now on.
        var cursor = try AgentClient.ask(
            .cycles(after: Int.max / 2, device: nil), ControlCycles.self, socket: agent.socket
        ).cursor
        var shown = 0
        while count.map({ shown < $0 }) ?? true {
            let answer = try AgentClient.ask(
                .cycles(after: cursor, device: device), ControlCycles.self, socket: agent.socket)
            if answer.missed > 0 { print("… \(answer.missed) cycles went by too fast to show", to: &standardError) }
            for cycle in answer.cycles {
                for p in cycle.points where point == nil || p.name == point {
                    if json {
                        print(
                            Output.json(
                                Line(
                                    device: cycle.device, point: p.name, value: p.value?.display, unit: p.unit,
                                    quality: p.quality, time_ms: p.timeMilliseconds)))
                    } else {
                        print(
                            "\(Self.time(p.timeMilliseconds)) \(cycle.device)/\(p.name) = \(p.value?.display ?? "-") \(p.unit)\(p.quality == "good" ? "" : " [\(p.quality)]")"
                        )
                    }
                }
                shown += 1
                if let count, shown >= count { break }
            }
            fflush(nil)
            cursor = answer.cursor
            usleep(200_000)
        }
    }

    struct Line: Encodable {
        var device: String
        var point: String
        var value: String?
        var unit: String
        var quality: String
        var time_ms: Int64
    }

    /// HH:MM:SS.mmm in UTC (what the wire carries; the gateway's zone is often unset).
    static func time(_ milliseconds: Int64) -> String {
        let day = ((milliseconds % 86_400_000) + 86_400_000) % 86_400_000
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = day % 1000
        return
            "\(two(day / 3_600_000)):\(two(day / 60_000 % 60)):\(two(day / 1000 % 60)).\(ms < 10 ? "00" : ms < 100 ? "0" : "")\(ms)Z"
    }
}
