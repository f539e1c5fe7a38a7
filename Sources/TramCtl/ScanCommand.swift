import ArgumentParser
import TramConfig
import TramModbus
#if canImport(Glibc)
import Glibc
#endif

/// `tramctl scan`: which unit ids answer on a bus or behind an endpoint.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find the unit ids that answer on a bus or endpoint.",
        discussion:
            "A device that answers with a Modbus exception is present: it heard and replied. Only a timeout means nobody is there."
    )

    @OptionGroup var target: LinkOptions

    @Option(help: "First unit id.")
    var from: Int = 1

    @Option(help: "Last unit id.")
    var to: Int = 247

    @Option(help: "Table to probe.")
    var table: String = "holding"

    @Option(help: "Address to probe (PDU).")
    var address: Int = 0

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        guard (0...255).contains(from), (from...255).contains(to) else {
            throw ValidationError("--from/--to must be unit ids 0-255 with from <= to")
        }
        let table = try CLIParsing.table(table)
        let link = try target.linkConfig(defaultTimeout: .milliseconds(100))
        let request = ReadRequest(table: table, address: address, count: 1, points: [])
        // A serial port the running agent holds is scanned through the agent, between its poll cycles (at the
        // link's own response timeout, so a full scan of a slow bus takes a while).
        let sampler = try RegisterSampler.open(link, agentSocket: target.agentSocket, request: request, unit: from)
        var connection: ModbusConnection?
        if case .direct(let direct) = sampler.source {
            connection = direct
            do { if !direct.isOpen { try direct.open() } } catch {
                print("error: \(error)", to: &standardError)
                throw ExitCode(2)
            }
        }
        var found: [(unit: Int, answer: String)] = []
        let isTerminal = isatty(2) == 1
        for unit in from...to {
            if isTerminal {
                print(
                    "\rscanning unit \(unit) (\(unit - from + 1)/\(to - from + 1)), found \(found.count)   ",
                    terminator: "", to: &standardError)
            }
            switch RegisterSampler(source: sampler.source, request: request, unit: unit).sample() {
            case .success(let sample): found.append((unit, "value \(sample.registers[0])"))
            case .failure(.exception(let code)) where code == 10 || code == 11:
                continue  // a gateway saying nobody is behind this unit id
            case .failure(.exception(let code)):
                found.append((unit, "exception \(code) (\(ModbusError.exceptionName(code)))"))
            case .failure(.timeout): continue
            case .failure:
                // Framing noise or a dropped link: nobody usable at this id; reopen for the next.
                if let connection, !connection.isOpen { try? connection.open() }
            }
        }
        if isTerminal { print("\r" + String(repeating: " ", count: 60) + "\r", terminator: "", to: &standardError) }
        if json {
            print("[" + found.map { #"{"unit":\#($0.unit),"answer":"\#($0.answer)"}"# }.joined(separator: ",") + "]")
        } else {
            print(
                "\(found.count) unit(s) answered on \(link.endpoint) (\(table.rawValue) \(address), timeout \(link.responseTimeout.shortDescription))"
            )
            for entry in found { print("  unit \(entry.unit): \(entry.answer)") }
        }
    }
}
