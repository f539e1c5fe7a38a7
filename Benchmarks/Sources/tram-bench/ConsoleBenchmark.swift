import CSQLite
import Dispatch
import Foundation
import Logging
@_spi(Benchmark) import TramCollector
import TramCollectorConsole
import TramCollectorRelay
import TramCollectorStore
import TramCollectorTestSupport
import TramReplay

/// `tram-bench console`: the console's pages over a park-sized store, timed at the server, against the same answers
/// computed from raw readings in the same run; and ingest with rollups against without (``CollectorBenchmark``).
///
/// The store is built the way a collector fills it: gateways enrolled with a site, their dictionaries and a week of
/// batches posted to a running `CollectorServer` over loopback, then topped up to the present so that nothing looks
/// silent that is not. A year of hour and day rollups before the week is written directly (``ConsoleYear``).
enum ConsoleBenchmark {
    struct Options {
        var directory = NSTemporaryDirectory() + "tram-console-bench"
        var gateways = 200
        var sites = 10
        var days = 7
        /// Client threads posting batches (the store takes one request at a time: more clients only queue).
        var clients = 3
        var samples = 30
        var rawSamples = 3
        var year = true
        var durability: Durability = .normal
        /// Rounds of the ingest comparison (rollups off, on) at a reading a minute and at 1 Hz; 0 skips it.
        var ingestRounds = 3
        /// Time the pages over the store an earlier run left in `directory`, without loading it again.
        var reuse = false
    }

    static let usage =
        "usage: tram-bench console [--dir DIR] [--gateways G] [--sites S] [--days D] [--clients C] [--samples N]"
        + " [--raw-samples N] [--year on|off] [--durability normal|full] [--ingest-rounds N] [--reuse]"

    static let timeZone = TimeZone(identifier: "Asia/Ho_Chi_Minh")!

    static func main(_ arguments: ArraySlice<String>) async {
        var options = Options()
        var flags = FlagReader(command: "console", usage: usage, arguments: arguments)
        while let flag = flags.next() {
            switch flag {
            case "--dir": options.directory = flags.value(flag)
            case "--gateways": options.gateways = flags.number(flag)
            case "--sites": options.sites = flags.number(flag)
            case "--days": options.days = flags.number(flag)
            case "--clients": options.clients = flags.number(flag)
            case "--samples": options.samples = flags.number(flag)
            case "--raw-samples": options.rawSamples = flags.number(flag)
            case "--ingest-rounds": options.ingestRounds = flags.number(flag)
            case "--reuse": options.reuse = true
            case "--year":
                switch flags.value(flag) {
                case "on": options.year = true
                case "off": options.year = false
                default: fail("console: --year is on or off")
                }
            case "--durability":
                guard let durability = Durability(rawValue: flags.value(flag)) else {
                    fail("console: --durability is normal or full")
                }
                options.durability = durability
            default: fail(usage)
            }
        }
        guard options.gateways > 0, options.sites > 0, options.days > 0, options.clients > 0, options.samples > 0,
            options.rawSamples >= 0, options.ingestRounds >= 0
        else { fail("console: sizes must be positive") }
        do {
            try await run(options)
        } catch {
            fail("console: \(error)")
        }
    }

    static func run(_ options: Options) async throws {
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        if options.ingestRounds > 0 { try await compareIngest(options) }

        let path = options.directory + "/console.db"
        let reuse = options.reuse && FileManager.default.fileExists(atPath: path)
        if !reuse {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let wall = { Int64(Date().timeIntervalSince1970 * 1000) }
        var tokens: [String] = []
        let cookie: String
        do {
            let store = try CollectorStore(path: path)
            for g in 0..<options.gateways where !reuse {
                tokens.append(
                    try store.addGateway(
                        ConsolePlant.name(g), site: ConsolePlant.site(g, sites: options.sites), now: wall()))
            }
            let reader = try store.addReader("bench", now: wall())
            guard
                case .success(let session) = try store.createSession(
                    token: reader, lifetimeMilliseconds: 48 * 3_600_000, now: wall())
            else { throw HTTPReply.Failure(what: "no session") }
            cookie = session.cookie
        }

        var logger = Logger(label: "tram-console-bench")
        logger.logLevel = .critical
        var configuration = CollectorServer.Configuration(
            databasePath: path, port: 0, limits: .init(maximumBody: 64 << 20), rate: 0, durability: options.durability)
        configuration.console = ConsoleListener(
            host: "127.0.0.1", port: 0, settings: ConsoleSettings(timeZone: timeZone))
        let server = try CollectorServer(configuration, logger: logger)
        let (ports, portsContinuation) = AsyncStream.makeStream(of: (String, Int).self)
        let serverTask = Task {
            try await server.run(
                onListening: { portsContinuation.yield(("ingest", $0)) },
                onConsoleListening: { portsContinuation.yield(("console", $0)) })
        }
        var ingestPort = 0, consolePort = 0
        for await (listener, port) in ports {
            if listener == "ingest" { ingestPort = port } else { consolePort = port }
            if ingestPort != 0 && consolePort != 0 { break }
        }

        let plant = (0..<options.gateways).map { ConsolePlant.Gateway(index: $0) }
        for (gateway, token) in zip(plant, tokens) where !reuse {
            let reply = try HTTPReply.ingest(port: ingestPort, token: token, body: gateway.dictionary.frame())
            guard reply.status == 200 else {
                throw HTTPReply.Failure(what: "dictionary: \(reply.status) \(reply.body)")
            }
        }

        let batch = ConsolePlant.batchMilliseconds
        let end = wall() / batch * batch
        let start = end - Int64(options.days) * 86_400_000
        let calendar = LocalCalendar(timeZone: timeZone)
        let year = calendar.date(ofDay: calendar.dayNumber(end)).year
        let yearRange = calendar.period(year: year, month: nil)!
        print(
            "tram-bench console: \(options.gateways) gateways in \(options.sites) sites × 3 devices × 10 points, a reading a"
                + " minute each for \(options.days) days in 10-minute batches, through ingest (durability"
                + " \(options.durability.rawValue)); time zone \(timeZone.identifier); report year \(year)")

        if reuse {
            print("reusing the store in \(options.directory): no load")
        }
        if options.year && !reuse {
            let from = yearRange.lowerBound / ConsoleYear.hour * ConsoleYear.hour
            let to = start / ConsoleYear.hour * ConsoleYear.hour
            let t0 = DispatchTime.now().uptimeNanoseconds
            let rows = try ConsoleYear.add(path: path, from: from, to: to, bytesPerHour: 6 * 900)
            print(
                String(
                    format:
                        "synthetic year: %d hour and day rollup rows (%.0f days before the week), written in %.0f s",
                    rows, Double(to - from) / 86_400_000, seconds(since: t0)))
        }

        if !reuse {
            let load = try await post(
                plant, tokens: tokens, port: ingestPort, from: start, to: end, runStart: start, options)
            print(
                String(
                    format:
                        "ingest of the week: %d readings in %d batches, %.0f s: %.0f readings/s (rollups on, %d clients)",
                    load.readings, load.batches, load.seconds, Double(load.readings) / load.seconds, options.clients))
            // The plant kept reporting while the week loaded: catch up to now, so that only the silent gateways are.
            var loadedTo = end
            while wall() / batch * batch > loadedTo {
                let now = wall() / batch * batch
                _ = try await post(
                    plant, tokens: tokens, port: ingestPort, from: loadedTo, to: now, runStart: start, options)
                loadedTo = now
            }
        }

        let db = try SQLiteDatabase(path: path)
        let readings = try db.benchScalar("SELECT count(*) FROM readings")
        let rollupRows = try db.benchScalar("SELECT count(*) FROM rollups")
        let size = ["", "-wal"].reduce(Int64(0)) {
            $0 + ((try? FileManager.default.attributesOfItem(atPath: path + $1)[.size] as? Int64) ?? 0)
        }
        print(
            String(
                format: "store: %d readings, %d rollup rows, %.2f GB (database and WAL)", readings, rollupRows,
                Double(size) / 1e9))

        // The pages, through the console's own listener, signed in.
        var random = SplitMix64(state: 42)
        let headers = [("Cookie", "tram_session=\(cookie)")]
        /// What the page weighs on the wire, gzip-compressed as a browser asks for it.
        func transferred(_ path: String) throws -> Int {
            let reply = try HTTPReply.blockingRequest(
                "GET", port: consolePort, path: path, headers: headers + [("Accept-Encoding", "gzip")], body: [])
            return Int(reply.headers["content-length"] ?? "") ?? -1
        }
        func page(_ path: String, expecting marker: String) throws -> (milliseconds: Double, bytes: Int) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let reply = try HTTPReply.blockingRequest("GET", port: consolePort, path: path, headers: headers, body: [])
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            guard reply.status == 200, reply.body.contains(marker) else {
                throw HTTPReply.Failure(what: "\(path): \(reply.status), no '\(marker)'")
            }
            return (elapsed, reply.body.utf8.count)
        }
        let pages: [(name: String, path: () -> String, marker: String)] = [
            ("fleet (\(options.gateways) gateways)", { "/" }, ConsolePlant.name(0)),
            ("problems", { "/problems" }, "Problems"),
            (
                "device, 7-day plots of its 10 points",
                {
                    let g = Int(random.next() % UInt64(options.gateways))
                    let d = ConsolePlant.devices[Int(random.next() % 3)]
                    return "/gateways/\(ConsolePlant.name(g))/devices/\(d)?range=7d"
                }, "<svg"
            ),
            (
                "report, a site for the year",
                { "/report?site=park-\(Int(random.next() % UInt64(options.sites)))&period=\(year)" }, "park-"
            ),
        ]
        var table: [(String, [Double], Int, Int)] = []
        for (name, path, marker) in pages {
            _ = try page(path(), expecting: marker)  // warm the page cache and the statements
            let gzipBytes = try transferred(path())
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<options.samples {
                let sample = try page(path(), expecting: marker)
                times.append(sample.milliseconds)
                bytes = max(bytes, sample.bytes)
            }
            table.append((name, times, bytes, gzipBytes))
        }

        // The same answers from raw readings, on a connection of their own.
        let raw = ConsoleRaw(db: db)
        let offset = calendar.offset(at: end)
        let midnight = calendar.start(ofDay: calendar.dayNumber(wall()))
        var devicePoints: [Int64] = []
        try db.benchRows(
            """
            SELECT p.id FROM points p JOIN devices d ON d.id = p.device JOIN gateways g ON g.id = d.gateway
            WHERE g.name = ?1 AND d.name = 'oven' ORDER BY p.id
            """, [.text(ConsolePlant.name(1))]
        ) { devicePoints.append(sqlite3_column_int64($0, 0)) }
        let now = wall()
        let rawQueries: [(String, () throws -> Int)] = [
            ("fleet (\(options.gateways) gateways)", { try raw.fleet(since: midnight) }),
            ("problems", { try raw.problems() }),
            (
                "device, 7-day plots of its 10 points",
                { try raw.device(points: devicePoints, from: now - 7 * 86_400_000, to: now, width: 600_000) }
            ),
            (
                "report, a site for the year",
                {
                    try raw.report(
                        site: "park-\(Int(random.next() % UInt64(options.sites)))", from: yearRange.lowerBound,
                        to: yearRange.upperBound, offset: offset)
                }
            ),
        ]
        var rawTimes: [String: [Double]] = [:]
        for (name, query) in rawQueries where options.rawSamples > 0 {
            for _ in 0..<options.rawSamples {
                let t0 = DispatchTime.now().uptimeNanoseconds
                guard try query() > 0 else { throw HTTPReply.Failure(what: "raw \(name): no rows") }
                rawTimes[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
        }

        print("")
        print(
            "| page | console p50 ms | console p95 ms | max ms | page KB, gzip (plain) | from raw readings p50 ms | p95 ms |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for (name, times, bytes, gzipBytes) in table {
            let rawSorted = (rawTimes[name] ?? [0]).sorted()
            let sorted = times.sorted()
            print(
                String(
                    format: "| %@ | %.1f | %.1f | %.1f | %.0f (%.0f) | %.0f | %.0f |", name, percentile(sorted, 0.5),
                    percentile(sorted, 0.95), sorted.last ?? 0, Double(gzipBytes) / 1024, Double(bytes) / 1024,
                    percentile(rawSorted, 0.5), percentile(rawSorted, 0.95)))
        }
        print(
            "(\(options.samples) samples a page after one warm-up, over HTTP on loopback; raw: \(options.rawSamples) runs of each query"
                + " on a second connection; goal: every page p95 ≤ 200 ms)")
        serverTask.cancel()
        _ = await serverTask.result
    }

    /// Posts every gateway's batches for [from, to) from `options.clients` threads, in time order across the fleet
    /// (batch k of every gateway before batch k + 1), as a fleet would; returns the readings, batches and seconds.
    static func post(
        _ plant: [ConsolePlant.Gateway], tokens: [String], port: Int, from: Int64, to: Int64, runStart: Int64,
        _ options: Options
    ) async throws -> (readings: Int, batches: Int, seconds: Double) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let silentFrom = runStart + Int64(options.days) * 86_400_000
        let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for client in 0..<options.clients {
                group.addTask {
                    try await withCheckedThrowingContinuation { (done: CheckedContinuation<(Int, Int), any Error>) in
                        Thread.detachNewThread {
                            done.resume(
                                with: Result {
                                    var readings = 0, batches = 0
                                    var start = from
                                    while start < to {
                                        let sequence = Int((start - runStart) / ConsolePlant.batchMilliseconds)
                                        for g in stride(from: client, to: plant.count, by: options.clients) {
                                            let gateway = plant[g]
                                            guard gateway.sends(batchAt: start, end: silentFrom) else { continue }
                                            let frame = try gateway.batch(
                                                sequence: sequence, start: start, end: silentFrom)
                                            let reply = try HTTPReply.ingest(port: port, token: tokens[g], body: frame)
                                            guard reply.status == 200 else {
                                                throw HTTPReply.Failure(what: "ingest: \(reply.status) \(reply.body)")
                                            }
                                            readings += gateway.dictionary.points.count * 10
                                            batches += 1
                                        }
                                        if client == 0 && (start - runStart) % 86_400_000 == 0 && start > runStart {
                                            print(
                                                String(
                                                    format: "  day %d loaded, %.0f s", (start - runStart) / 86_400_000,
                                                    seconds(since: t0)))
                                        }
                                        start += ConsolePlant.batchMilliseconds
                                    }
                                    return (readings, batches)
                                })
                        }
                    }
                }
            }
            var total = (0, 0)
            for try await count in group { total = (total.0 + count.0, total.1 + count.1) }
            return total
        }
        return (counts.0, counts.1, seconds(since: t0))
    }

    /// Ingest with rollups against without, on ``CollectorBenchmark``'s plant: a reading a minute (10-minute batches,
    /// so a minute bucket per reading) and 1 Hz (a minute bucket summarises 60 readings).
    static func compareIngest(_ options: Options) async throws {
        for (step, batches) in [(60, 60), (1, 8)] {
            var collector = CollectorBenchmark.Options()
            collector.directory = options.directory + "/ingest"
            collector.gateways = 8
            collector.points = 30
            collector.seconds = 600
            collector.step = step
            collector.batches = batches
            collector.rounds = options.ingestRounds
            collector.durability = options.durability
            try await CollectorBenchmark.run(collector)
            print("")
        }
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
