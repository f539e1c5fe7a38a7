import ArgumentParser
import TramConfig
import TramControlProtocol
import TramModbus
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// `tramctl read`: ad-hoc reads like mbpoll, with every word order side by side and a watch mode.
struct ReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read registers or bits from a device.",
        discussion: """
            Examples:
              tramctl read --link tcp://10.0.0.7:502 --unit 1 --table input --address 0 --type float32 --count 3
              tramctl read --link rtu:///dev/ttyUSB0 --baud 9600 --unit 2 --table holding --address 3201 --all-orders --type int32
              tramctl read --link tcp://10.0.0.7 --address 100 --watch
            """)

    @OptionGroup var target: LinkOptions

    @Option(help: "Unit id (slave address).")
    var unit: Int = 1

    @Option(help: "coil, discrete_input, input or holding.")
    var table: String = "holding"

    @Option(help: "First address (0-based PDU address unless --address-base 1).")
    var address: Int

    @Option(name: .customLong("address-base"), help: "0: PDU addresses; 1: the manual's 1-based numbering.")
    var addressBase: Int = 0

    @Option(help: "Number of values to read.")
    var count: Int = 1

    @Option(help: "uint16, int16, uint32, int32, uint64, int64, float32, float64, string(N), bit(N); bool for coils.")
    var type: String?

    @Option(help: "Word/byte order: ABCD, CDAB, BADC or DCBA.")
    var order: String = "ABCD"

    @Flag(name: .customLong("all-orders"), help: "Show the value under all four word orders side by side.")
    var allOrders = false

    @Flag(help: "Poll repeatedly, with round-trip time and loss statistics (Ctrl-C stops).")
    var watch = false

    @Option(help: "With --watch: time between reads.")
    var interval: String = "1s"

    @Option(help: "With --watch: stop after this many reads (0: until Ctrl-C).")
    var cycles: Int = 0

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let table = try CLIParsing.table(table)
        let valueType: ValueType
        if let type {
            guard let parsed = ValueType.parse(type) else { throw ValidationError("unknown --type '\(type)'") }
            valueType = parsed
        } else {
            valueType = table.holdsBits ? .bool : .uint16
        }
        if table.holdsBits != (valueType == .bool) {
            throw ValidationError(
                table.holdsBits
                    ? "table \(table.rawValue) holds bits: use --type bool"
                    : "--type bool reads coils or discrete inputs")
        }
        guard let wordOrder = WordOrder(rawValue: order.uppercased()) else {
            throw ValidationError("--order must be ABCD, CDAB, BADC or DCBA")
        }
        let pdu = address - addressBase
        let registers = valueType.registerCount * count
        let limit = table.holdsBits ? RequestLimits.modbusMaxBits : RequestLimits.modbusMaxRegisters
        guard pdu >= 0, count >= 1, registers <= limit, pdu + registers - 1 <= 0xFFFF else {
            throw ValidationError(
                "address \(address)+\(registers) \(table.holdsBits ? "bits" : "registers") is outside what one request can read (at most \(limit), addresses 0-65535)"
            )
        }
        let request = ReadRequest(table: table, address: pdu, count: registers, points: [])
        let points = (0..<count).map { i in
            Point(
                name: "\(address + i * valueType.registerCount)", table: table,
                address: pdu + i * valueType.registerCount, type: valueType, order: wordOrder)
        }
        let sampler = try RegisterSampler.open(
            try target.linkConfig(), agentSocket: target.agentSocket, request: request, unit: unit)
        if watch {
            try Watcher(
                sampler: sampler, points: points, interval: try CLIParsing.duration(interval, option: "--interval"),
                cycles: cycles, json: json
            ).run()
            return
        }
        switch sampler.sample() {
        case .failure(let error):
            print("error: unit \(unit) \(request): \(error)", to: &standardError)
            throw ExitCode(2)
        case .success(let sample):
            print(ValueFormatter(points: points, allOrders: allOrders, json: json).format(sample.registers))
        }
    }
}

/// One timed read of a request, with reconnect on a broken link; or, when the running agent holds the serial
/// port, the same read through the agent, which queues it between its poll cycles on the bus.
struct RegisterSampler {
    enum Source {
        case direct(ModbusConnection)
        case agent(socket: String, device: String)
    }

    let source: Source
    let request: ReadRequest
    let unit: Int

    /// Opens the link; a serial port the agent holds is reached through the agent instead.
    static func open(_ link: LinkConfig, agentSocket: String, request: ReadRequest, unit: Int) throws -> RegisterSampler
    {
        let connection = ModbusConnection(link: link)
        do {
            try connection.open()
        } catch .portBusy(let holder) {
            guard case .rtu(let device, _) = link.endpoint,
                (try? AgentClient.request(ControlRequest.version.line, socket: agentSocket)) != nil
            else {
                throw ValidationError("\(holder); no agent answers on \(agentSocket) to read through")
            }
            print(
                "note: \(device) belongs to the running agent; reading through it (\(agentSocket))", to: &standardError)
            return RegisterSampler(source: .agent(socket: agentSocket, device: device), request: request, unit: unit)
        } catch {
            // Not fatal here: sample() reports it (and --watch keeps retrying).
        }
        return RegisterSampler(source: .direct(connection), request: request, unit: unit)
    }

    func sample() -> Result<Sample, ModbusError> {
        switch source {
        case .direct(let connection): return sample(connection)
        case .agent(let socket, let device):
            do {
                let read = ControlReadRequest(
                    serialDevice: device, unit: unit, table: request.table.rawValue, address: request.address,
                    count: request.count)
                let answer = try AgentClient.ask(.read(read), ControlReadResult.self, socket: socket)
                switch answer.outcome {
                case .registers(let registers):
                    return .success(Sample(registers: registers, roundTripNanoseconds: answer.roundTripNanoseconds))
                case .failure(let failure): return .failure(Self.error(failure))
                }
            } catch {
                return .failure(.linkDown(reason: "the agent: \(error)"))
            }
        }
    }

    /// A failed read through the agent, as the error a direct read would have given.
    static func error(_ failure: ControlReadFailure) -> ModbusError {
        switch failure.kind {
        case .timeout: .timeout
        case .exception(let code): .exception(code: code)
        case .link: .io(errno: 0, reason: "through the agent: \(failure.description)")
        }
    }

    struct Sample {
        var registers: [UInt16]
        var roundTripNanoseconds: UInt64
    }

    private func sample(_ connection: ModbusConnection) -> Result<Sample, ModbusError> {
        var registers = [UInt16](repeating: 0, count: request.count)
        var bits = [UInt8](repeating: 0, count: request.count)
        do {
            if !connection.isOpen { try connection.open() }
            let started = Timestamp.now().monotonicNanoseconds
            try registers.withUnsafeMutableBufferPointer { r in
                try bits.withUnsafeMutableBufferPointer { b in
                    try connection.read(request, unit: unit, into: r.baseAddress!, scratch: b.baseAddress!)
                }
            }
            return .success(
                Sample(registers: registers, roundTripNanoseconds: Timestamp.now().monotonicNanoseconds - started))
        } catch let error as ModbusError {
            if error.breaksConnection { connection.close() }
            return .failure(error)
        } catch {
            return .failure(.io(errno: 0, reason: "\(error)"))
        }
    }
}

/// Prints decoded values, optionally under every word order.
struct ValueFormatter {
    let points: [Point]
    let allOrders: Bool
    let json: Bool

    struct ValueJSON: Encodable {
        let address: Int
        let words: [String]
        let values: [String: Output.RawJSON]
        let bits: [String: String]
    }

    var orders: [WordOrder] {
        guard allOrders, let type = points.first?.type, type.hasByteOrder else { return [points.first?.order ?? .abcd] }
        // A single register has only two distinct byte orders.
        return type.registerCount == 1 ? [.abcd, .badc] : WordOrder.allCases
    }

    func decode(_ point: Point, _ order: WordOrder, _ registers: [UInt16], base: Int) -> RawValue {
        var variant = point
        variant.order = order
        return registers.withUnsafeBufferPointer { RegisterCodec.decode(variant, registers: $0, base: base) }
    }

    func format(_ registers: [UInt16]) -> String {
        let base = points.first?.address ?? 0
        if json {
            let items = points.map { point in
                let words = (point.address..<point.address + point.width).map { hex(registers[$0 - base]) }
                var values: [String: Output.RawJSON] = [:]
                var bits: [String: String] = [:]
                for order in orders {
                    let value = decode(point, order, registers, base: base)
                    values[order.rawValue] = Output.RawJSON(value: value)
                    bits[order.rawValue] = Output.bitsHex(value, type: point.type)
                }
                return ValueJSON(address: Int(point.name) ?? point.address, words: words, values: values, bits: bits)
            }
            return Output.json(items)
        }
        let header = ["address", "registers"] + orders.map { orders.count > 1 ? $0.rawValue : "\(points.first!.type)" }
        let rows = points.map { point in
            [
                point.name,
                (point.address..<point.address + point.width).map { hex(registers[$0 - base]) }.joined(separator: " "),
            ]
                + orders.map { decode(point, $0, registers, base: base).description }
        }
        return Output.table(header, rows)
    }

    func hex(_ word: UInt16) -> String {
        let digits = String(word, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}

/// `--watch`: repeated reads with round-trip and loss statistics.
struct Watcher {
    let sampler: RegisterSampler
    let points: [Point]
    let interval: Duration
    let cycles: Int
    let json: Bool

    nonisolated(unsafe) static var interrupted: sig_atomic_t = 0

    func run() throws {
        signal(SIGINT) { _ in Watcher.interrupted = 1 }
        var sent = 0, answered = 0
        var rtts: [Double] = []
        let formatter = ValueFormatter(points: points, allOrders: false, json: false)
        while Watcher.interrupted == 0, cycles == 0 || sent < cycles {
            let started = Timestamp.now().monotonicNanoseconds
            sent += 1
            switch sampler.sample() {
            case .success(let sample):
                answered += 1
                let rtt = Double(sample.roundTripNanoseconds) / 1e6
                rtts.append(rtt)
                let values = points.map {
                    formatter.decode($0, $0.order, sample.registers, base: points[0].address).description
                }
                print(
                    json
                        ? #"{"seq":\#(sent),"rtt_ms":\#(rtt),"values":[\#(values.map { "\"\($0)\"" }.joined(separator: ","))]}"#
                        : "#\(sent)  rtt \(format(rtt)) ms  \(values.joined(separator: " "))")
            case .failure(let error):
                print(json ? #"{"seq":\#(sent),"error":"\#(error)"}"# : "#\(sent)  \(error)")
            }
            fflush(nil)
            let elapsed = Timestamp.now().monotonicNanoseconds - started
            let period = UInt64(interval.microseconds) * 1000
            if cycles == 0 || sent < cycles, elapsed < period {
                var pause = timespec(
                    tv_sec: Int((period - elapsed) / 1_000_000_000), tv_nsec: Int((period - elapsed) % 1_000_000_000))
                nanosleep(&pause, nil)
            }
        }
        let lost = sent - answered
        let loss = sent == 0 ? 0 : Double(lost) * 100 / Double(sent)
        var summary = "--- \(sent) sent, \(answered) answered, \(lost) lost (\(format(loss))% loss)"
        if let low = rtts.min(), let high = rtts.max() {
            summary +=
                "; rtt min/avg/max \(format(low))/\(format(rtts.reduce(0, +) / Double(rtts.count)))/\(format(high)) ms"
        }
        print(summary)
    }

    func format(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return String(scaled)
    }
}
