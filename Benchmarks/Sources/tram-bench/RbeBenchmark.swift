import CAllocationCounter
import TramBatch
import TramConfigFiles
import TramCore
import TramModbus
import TramReplay
import TramSchema

#if canImport(Glibc)
import Glibc
#endif

/// Report by exception on one trace, side by side with poll = send, in one run: what crosses the link, what the
/// collector stores, the largest error a consumer holding the sent values sees, and what the decision costs on the
/// poll path.
///
/// Every figure except the timings comes from ``ExceptionReplay``, which runs the agent's own ``BatchBuilder`` and
/// checks each poll of each point against what a consumer rebuilds from the delivered batches.
enum RbeBenchmark {
    struct Options {
        var trace: String?
        var heartbeatSeconds = 15
        /// For a CSV trace: the deadband of its number points, as a percentage of the span each one covers in it.
        var deadbandPercent = 0.5
        var dropPercent = 5.0
        var repetitions = 5
    }

    static func main(_ arguments: ArraySlice<String>) {
        var options = Options()
        var flags = FlagReader(command: "rbe", usage: usage, arguments: arguments)
        while let flag = flags.next() {
            switch flag {
            case "--heartbeat": options.heartbeatSeconds = flags.number(flag)
            case "--deadband-percent": options.deadbandPercent = flags.number(flag)
            case "--drops": options.dropPercent = flags.number(flag)
            case "--repetitions": options.repetitions = flags.number(flag)
            default:
                guard !flag.hasPrefix("--"), options.trace == nil else { fail("rbe: unknown option \(flag)\n\(usage)") }
                options.trace = flag
            }
        }
        let heartbeat = UInt64(options.heartbeatSeconds) * 1000
        let plain: ReplayTrace
        let rules: ReplayTrace
        if let path = options.trace {
            guard let text = FileConfigSource().contents(of: path).map({ String(decoding: $0, as: UTF8.self) }) else {
                fail("cannot read \(path)")
            }
            do {
                plain = try ReplayTrace(Trace.csv(text))
            } catch let error as TraceError {
                fail(error.message)
            } catch {
                fail("\(error)")
            }
            rules = plain.spanRules(percent: options.deadbandPercent, heartbeatMilliseconds: heartbeat)
            print(
                "trace: \(path): \(plain.dictionary.points.count) points, \(plain.polls.count) device cycles, "
                    + "\(plain.polledReadings) polled readings")
            print(
                "rules: number points \(fmt(options.deadbandPercent, 2)) % of the span they cover in the trace, "
                    + "integers every change, heartbeat \(options.heartbeatSeconds) s (at least 2 poll intervals)")
        } else {
            plain = .standard()
            rules = plain.standardRules(heartbeatMilliseconds: heartbeat)
            print(
                "trace: standard (seed 1755): 100 points, 3,600 polls at 1 Hz, \(plain.polledReadings) polled readings")
            print(
                "rules: walks deadband 0.5 (N(0, 0.1) steps), constants and counters every change, "
                    + "heartbeat \(options.heartbeatSeconds) s")
        }
        outcomes(plain: plain, rules: rules, dropPercent: options.dropPercent)
        print()
        costs(plain: plain, rules: rules, repetitions: options.repetitions)
    }

    static let usage =
        "usage: tram-bench rbe [TRACE.csv] [--heartbeat S] [--deadband-percent P] [--drops P] [--repetitions N]"

    // MARK: What crosses the link and what is stored

    static func outcomes(plain: ReplayTrace, rules: ReplayTrace, dropPercent: Double) {
        let drops = dropPercent / 100
        let runs: [(String, ReplayTrace, ExceptionReplay.Options)] = [
            ("poll = send", plain, .init()),
            ("by exception", rules, .init()),
            ("by exception, \(fmt(dropPercent, 0)) % batches dropped", rules, .init(dropProbability: drops, seed: 7)),
            ("poll = send, \(fmt(dropPercent, 0)) % batches dropped", plain, .init(dropProbability: drops, seed: 7)),
            ("against last polled (wrong)", rules, .init(reference: .lastPolled)),
        ]
        print(
            "configuration                       sent      sent %  batches  B/polled raw  B/polled zstd  "
                + "collector rows  max error  error/deadband  longest gap s  violations")
        for (name, trace, options) in runs {
            let report: ExceptionReplay.Report
            do {
                report = try ExceptionReplay.run(trace, options: options)
            } catch {
                fail("\(name): \(error)")
            }
            let polled = Double(report.polled)
            print(
                name.padding(34) + lpad(whole(report.sent), 8) + lpad(fmt(100 * Double(report.sent) / polled, 1), 10)
                    + lpad(whole(report.batches), 9) + lpad(fmt(Double(report.plainBytes) / polled, 3), 14)
                    + lpad(fmt(Double(report.compressedBytes) / polled, 3), 15)
                    + lpad(whole(report.delivered), 16) + lpad(fmt(report.maximumError, 3), 11)
                    + lpad(fmt(report.maximumErrorOverDeadband, 3), 16)
                    + lpad(fmt(Double(report.longestGapMilliseconds) / 1000, 1), 15)
                    + lpad(whole(report.violationCount), 12))
            if let first = report.violations.first, report.violationCount > 0 {
                print("    first violation: \(first)")
            }
        }
        print(
            "(B/polled: the batches' bytes, dictionary frames aside, over every polled reading; collector rows: readings"
        )
        print(
            " in delivered batches, one row each; max error: |held − polled| in engineering units over every good poll"
        )
        print(" a consumer holds a value for; violations: ExceptionReplay's checks, which must be 0 but for the last.)")
    }

    // MARK: What the decision costs

    /// CPU per polled reading through ``BatchBuilder/append(_:clock:)`` (the poll path: decide, encode) and per
    /// batch through ``BatchBuilder/seal()`` (zstd), with the filter off and on, interleaved; allocations counted on
    /// the appends.
    static func costs(plain: ReplayTrace, rules: ReplayTrace, repetitions: Int) {
        let readings = plain.polls.map(ExceptionReplay.reading)
        var append: [String: [Double]] = [:]
        var seal: [String: [Double]] = [:]
        var allocations: [String: UInt64] = [:]
        for _ in 0..<repetitions {
            for (name, trace) in [("poll = send", plain), ("by exception", rules)] {
                let run = time(trace, readings)
                append[name, default: []].append(run.appendNanoseconds / Double(plain.polledReadings))
                seal[name, default: []].append(run.sealNanoseconds / Double(run.batches))
                allocations[name, default: 0] += run.allocations
            }
        }
        print("configuration   append ns/polled reading (median, min–max)   seal µs/batch   allocs on appends")
        for name in ["poll = send", "by exception"] {
            let a = append[name]!.sorted(), s = seal[name]!.sorted()
            print(
                name.padding(16) + lpad(fmt(a[a.count / 2], 1), 10) + "  (" + fmt(a.first!, 1) + "–" + fmt(a.last!, 1)
                    + ")" + lpad(fmt(s[s.count / 2] / 1000, 1), 28) + lpad(whole(allocations[name]!), 20))
        }
        print(
            "(\(repetitions) interleaved runs of the whole trace, 10 polls a batch, thread CPU time; the readings are built"
        )
        print(" before the clock starts, as the agent's I/O thread hands them over.)")
    }

    struct Timing {
        var appendNanoseconds = 0.0
        var sealNanoseconds = 0.0
        var batches = 0
        var allocations: UInt64 = 0
    }

    static func time(_ trace: ReplayTrace, _ readings: [DeviceReading]) -> Timing {
        let builder = BatchBuilder(
            mapping: SchemaMapping(dictionary: trace.dictionary), maximumBytes: 4 << 20, maximumAge: .seconds(86_400))
        var timing = Timing()
        var sequence: UInt64 = 0
        do {
            for (index, reading) in readings.enumerated() {
                let poll = trace.polls[index]
                if builder.open == nil {
                    sequence += 1
                    builder.begin(
                        BatchIdentity(epoch: 1, sequence: sequence), baseTimeMilliseconds: poll.wallMilliseconds,
                        atMonotonicMilliseconds: poll.monotonicMilliseconds)
                }
                let allocationsBefore = tram_allocations_on_this_thread()
                let start = threadNanoseconds()
                _ = try builder.append(reading, clock: .synchronised)
                timing.appendNanoseconds += Double(threadNanoseconds() - start)
                timing.allocations += tram_allocations_on_this_thread() - allocationsBefore
                if index % 10 == 9 || index == readings.count - 1 {
                    let sealStart = threadNanoseconds()
                    _ = try builder.seal()
                    timing.sealNanoseconds += Double(threadNanoseconds() - sealStart)
                    timing.batches += 1
                }
            }
        } catch {
            fail("timing: \(error)")
        }
        return timing
    }

    static func threadNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    static func fmt(_ value: Double, _ decimals: Int) -> String { WireBenchmark.fmt(value, decimals) }
    static func whole<T: BinaryInteger>(_ value: T) -> String { SpoolBenchmark.whole(Double(value)) }

    static func lpad(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}

extension ReplayTrace {
    /// A CSV trace's device cycles as polls of every point of their device: a point a cycle does not list holds the
    /// value it last had (a plant's recording logs some points only when they change), missing (not available) before
    /// its first row.
    init(_ trace: Trace) {
        var points: [PointDescriptor] = []
        var interval = [Int64](repeating: 1000, count: trace.devices.count)
        for (index, device) in trace.devices.enumerated() {
            let times = trace.ticks.filter { $0.device == index }.map(\.timeMilliseconds)
            let gaps = zip(times, times.dropFirst()).map { $1 - $0 }.sorted()
            if !gaps.isEmpty { interval[index] = max(1, gaps[gaps.count / 2]) }
            for alias in device.aliases {
                points.append(
                    PointDescriptor(
                        device: device.name, name: trace.names[alias], type: trace.types[alias],
                        intervalMilliseconds: UInt64(interval[index])))
            }
        }
        var last = [WireValue](repeating: .missing(.notAvailable), count: points.count)
        let start = trace.ticks.first?.timeMilliseconds ?? 0
        let polls = trace.ticks.map { tick in
            for index in tick.values.indices { last[tick.alias(at: index)] = tick.values[index] }
            let device = trace.devices[tick.device]
            return Poll(
                device: device.name, wallMilliseconds: tick.timeMilliseconds,
                monotonicMilliseconds: 10_000 + tick.timeMilliseconds - start, values: Array(last[device.aliases]))
        }
        self.init(dictionary: SchemaDictionary(gateway: "gw-bench", points: points), polls: polls)
    }

    /// Deadbands of `percent` % of the span each number point covers in the trace (a stand-in for its `range:`,
    /// which a recording does not carry), every change for integers, booleans and strings; the heartbeat at least
    /// two of its device's poll intervals, as the config requires.
    func spanRules(percent: Double, heartbeatMilliseconds: UInt64) -> ReplayTrace {
        var low = [Double](repeating: .infinity, count: dictionary.points.count)
        var high = [Double](repeating: -.infinity, count: dictionary.points.count)
        var first: [String: Int] = [:]
        for (alias, point) in dictionary.points.enumerated() where first[point.device] == nil {
            first[point.device] = alias
        }
        for poll in polls {
            let base = first[poll.device] ?? 0
            for (offset, value) in poll.values.enumerated() {
                guard let number = value.rawNumber, number.isFinite else { continue }
                low[base + offset] = min(low[base + offset], number)
                high[base + offset] = max(high[base + offset], number)
            }
        }
        var aliasOf: [String: Int] = [:]
        for (alias, point) in dictionary.points.enumerated() { aliasOf[point.device + "." + point.name] = alias }
        return withRules { point in
            let alias = aliasOf[point.device + "." + point.name] ?? 0
            let heartbeat = max(heartbeatMilliseconds, 2 * (point.intervalMilliseconds ?? 0))
            switch point.type {
            case .float32, .float64:
                let span = high[alias] - low[alias]
                return (span.isFinite ? span * percent / 100 : 0, heartbeat)
            default:
                return (0, heartbeat)
            }
        }
    }
}
