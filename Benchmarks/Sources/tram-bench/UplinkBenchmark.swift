import Dispatch
import Foundation
import Logging
import Synchronization
import SystemPackage
import TramSchema
import TramSpool
import TramUplink
#if canImport(Glibc)
import Glibc
#endif

/// The uplink's figures (docs/performance.md), against the real tram-collector on loopback:
///
/// 1. **Throughput and CPU per MB.** The same sealed batches go to a fresh collector three ways, one after another
///    in one run: from a spool through `Uplink.deliverOnce` (the agent's path: read from segments, one libcurl
///    upload, acknowledgements in the ledger, `tick()` once a second), through `CurlTransport.post` with the same
///    upload bodies already in memory (libcurl alone, no spool), and through the `curl` command line, one process
///    per upload. Uploads are grouped as the uplink groups them (64 batches or 1 MiB). CPU is the benchmark
///    process's own (CLOCK_PROCESS_CPUTIME_ID; for curl, the children's from wait4 as well) and the collector's
///    (/proc/PID/stat), each divided by the MB of upload bodies (frames).
/// 2. **Draining a backlog under live load.** A spool holding `--backlog` readings (written, closed and reopened,
///    as after an outage) drains to a fresh collector while a writer thread appends a live batch every
///    `--live-batch-seconds` at `--live-rate` readings/s and ticks the spool once a second, as the agent's spool
///    thread does. The uplink thread runs the agent's worker loop (`deliverOnce`, woken by each append) on a
///    `SharedSpool`, through a queue that timestamps acknowledgements: the drain time, each live batch's latency
///    from append to acknowledgement (`live_first` replay), and a check that the collector stored every reading
///    exactly once.
///
///     tram-bench uplink [--collector PATH] [--readings N] [--backlog N] [--batch-seconds 10] [--devices 5]
///                       [--live-rate 15000] [--live-batch-seconds 1] [--durability full|normal] [--only throughput|drain]
///                       [--dir DIR] [--keep] [--quick]
enum UplinkBenchmark {
    static let sink = "collector"
    /// The gateway SpoolBatches' dictionaries name; enrolled in every collector.
    static let gateway = "gw-bench"

    struct Settings {
        var collector: String?
        var directory: String?
        /// Readings each path of the throughput phase sends.
        var readings = 3_000_000
        var backlog = 10_000_000
        var batchSeconds = 10
        var devices = 5
        var liveRate = 15_000.0
        var liveBatchSeconds = 1
        var durability = "full"
        var throughput = true
        var drain = true
        var keep = false
    }

    static func main(_ arguments: ArraySlice<String>) {
        var settings = Settings()
        var rest = arguments
        func value(_ flag: String) -> String {
            guard let next = rest.popFirst() else { fail("uplink: \(flag) needs a value") }
            return next
        }
        func number<T: LosslessStringConvertible>(_ flag: String) -> T {
            let text = value(flag).replacingOccurrences(of: "_", with: "")
            guard let number = T(text) else { fail("uplink: \(flag) takes a number, not '\(text)'") }
            return number
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--collector": settings.collector = value(flag)
            case "--dir": settings.directory = value(flag)
            case "--readings": settings.readings = number(flag)
            case "--backlog": settings.backlog = number(flag)
            case "--batch-seconds": settings.batchSeconds = number(flag)
            case "--devices": settings.devices = number(flag)
            case "--live-rate": settings.liveRate = number(flag)
            case "--live-batch-seconds": settings.liveBatchSeconds = number(flag)
            case "--durability": settings.durability = value(flag)
            case "--only":
                switch value(flag) {
                case "throughput": settings.drain = false
                case "drain": settings.throughput = false
                default: fail("uplink: --only is throughput or drain")
                }
            case "--keep": settings.keep = true
            case "--quick":
                settings.readings = 200_000
                settings.backlog = 500_000
            default:
                fail(
                    "usage: tram-bench uplink [--collector PATH] [--readings N] [--backlog N] [--batch-seconds S] [--devices D] "
                        + "[--live-rate R] [--live-batch-seconds S] [--durability full|normal] [--only throughput|drain] [--dir DIR] [--keep] [--quick]"
                )
            }
        }
        guard settings.readings > 0, settings.backlog > 0, settings.batchSeconds >= 1, settings.devices >= 1,
            settings.liveRate >= 100, settings.liveBatchSeconds >= 1
        else { fail("uplink: sizes must be positive (--live-rate at least 100)") }
        guard ["full", "normal"].contains(settings.durability) else { fail("uplink: --durability is full or normal") }
        let binary =
            settings.collector
            ?? ["../.build/release/tram-collector", ".build/release/tram-collector"].first(
                where: UplinkProcesses.isExecutable)
        guard let binary, UplinkProcesses.isExecutable(binary) else {
            fail(
                "uplink: no tram-collector; build it (swift build -c release --product tram-collector in the repository) or pass --collector PATH"
            )
        }
        let root = settings.directory ?? SpoolFiles.temporary()
        mkdir(root, 0o750)
        CurlTransport.globalInit()
        print(
            "uplink: to \(binary) serve --durability \(settings.durability) on 127.0.0.1 (a fresh database for every path and phase); "
                + "work in \(root)")
        if settings.throughput { throughput(settings: settings, binary: binary, root: root) }
        if settings.drain { drain(settings: settings, binary: binary, root: root) }
        if settings.directory == nil && !settings.keep { rmdir(root) }
    }

    static func quietLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .error
        return logger
    }

    static func transport(to collector: CollectorUnderTest) -> CurlTransport {
        do {
            return try CurlTransport(
                TransportOptions(url: collector.url, gateway: gateway, token: collector.token),
                logger: quietLogger("tram.uplink"))
        } catch {
            fail("uplink: cannot make the transport: \(error)")
        }
    }

    /// Sends `body` (a dictionary, say) and insists on a 200.
    static func send(_ body: [UInt8], through transport: CurlTransport, what: String) {
        switch transport.post(body, batches: "0/0-0") {
        case .success(let response) where response.status == 200: break
        case .success(let response): fail("uplink: \(what) got HTTP \(response.status): \(response.bodyText)")
        case .failure(let failure): fail("uplink: \(what) failed: \(failure)")
        }
    }

    /// Removes the benchmark's own directories (flat ones; a collector's directory holds only files).
    static func removeTree(_ directory: String, _ settings: Settings) {
        guard !settings.keep else { return }
        SpoolFiles.remove(directory)
    }

    static func dictionaryAppended(_ spool: Spool, _ batches: SpoolBatches) {
        let outcome = batches.dictionaryFrame.withUnsafeBytes { spool.appendDictionary($0, schemaID: batches.schemaID) }
        guard outcome == .stored else { fail("uplink: the dictionary was \(outcome)") }
    }

    // MARK: 1. Throughput and CPU per MB, three paths side by side

    struct PathResult {
        var name: String
        var seconds: Double
        var readings: Int
        var batches: Int
        var uploads: Int
        var bodyBytes: Int
        var wireBytes: Int?
        var agentCPU: Double
        var collectorCPU: Double
        var collectorSystem: Double
        var collectorIO: UplinkProcesses.IO
        var stored: Int
    }

    static func throughput(settings: Settings, binary: String, root: String) {
        let batches = SpoolBatches(batchSeconds: settings.batchSeconds, devices: settings.devices)
        let count = max(1, (settings.readings + batches.readingsPerBatch - 1) / batches.readingsPerBatch)
        // The spool for the uplink's path, filled, closed and reopened: a backlog, as after an outage.
        let spoolPath = SpoolFiles.fresh(root + "/throughput-spool")
        let filling = SpoolBenchmark.open(spoolPath)
        dictionaryAppended(filling, batches)
        var frames: [[UInt8]] = []
        var identities: [BatchIdentity] = []
        for _ in 0..<count {
            let identity = filling.nextIdentity
            let frame = Array(batches.seal(identity))
            guard
                frame.withUnsafeBytes({
                    filling.appendBatch(
                        $0, identity: identity, readings: batches.readingsPerBatch, schemaID: batches.schemaID)
                }) == .stored
            else {
                fail("uplink: appending the throughput batches failed")
            }
            frames.append(frame)
            identities.append(identity)
        }
        SpoolBenchmark.close(filling)
        // The uploads as the uplink makes them (Uplink defaults: at most 64 batches and 1 MiB), for the other paths.
        let maximumBatches = 64, maximumBytes = 1 << 20
        var uploads: [(body: [UInt8], batches: String)] = []
        var start = 0
        while start < frames.count {
            var end = start + 1, size = frames[start].count
            while end < frames.count, end - start < maximumBatches, size + frames[end].count <= maximumBytes {
                size += frames[end].count; end += 1
            }
            uploads.append(
                (
                    frames[start..<end].reduce(into: []) { $0 += $1 },
                    "\(identities[start].epoch)/\(identities[start].sequence)-\(identities[end - 1].sequence)"
                ))
            start = end
        }
        let bodyBytes = frames.reduce(0) { $0 + $1.count }
        let readings = count * batches.readingsPerBatch
        print(
            "\n1. throughput: \(SpoolBenchmark.whole(Double(readings))) readings in \(count) batches of \(batches.readingsPerBatch) "
                + "(\(batches.batchSeconds) s × \(batches.devices) devices × \(batches.pointsPerDevice) points of the standard trace, zstd, "
                + "\(bodyBytes / count) B a batch, \(formatted(Double(bodyBytes) / Double(readings), 3)) B a reading), "
                + "\(uploads.count) uploads of up to \(maximumBatches) batches / 1 MiB (the uplink's defaults), \(formatted(Double(bodyBytes) / 1e6, 2)) MB of bodies"
        )

        var results: [PathResult] = []
        results.append(
            onFreshCollector(
                "spool → Uplink.deliverOnce → libcurl", binary, root + "/throughput-uplink", settings, batches,
                expected: (count, bodyBytes)
            ) { collector, startClocks in
                let shared = SharedSpool(SpoolBenchmark.open(spoolPath))
                let transport = transport(to: collector)
                send(batches.dictionaryFrame, through: transport, what: "the dictionary")
                let uplink = Uplink(sink: sink, transport: transport, logger: quietLogger("tram.uplink"))
                startClocks()
                let wireBefore = transport.bytesOnWire
                var lastTick = WireBenchmark.now(), sent = 0, batchesSent = 0, failed = 0
                while true {
                    let report = uplink.deliverOnce(spool: shared)
                    if report.batches.isEmpty { break }
                    if report.action == .acknowledge {
                        batchesSent += report.batches.count
                    } else {
                        failed += 1; usleep(UInt32(max(0, report.waitMilliseconds)) * 1000)
                    }
                    sent += 1
                    if WireBenchmark.now() - lastTick >= 1_000_000_000 {
                        shared.withSpool { $0.tick() }; lastTick = WireBenchmark.now()
                    }
                }
                let wire = transport.bytesOnWire - wireBefore
                guard failed == 0, batchesSent == count else {
                    fail("uplink path: \(failed) failed uploads, \(batchesSent) of \(count) batches acknowledged")
                }
                let counters = shared.withSpool { $0.counters }
                guard counters.delivered.batches == count, counters.balances else {
                    fail("uplink path: the spool's books say \(SpoolBenchmark.describe(counters))")
                }
                do { try shared.withSpool { try $0.close() } } catch { fail("spool close failed: \(error)") }
                return (sent, wire)
            })
        results.append(
            onFreshCollector(
                "CurlTransport.post, bodies in memory (no spool)", binary, root + "/throughput-libcurl", settings,
                batches,
                expected: (count, bodyBytes)
            ) { collector, startClocks in
                let transport = transport(to: collector)
                send(batches.dictionaryFrame, through: transport, what: "the dictionary")
                startClocks()
                let wireBefore = transport.bytesOnWire
                for upload in uploads { send(upload.body, through: transport, what: "upload \(upload.batches)") }
                return (uploads.count, transport.bytesOnWire - wireBefore)
            })
        // curl reads its bodies from files (page cache), its headers from a file (so the token is on no command line).
        let bodies = SpoolFiles.fresh(root + "/throughput-bodies")
        for (i, upload) in uploads.enumerated() { UplinkProcesses.write(bodies + "/\(i).frames", upload.body) }
        var childCPU = 0.0
        var curlResult = onFreshCollector(
            "curl command line, one process per upload", binary, root + "/throughput-curl", settings, batches,
            expected: (count, bodyBytes)
        ) { collector, startClocks in
            UplinkProcesses.write(
                bodies + "/headers",
                Array(
                    ("Content-Type: application/x-tram-frames\nTram-Gateway: \(gateway)\n"
                        + "Authorization: Bearer \(collector.token)\nExpect:\n").utf8))
            let transport = transport(to: collector)
            send(batches.dictionaryFrame, through: transport, what: "the dictionary")
            startClocks()
            for (i, upload) in uploads.enumerated() {
                let pid = UplinkProcesses.spawn(
                    "/usr/bin/curl",
                    [
                        "-sS", "-f", "-o", "/dev/null", "-H", "@" + bodies + "/headers",
                        "-H", "Tram-Batches: \(upload.batches)", "--data-binary", "@\(bodies)/\(i).frames",
                        collector.url,
                    ],
                    stderr: bodies + "/curl.err")
                let (status, cpu) = UplinkProcesses.wait(pid)
                guard status == 0 else {
                    fail("curl upload \(i) exited \(status): \(UplinkProcesses.read(bodies + "/curl.err") ?? "")")
                }
                childCPU += cpu
            }
            return (uploads.count, nil)
        }
        curlResult.agentCPU += childCPU
        results.append(curlResult)
        removeTree(bodies, settings)
        removeTree(spoolPath, settings)

        print(
            "   path                                               readings/s  batches/s  uploads/s   MB/s   CPU ms per MB: agent  collector   wall s"
        )
        for r in results {
            let mb = Double(r.bodyBytes) / 1e6
            print(
                "   " + r.name.padding(51) + SpoolBenchmark.whole(Double(r.readings) / r.seconds).padding(12)
                    + SpoolBenchmark.whole(Double(r.batches) / r.seconds).padding(11)
                    + formatted(Double(r.uploads) / r.seconds, 1).padding(12)
                    + formatted(mb / r.seconds, 2).padding(23) + formatted(r.agentCPU * 1000 / mb, 1).padding(11)
                    + SpoolBenchmark.whole(r.collectorCPU * 1000 / mb).padding(9) + formatted(r.seconds, 2))
        }
        for r in results {
            let wire = r.wireBytes.map { ", CurlTransport.bytesOnWire \(formatted(Double($0) / 1e6, 3)) MB" } ?? ""
            print(
                "   \(r.name): agent CPU \(formatted(r.agentCPU, 3)) s (\(formatted(r.agentCPU * 1e9 / Double(r.readings), 1)) ns a reading)\(wire); "
                    + "collector CPU \(formatted(r.collectorCPU, 2)) s (\(SpoolBenchmark.whole(r.collectorCPU * 1e9 / Double(r.readings))) ns a reading, "
                    + "\(formatted(r.collectorSystem, 2)) s of it in the kernel), collector I/O \(describe(r.collectorIO)); stored \(r.stored) rows"
            )
        }
    }

    /// What /proc/PID/io says a phase cost (read and write syscalls, page cache hits included).
    static func describe(_ io: UplinkProcesses.IO) -> String {
        "read \(SpoolBenchmark.whole(Double(io.readBytes) / 1e6)) MB in \(SpoolBenchmark.whole(Double(io.readCalls))) calls, "
            + "wrote \(SpoolBenchmark.whole(Double(io.writeBytes) / 1e6)) MB in \(SpoolBenchmark.whole(Double(io.writeCalls))) calls"
    }

    /// Runs one path against a fresh collector. `body` sends the dictionary, calls its second argument to start the
    /// clocks, sends every batch, and returns the uploads it made and the bytes on the wire (when it knows them).
    static func onFreshCollector(
        _ name: String, _ binary: String, _ directory: String, _ settings: Settings, _ batches: SpoolBatches,
        expected: (batches: Int, bodyBytes: Int),
        _ body: (CollectorUnderTest, () -> Void) -> (uploads: Int, wire: Int?)
    ) -> PathResult {
        let collector = CollectorUnderTest(
            binary: binary, directory: SpoolFiles.fresh(directory), gateway: gateway, durability: settings.durability)
        var agentStart = 0.0, collectorStart = (user: 0.0, system: 0.0), ioStart = UplinkProcesses.IO(),
            wallStart: UInt64 = 0
        let (uploads, wire) = body(collector) {
            agentStart = UplinkProcesses.ownCPUSeconds(); collectorStart = collector.cpuSplit; ioStart = collector.io;
            wallStart = WireBenchmark.now()
        }
        let seconds = Double(WireBenchmark.now() - wallStart) / 1e9
        let agentCPU = UplinkProcesses.ownCPUSeconds() - agentStart
        let collectorEnd = collector.cpuSplit
        let collectorIO = collector.io - ioStart
        let collectorCPU = collectorEnd.user + collectorEnd.system - collectorStart.user - collectorStart.system
        guard wallStart > 0 else { fail("\(name): the clocks never started") }
        collector.stop()
        let stored = Int(collector.query("SELECT count(*) FROM readings")) ?? -1
        let batchCount = Int(collector.query("SELECT sum(batches) FROM ingest_hours")) ?? -1
        let duplicates = Int(collector.query("SELECT sum(duplicates) FROM ingest_hours")) ?? -1
        guard stored == expected.batches * batches.readingsPerBatch, batchCount == expected.batches, duplicates == 0
        else {
            fail(
                "\(name): the collector stored \(stored) readings in \(batchCount) batches (\(duplicates) duplicates); expected \(expected.batches) batches"
            )
        }
        removeTree(directory, settings)
        return PathResult(
            name: name, seconds: seconds, readings: stored, batches: batchCount, uploads: uploads,
            bodyBytes: expected.bodyBytes,
            wireBytes: wire, agentCPU: agentCPU, collectorCPU: collectorCPU,
            collectorSystem: collectorEnd.system - collectorStart.system, collectorIO: collectorIO, stored: stored)
    }
}
