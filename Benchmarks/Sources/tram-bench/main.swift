// tram-bench: prints acquisition figures. Not a test: run it, read the numbers.
//
//   tram-bench plan DEVICES_DIR             requests per poll cycle: planned vs one-per-point vs exhaustive optimum
//   tram-bench engine CONFIG SECONDS [RATE] CPU per point through the acquisition engine (RATE points/s, 0 = flat out)
//   tram-bench raw URL UNIT COUNT SECONDS   CPU per register in a bare libmodbus loop, the floor for any client
//   tram-bench wire [TRACE.csv]             bytes, time and allocations per reading: Tram vs Influx line protocol vs JSON
//   tram-bench rbe [TRACE.csv] ...          report by exception vs poll = send: sent, bytes, rows, error bound, CPU
//   tram-bench spool [--dir DIR] ...        spool append, fsyncs, overhead, start-up and drain; --rate R --seconds N paced (spool.sh)
//   tram-bench uplink [--quick] ...         readings/s, batches/s and CPU per MB to the real tram-collector; a backlog's drain under live load
//   tram-bench collector [--gateways G] ... the collector's ingest over loopback (HTTP, decode, dedupe, store) against raw SQLite inserts
import CModbusFloor
import Logging
import Synchronization
import TramConfig
import TramConfigFiles
import TramModbus
import TramCore
#if canImport(Glibc)
import Glibc
#endif

func cpuMicroseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

func residentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Bytes this process has passed to write calls so far (`wchar` of /proc/self/io: files and sockets; for the
/// collector benchmark, mostly SQLite's WAL and checkpoints), or 0 where there is no /proc.
func writtenBytes() -> Int64 {
    guard let file = fopen("/proc/self/io", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(cString: line)
        if text.hasPrefix("wchar:") {
            return Int64(String(text.dropFirst(6).filter(\.isNumber))) ?? 0
        }
    }
    return 0
}

func fail(_ message: String) -> Never {
    print("tram-bench: \(message)")
    exit(2)
}

func formatted(_ value: Double, _ decimals: Int = 2) -> String {
    var factor = 1.0
    for _ in 0..<decimals { factor *= 10 }
    let rounded = (value * factor).rounded() / factor
    return String(rounded)
}

/// The fewest requests by exhaustive dynamic programming over the atoms: an independent check on the planner.
func optimum(_ atoms: [RequestPlanner.Atom], _ limits: RequestLimits) -> Int {
    var best = [Int](repeating: Int.max, count: atoms.count + 1)
    best[0] = 0
    for end in 1...max(1, atoms.count) where end <= atoms.count {
        for start in stride(from: end - 1, through: 0, by: -1) {
            let run = atoms[start..<end]
            guard run.first!.table == run.last!.table else { break }
            var gapOK = true
            for (a, b) in zip(run, run.dropFirst()) where b.first - a.last - 1 > limits.maxGap { gapOK = false }
            guard gapOK else { break }
            var span = run.last!.last - run.first!.first + 1
            let table = run.first!.table
            if !table.holdsBits, limits.evenCount, span % 2 == 1 { span += 1 }
            let maximum =
                table.holdsBits
                ? limits.maxBits : (limits.evenCount ? max(2, limits.maxRegisters & ~1) : limits.maxRegisters)
            guard span <= maximum else { break }
            if best[start] != Int.max { best[end] = min(best[end], best[start] + 1) }
        }
    }
    return best[atoms.count]
}

func planReport(_ directory: String) {
    let source = FileConfigSource()
    let loader = DeviceMapLoader(source: source)
    print("profile                          points  one-per-point  planned  optimum  registers-read")
    for file in source.yamlFiles(under: directory) {
        guard let profile = loader.loadProfile(directory + "/" + file).value else {
            print("\(file): invalid"); continue
        }
        let requests = RequestPlanner.plan(profile.points, limits: profile.limits)
        let best = optimum(RequestPlanner.atoms(of: profile.points), profile.limits)
        let registers = requests.reduce(0) { $0 + $1.count }
        let name = String(file.dropLast(5))
        print(
            name.padding(33) + "\(profile.points.count)".padding(8) + "\(profile.points.count)".padding(15)
                + "\(requests.count)".padding(9) + "\(best)".padding(9) + "\(registers)")
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(1, width - count)) }
}

/// Totals a scheduled run delivers, counted on the I/O threads.
final class Tally: Sendable {
    let points = Atomic<Int>(0)
    let good = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
}

func engineReport(config path: String, seconds: Double, rate: Double) async {
    let result = DeviceMapLoader(source: FileConfigSource()).loadAgent(path)
    result.diagnostics.forEach { print($0) }
    guard var config = result.value else { fail("invalid config") }
    let totalPoints = config.devices.reduce(0) { $0 + $1.points.count }
    if rate > 0 {
        // Every device polls once per (all points / rate): together they deliver `rate` points per second.
        let interval = Duration.nanoseconds(Int64(Double(totalPoints) / rate * 1e9))
        for i in config.devices.indices { config.devices[i].pollInterval = interval }
    }
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let engine = AcquisitionEngine(config: config, logger: logger)
    // Warm up: connect every link and settle the plans.
    for device in config.devices { _ = await engine.poll(device.name) }
    let cpuStart = cpuMicroseconds()
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .milliseconds(Int64(seconds * 1000))
    var totals = (points: 0, good: 0, requests: 0)
    if rate > 0 {
        // The agent's path: cycles scheduled on the I/O threads, readings delivered there.
        let tally = Tally()
        engine.startPolling { reading in
            tally.points.add(reading.points.count, ordering: .relaxed)
            var good = 0
            for point in reading.points where point.quality == .good { good += 1 }
            tally.good.add(good, ordering: .relaxed)
            tally.requests.add(reading.requests.count, ordering: .relaxed)
        }
        try? await clock.sleep(until: deadline)
        engine.stopPolling()
        totals = (
            tally.points.load(ordering: .relaxed), tally.good.load(ordering: .relaxed),
            tally.requests.load(ordering: .relaxed)
        )
    } else {
        // Flat out: each device's next cycle is requested as soon as the last one returns.
        totals = await withTaskGroup(of: (points: Int, good: Int, requests: Int).self) { group in
            for device in config.devices {
                group.addTask {
                    var points = 0, good = 0, requests = 0
                    while clock.now < deadline {
                        guard let reading = await engine.poll(device.name) else { break }
                        points += reading.points.count
                        good += reading.points.reduce(0) { $0 + ($1.quality == .good ? 1 : 0) }
                        requests += reading.requests.count
                    }
                    return (points, good, requests)
                }
            }
            var sum = (points: 0, good: 0, requests: 0)
            for await partial in group {
                sum.points += partial.points; sum.good += partial.good; sum.requests += partial.requests
            }
            return sum
        }
    }
    let elapsed = clock.now - start
    let cpu = cpuMicroseconds() - cpuStart
    let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let overruns = engine.overruns
    await engine.shutdown()
    print(
        "engine (\(rate > 0 ? "scheduled at \(Int(rate)) points/s" : "flat out")): \(config.devices.count) devices, \(totals.points) points (\(totals.good) good) in \(totals.requests) requests over \(formatted(wall)) s"
    )
    print(
        "  points/s \(formatted(Double(totals.points) / wall, 0))  requests/s \(formatted(Double(totals.requests) / wall, 0))\(rate > 0 ? "  overruns \(overruns)" : "")"
    )
    print(
        "  CPU \(formatted(cpu / Double(max(1, totals.points)), 3)) us/point  \(formatted(cpu / Double(max(1, totals.requests)), 1)) us/request  max RSS \(formatted(residentMegabytes(), 1)) MB"
    )
}

func rawReport(url: String, unit: Int, count: Int, seconds: Double) {
    guard case .success(.tcp(let host, let port)) = LinkConfig.Endpoint.parse(url) else {
        fail("raw takes a tcp:// URL")
    }
    guard let ctx = modbus_new_tcp_pi(host, String(port)), modbus_connect(ctx) == 0 else {
        fail("cannot connect to \(url)")
    }
    defer { modbus_close(ctx); modbus_free(ctx) }
    modbus_set_slave(ctx, Int32(unit))
    var registers = [UInt16](repeating: 0, count: count)
    var requests = 0, failures = 0
    let cpuStart = cpuMicroseconds()
    let startWall = Timestamp.now().monotonicNanoseconds
    let end = startWall + UInt64(seconds * 1e9)
    while Timestamp.now().monotonicNanoseconds < end {
        if modbus_read_registers(ctx, 0, Int32(count), &registers) != Int32(count) { failures += 1 }
        requests += 1
    }
    let wall = Double(Timestamp.now().monotonicNanoseconds - startWall) / 1e9
    let cpu = cpuMicroseconds() - cpuStart
    print("raw libmodbus: \(requests) requests of \(count) registers (\(failures) failed) over \(formatted(wall)) s")
    print(
        "  registers/s \(formatted(Double(requests * count) / wall, 0))  CPU \(formatted(cpu / Double(requests * count), 3)) us/register  \(formatted(cpu / Double(requests), 1)) us/request"
    )
}

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "plan":
    planReport(arguments.count > 2 ? arguments[2] : "Devices")
case "engine":
    guard arguments.count >= 4, let seconds = Double(arguments[3]) else {
        fail("usage: tram-bench engine CONFIG SECONDS [RATE]")
    }
    await engineReport(
        config: arguments[2], seconds: seconds, rate: arguments.count > 4 ? Double(arguments[4]) ?? 0 : 0)
case "raw":
    guard arguments.count >= 6, let unit = Int(arguments[3]), let count = Int(arguments[4]),
        let seconds = Double(arguments[5])
    else {
        fail("usage: tram-bench raw URL UNIT COUNT SECONDS")
    }
    rawReport(url: arguments[2], unit: unit, count: count, seconds: seconds)
case "wire":
    if arguments.count > 2 {
        guard let text = FileConfigSource().contents(of: arguments[2]).map({ String(decoding: $0, as: UTF8.self) })
        else { fail("cannot read \(arguments[2])") }
        do {
            WireBenchmark.run(try Trace.csv(text), batchSeconds: [1, 10, 60])
        } catch let error as TraceError {
            fail(error.message)
        }
    } else {
        WireBenchmark.run(Trace.standard(), batchSeconds: [1, 10, 60])
    }
case "rbe":
    RbeBenchmark.main(arguments.dropFirst(2))
case "spool":
    SpoolBenchmark.main(arguments.dropFirst(2))
case "uplink":
    UplinkBenchmark.main(arguments.dropFirst(2))
case "collector":
    await CollectorBenchmark.main(arguments.dropFirst(2))
case "console":
    await ConsoleBenchmark.main(arguments.dropFirst(2))
default:
    fail(
        "usage: tram-bench plan DIR | engine CONFIG SECONDS [RATE] | raw URL UNIT COUNT SECONDS | wire [TRACE.csv] | rbe [TRACE.csv] [OPTIONS] | spool [OPTIONS] | uplink [OPTIONS] | collector [OPTIONS] | console [OPTIONS]"
    )
}
