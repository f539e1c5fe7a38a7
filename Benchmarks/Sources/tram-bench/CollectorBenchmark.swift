import CSQLite
import Dispatch
import Foundation
import Logging
@_spi(Benchmark) import TramCollector
import TramCollectorRelay
import TramCollectorStore
import TramCollectorTestSupport
import TramCompression
import TramLineProtocol
import TramSchema

#if canImport(Glibc)
import Glibc
#endif

/// `tram-bench collector`: the collector's ingest throughput over loopback against a raw SQLite baseline, in one run.
enum CollectorBenchmark {
    struct Options {
        var directory = NSTemporaryDirectory() + "tram-collector-bench"
        var gateways = 8
        var batches = 20
        var points = 100
        var seconds = 60
        var step = 1
        var durability: Durability = .normal
        /// Collector runs with rollups off and on, alternating (off, on, off, on, …): the same run, the same data.
        var rounds = 1
        var modes: [Bool] = [false, true]
    }

    static let usage =
        "usage: tram-bench collector [--dir DIR] [--gateways G] [--batches B] [--points P] [--seconds S] [--step S]"
        + " [--durability normal|full] [--rollups on|off|both] [--rounds N]"

    /// The flags `tram-collector bench` took: the directory for the databases (replaced), concurrent gateways (one
    /// client each), batches each gateway sends, points in each gateway's dictionary, seconds in a batch, seconds
    /// between a point's readings (one group of every point each step), and the collector's durability. Then whether
    /// ingest maintains the rollups (both: each round runs without, then with), and the rounds.
    static func main(_ arguments: ArraySlice<String>) async {
        var options = Options()
        var flags = FlagReader(command: "collector", usage: usage, arguments: arguments)
        while let flag = flags.next() {
            switch flag {
            case "--dir": options.directory = flags.value(flag)
            case "--gateways": options.gateways = flags.number(flag)
            case "--batches": options.batches = flags.number(flag)
            case "--points": options.points = flags.number(flag)
            case "--seconds": options.seconds = flags.number(flag)
            case "--step": options.step = flags.number(flag)
            case "--rounds": options.rounds = flags.number(flag)
            case "--rollups":
                switch flags.value(flag) {
                case "on": options.modes = [true]
                case "off": options.modes = [false]
                case "both": options.modes = [false, true]
                default: fail("collector: --rollups is on, off or both")
                }
            case "--durability":
                guard let durability = Durability(rawValue: flags.value(flag)) else {
                    fail("collector: --durability is normal or full")
                }
                options.durability = durability
            default: fail(usage)
            }
        }
        guard options.gateways > 0, options.batches > 0, options.points > 0, options.seconds > 0, options.step > 0,
            options.seconds % options.step == 0, options.rounds > 0
        else {
            fail("collector: sizes must be positive")
        }
        do {
            try await run(options)
        } catch {
            fail("collector: \(error)")
        }
    }

    /// The benchmark's plant: like the wire benchmark's standard trace (60 % float32 random walks, 20 % uint16
    /// constants, 20 % uint32 counters), one group a second with every point.
    static func makeBatches(gateway: String, options: Options) throws -> (
        dictionary: SchemaDictionary, frames: [[UInt8]]
    ) {
        let floats = options.points * 6 / 10, constants = options.points * 2 / 10
        let points = (0..<options.points).map { i in
            PointDescriptor(
                device: "dev\(i / 10)", name: "p\(i)", unit: "",
                type: i < floats ? .float32 : i < floats + constants ? .uint16 : .uint32)
        }
        let dictionary = SchemaDictionary(gateway: gateway, points: points)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        let compressor = FrameCompressor(capacity: 16 << 20)
        var random = SystemRandomNumberGenerator()
        var walk = [Int](repeating: 10_000, count: floats)
        var counters = [UInt64](repeating: 0, count: options.points)
        var values = [WireValue](repeating: .missing(.notAvailable), count: options.points)
        var time: Int64 = 1_764_000_000_000
        var frames: [[UInt8]] = []
        for sequence in 0..<options.batches {
            encoder.begin(epoch: 1, sequence: UInt64(sequence), baseTimeMilliseconds: time)
            for _ in 0..<options.seconds / options.step {
                for i in 0..<options.points {
                    if i < floats {
                        walk[i] += Int.random(in: -10...10, using: &random)
                        values[i] = .float32(bits: Float(Double(walk[i]) / 100).bitPattern)
                    } else if i < floats + constants {
                        values[i] = .uint(UInt64(i))
                    } else {
                        counters[i] += UInt64.random(in: 0...10, using: &random)
                        values[i] = .uint(counters[i])
                    }
                }
                try values.withUnsafeBufferPointer {
                    try encoder.append(timeMilliseconds: time, clock: .synchronised, firstAlias: 0, values: $0)
                }
                time += Int64(options.step) * 1000
            }
            frames.append(Array(try compressor.compress(try encoder.seal())))
        }
        return (dictionary, frames)
    }

    static func run(_ options: Options) async throws {
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        let readingsPerBatch = options.points * options.seconds / options.step
        let total = options.gateways * options.batches * readingsPerBatch
        print(
            "tram-bench collector: \(options.gateways) gateways × \(options.batches) batches × \(readingsPerBatch) readings"
                + " (\(options.points) points, \(options.seconds) s a batch, a reading every \(options.step) s a point)"
                + " = \(total) readings; one batch per request"
        )
        var sets: [(name: String, dictionary: SchemaDictionary, frames: [[UInt8]])] = []
        for g in 0..<options.gateways {
            let (dictionary, frames) = try makeBatches(gateway: "bench-\(g)", options: options)
            sets.append(("bench-\(g)", dictionary, frames))
        }
        let bytes = sets.reduce(0) { $0 + $1.frames.reduce(0) { $0 + $1.count } }
        print(String(format: "wire: %.2f bytes a reading (zstd)", Double(bytes) / Double(total)))

        // 1. Baseline: the same rows, a minimal loop, one prepared statement, one transaction per batch.
        let baselineRate = try baseline(
            sets.map { ($0.dictionary, $0.frames) }, path: options.directory + "/baseline.db")
        print(
            String(format: "raw SQLite baseline (prepared insert, one transaction a batch): %.0f rows/s", baselineRate))

        // 2. End to end, rollups off and on alternating, each on a fresh database.
        var rates: [Bool: [Double]] = [:]
        for round in 1...options.rounds {
            for rollups in options.modes {
                let rate = try await collector(sets, options: options, rollups: rollups, total: total)
                rates[rollups, default: []].append(rate)
                print(
                    String(
                        format: "round %d, rollups %@: %.0f readings/s (end to end / baseline %.2f)", round,
                        rollups ? "on" : "off", rate, rate / baselineRate))
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        if let on = rates[true], let off = rates[false] {
            print(
                String(
                    format: "median of %d rounds: rollups off %.0f, on %.0f readings/s; on / off %.2f (goal ≥ 0.80)",
                    options.rounds, median(off), median(on), median(on) / median(off)))
        }
    }

    /// Starts a collector on a fresh database, has one client per gateway post its batches, and returns readings/s.
    static func collector(
        _ sets: [(name: String, dictionary: SchemaDictionary, frames: [[UInt8]])], options: Options, rollups: Bool,
        total: Int
    ) async throws -> Double {
        let path = options.directory + "/collector.db"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        var tokens: [String] = []
        do {
            let store = try CollectorStore(path: path)
            for set in sets { tokens.append(try store.addGateway(set.name, now: 0)) }
        }
        var logger = Logger(label: "tram-collector-bench")
        logger.logLevel = .critical
        var configuration = CollectorServer.Configuration(
            databasePath: path, port: 0, limits: .init(maximumBody: 64 << 20), rate: 0, durability: options.durability)
        configuration.rollups = rollups
        let server = try CollectorServer(configuration, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let serverTask = Task { try await server.run { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CocoaError(.featureUnsupported) }
        for (set, token) in zip(sets, tokens) {
            let reply = try HTTPReply.ingest(port: port, token: token, body: set.dictionary.frame())
            guard reply.status == 200 else {
                throw HTTPReply.Failure(what: "dictionary: \(reply.status) \(reply.body)")
            }
        }
        let written = writtenBytes()
        let started = DispatchTime.now().uptimeNanoseconds
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for (set, token) in zip(sets, tokens) {
                group.addTask {
                    try await withCheckedThrowingContinuation { (done: CheckedContinuation<[Double], any Error>) in
                        Thread.detachNewThread {
                            done.resume(
                                with: Result {
                                    var times: [Double] = []
                                    for frame in set.frames {
                                        let t0 = DispatchTime.now().uptimeNanoseconds
                                        let reply = try HTTPReply.ingest(port: port, token: token, body: frame)
                                        guard reply.status == 200 else {
                                            throw HTTPReply.Failure(what: "ingest: \(reply.status) \(reply.body)")
                                        }
                                        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                                    }
                                    return times
                                })
                        }
                    }
                }
            }
            var all: [Double] = []
            for try await times in group { all += times }
            return all.sorted()
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        serverTask.cancel()
        _ = await serverTask.result
        let rate = Double(total) / elapsed
        let p50 = latencies[latencies.count / 2], p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        let readingsPerBatch = total / latencies.count
        print(
            String(
                format:
                    "collector end to end (HTTP, decode, dedupe, store; durability \(options.durability.rawValue); rollups %@): "
                    + "%.0f readings/s, %.1f batches/s; latency per %d-reading batch p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                rollups ? "on" : "off", rate, Double(latencies.count) / elapsed, readingsPerBatch, p50, p99,
                latencies.last ?? 0))
        // SQLite writes whole pages: what a request costs follows the pages it dirties, not the rows it adds.
        print(
            String(
                format: "written while ingesting (WAL, checkpoints, sockets): %.1f KB a request",
                Double(writtenBytes() - written) / 1024 / Double(latencies.count)))
        let stored = try CollectorStore(path: path).countReadings()
        let db = try SQLiteDatabase(path: path)
        let summarised = try db.benchScalar("SELECT coalesce(sum(count), 0) FROM rollups WHERE width_ms = 60000")
        let rows = try db.benchScalar("SELECT count(*) FROM rollups")
        print(
            "stored readings: \(stored) (expected \(total)); rollup rows \(rows), their minute counts sum to \(summarised)"
        )
        return rate
    }

    /// Inserts the rows the collector would store, with nothing else around it.
    static func baseline(_ sets: [(SchemaDictionary, [[UInt8]])], path: String) throws -> Double {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA journal_mode=WAL")
        try db.execute("PRAGMA synchronous=NORMAL")
        for statement in StoreSchema.statements where statement.contains("readings") { try db.execute(statement) }
        // Decode first: the baseline times only the inserts.
        var batches: [[(point: Int64, time: Int64, stored: ReadingValue, type: Int64, clock: Int64)]] = []
        for (index, (dictionary, frames)) in sets.enumerated() {
            for frame in frames {
                guard case .batch(let batch) = try FrameCodec.decode(frame, dictionary: { _ in dictionary }).frame
                else { continue }
                var rows: [(Int64, Int64, ReadingValue, Int64, Int64)] = []
                for group in batch.groups {
                    for (offset, value) in group.values.enumerated() {
                        let alias = group.firstAlias + offset
                        let descriptor = dictionary.points[alias]
                        rows.append(
                            (
                                Int64(index * 10_000 + alias), group.timeMilliseconds,
                                ReadingValue(value, descriptor: descriptor, exponent: nil),
                                Int64(descriptor.type.rawValue), Int64(group.clock.rawValue)
                            ))
                    }
                }
                batches.append(rows)
            }
        }
        var statement: OpaquePointer?
        guard
            sqlite3_prepare_v2(
                db.handle,
                """
                INSERT INTO readings(point, time_ms, value, raw_int, raw_text, type, quality, exception, clock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, -1, &statement, nil) == SQLITE_OK
        else { throw db.error(1) }
        defer { sqlite3_finalize(statement) }
        let started = DispatchTime.now().uptimeNanoseconds
        var count = 0
        for rows in batches {
            try db.execute("BEGIN")
            for row in rows {
                sqlite3_bind_int64(statement, 1, row.point)
                sqlite3_bind_int64(statement, 2, row.time)
                if let v = row.stored.engineering {
                    sqlite3_bind_double(statement, 3, v)
                } else {
                    sqlite3_bind_null(statement, 3)
                }
                if let v = row.stored.rawInt {
                    sqlite3_bind_int64(statement, 4, v)
                } else {
                    sqlite3_bind_null(statement, 4)
                }
                sqlite3_bind_null(statement, 5)
                sqlite3_bind_int64(statement, 6, row.type)
                sqlite3_bind_int64(statement, 7, Int64(row.stored.quality))
                sqlite3_bind_null(statement, 8)
                sqlite3_bind_int64(statement, 9, row.clock)
                guard sqlite3_step(statement) == SQLITE_DONE else { throw db.error(1) }
                sqlite3_reset(statement)
                count += 1
            }
            try db.execute("COMMIT")
        }
        return Double(count) / (Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
}
