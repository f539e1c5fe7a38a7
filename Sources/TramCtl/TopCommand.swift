import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
import TramControlProtocol
#endif

/// `tramctl top`: a live view for a technician at the cabinet.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live, refreshing view of the running agent: devices, latest values, spool and uplink.")

    @OptionGroup var agent: AgentSocketOptions

    @Option(help: "Refresh interval in seconds.")
    var interval: Double = 1

    @Option(help: "Stop after this many refreshes (default: until interrupted).")
    var iterations: Int?

    func run() throws {
        let terminal =
            isatty(1) != 0 && !["dumb", "", "unknown"].contains(ProcessInfo.processInfo.environment["TERM"] ?? "")
        let size = Self.terminalSize()
        var done = 0
        while iterations.map({ done < $0 }) ?? true {
            let lines: [String]
            do {
                let status = try AgentClient.status(socket: agent.socket)
                lines = Self.screen(status, width: size.columns, height: size.rows)
            } catch {
                lines = ["tramctl top: \(error)", "(retrying every \(interval) s; Ctrl-C to quit)"]
            }
            // A real terminal redraws in place; a dumb one (or a pipe, or a serial console) gets plain frames.
            if terminal {
                print("\u{1B}[H\u{1B}[2J", terminator: "")
            } else if done > 0 {
                print(String(repeating: "-", count: min(size.columns, 80)))
            }
            print(lines.joined(separator: "\n"))
            fflush(nil)
            done += 1
            if iterations.map({ done >= $0 }) ?? false { break }
            usleep(UInt32(max(0.1, interval) * 1_000_000))
        }
    }

    /// The status summary, then each device's latest points, cut to fit the screen.
    static func screen(_ status: ControlStatus, width: Int, height: Int) -> [String] {
        var lines = StatusScreen.render(
            status, nowMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), width: width)
        // Points take the rest of the screen; the summary comes first because it says what is wrong.
        lines.append("")
        lines.append("POINTS")
        var points: [String] = []
        for device in status.devices {
            for p in device.points {
                let value = p.value?.display ?? "-"
                let quality = p.quality == "good" ? "" : p.quality
                points.append(
                    StatusScreen.clip(
                        "  \(pad(device.name, 15)) \(pad(p.name, 20)) \(pad(value, 14, right: true)) \(pad(p.unit, 6)) \(quality)",
                        to: width))
            }
        }
        let room = max(1, height - lines.count - 1)
        if points.count > room {
            lines += points.prefix(room - 1)
            lines.append("  … \(points.count - room + 1) more points (tramctl tail --device NAME shows one device)")
        } else {
            lines += points
        }
        return lines
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let clipped = text.count > width ? String(text.prefix(width - 1)) + "…" : text
        let fill = String(repeating: " ", count: max(0, width - clipped.count))
        return right ? fill + clipped : clipped + fill
    }

    static func terminalSize() -> (columns: Int, rows: Int) {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 {
            return (Int(size.ws_col), Int(size.ws_row))
        }
        return (80, 24)
    }
}
