import TramSchema
import TramSpool
#if canImport(Glibc)
import Glibc
#endif

extension SpoolBenchmark {
    static func flatOut(settings: Settings, batches: SpoolBatches, directory: String) {
        print(
            "spool: \(batches.batchSeconds) s batches of the standard trace (\(batches.readingsPerBatch) readings, zstd), "
                + "default sync policy (fdatasync at most once per 1 s), tick() once a second; in \(directory)")
        append(settings: settings, batches: batches, directory: directory)
        backlog(settings: settings, batches: batches, directory: directory)
    }

    /// Appends pooled batches as fast as the spool takes them, for `seconds` or `appendMiB`. The time
    /// includes the syncs the policy makes on the way and the final close, which makes the last interval durable.
    static func append(settings: Settings, batches: SpoolBatches, directory: String) {
        let path = SpoolFiles.fresh(directory + "/append")
        let limit = settings.appendMiB << 20
        // Bounded well above what this phase writes, so nothing is dropped while it is measured.
        let spool = open(path, maximumBytes: 2 * limit + (256 << 20))
        let pool = batches.pool(epoch: spool.epoch)
        let empty = spool.diskBytes
        batches.dictionaryFrame.withUnsafeBytes { _ = spool.appendDictionary($0, schemaID: batches.schemaID) }
        let dictionaryRecord = spool.diskBytes - empty - SegmentFormat.headerSize
        let syncsBefore = SpoolFiles.syncCalls
        let start = WireBenchmark.now()
        let deadline = start + UInt64(settings.seconds * 1e9)
        var lastTick = start, slowest: UInt64 = 0
        var appended = 0, frameBytes = 0
        while true {
            let frame = pool[appended % pool.count]
            let callStart = WireBenchmark.now()
            let outcome = frame.withUnsafeBytes {
                spool.appendBatch(
                    $0, identity: spool.nextIdentity, readings: batches.readingsPerBatch, schemaID: batches.schemaID)
            }
            guard outcome == .stored else { fail("append phase: batch \(appended) was \(outcome)") }
            var callEnd = WireBenchmark.now()
            if callEnd - lastTick >= 1_000_000_000 {
                spool.tick()
                lastTick = callEnd
                callEnd = WireBenchmark.now()
            }
            slowest = max(slowest, callEnd - callStart)
            appended += 1
            frameBytes += frame.count
            if callEnd >= deadline || frameBytes >= limit { break }
        }
        let counters = spool.counters
        close(spool)
        let elapsed = seconds(since: start)
        let syncs = SpoolFiles.syncCalls
        let fdatasyncs = syncs.fdatasync - syncsBefore.fdatasync, fsyncs = syncs.fsync - syncsBefore.fsync
        let readings = appended * batches.readingsPerBatch

        print(
            "\nappend, flat out: \(appended) batches, \(formatted(megabytes(frameBytes), 1)) MB of frames "
                + "(\(frameBytes / appended) B a batch, \(formatted(Double(frameBytes) / Double(readings), 3)) B a reading) in \(formatted(elapsed, 2)) s, close included"
        )
        print(
            "  throughput  \(formatted(megabytes(frameBytes) / elapsed, 1)) MB/s  \(whole(Double(readings) / elapsed)) readings/s  "
                + "\(whole(Double(appended) / elapsed)) batches/s")
        print(
            "  calls       append mean \(formatted(elapsed * 1e6 / Double(appended), 1)) us (syncs included), slowest append or tick \(formatted(Double(slowest) / 1e6, 1)) ms"
        )
        print(
            "  syncs       \(fdatasyncs) fdatasync (\(formatted(Double(fdatasyncs) / elapsed, 2))/s), \(fsyncs) fsync of the directory "
                + "(counted by interposing both in tram-bench)")
        print("  books       \(describe(counters))")

        let files = SpoolFiles.list(path)
        let segments = files.filter { $0.name.hasSuffix(".seg") }
        let segmentBytes = segments.reduce(0) { $0 + $1.size }
        let allBytes = files.reduce(0) { $0 + $1.size }
        let recordOverhead = segmentBytes - segments.count * SegmentFormat.headerSize - dictionaryRecord - frameBytes
        print(
            "  overhead    per record \(formatted(Double(recordOverhead) / Double(appended), 1)) B = "
                + "\(formatted(100 * Double(recordOverhead) / Double(frameBytes), 3))% of the frames (goal <= 1%): 12 B framing + record header; "
                + "with segment headers, dictionary and ledger (\(segments.count) segments, ledger \(files.first { $0.name == "ledger" }?.size ?? 0) B) "
                + "\(formatted(100 * Double(allBytes - frameBytes) / Double(frameBytes), 3))%")
        if !settings.keep { SpoolFiles.remove(path) }
    }

    /// Fills a default spool (1 GiB bound) to `backlogMiB`, then times its start-up (clean, with a cold
    /// page cache, and after a crash) and drains it as a sink would after an outage.
    static func backlog(settings: Settings, batches: SpoolBatches, directory: String) {
        let path = SpoolFiles.fresh(directory + "/backlog")
        let start = WireBenchmark.now()
        let (appended, pool) = fill(path, megabytes: settings.backlogMiB, batches: batches)
        let fillSeconds = seconds(since: start)
        let files = SpoolFiles.list(path)
        let backlogBytes = files.reduce(0) { $0 + $1.size }
        print(
            "\nbacklog: \(appended) batches, \(formatted(Double(backlogBytes) / Double(1 << 30), 3)) GiB in \(files.filter { $0.name.hasSuffix(".seg") }.count) segments "
                + "(written at \(formatted(megabytes(backlogBytes) / fillSeconds, 1)) MB/s)")

        // Each spool is released before the next opens: close() syncs and records a clean stop,
        // but the directory's lock is only let go when the Spool object is.
        func timedOpen() -> (Spool, Double) {
            let start = WireBenchmark.now()
            let spool = open(path)
            return (spool, seconds(since: start) * 1000)
        }
        var warm: [Double] = [], cold: [Double] = [], crashed: [Double] = []
        for _ in 0..<settings.runs {
            let (opened, milliseconds) = timedOpen()
            warm.append(milliseconds)
            close(opened)
        }
        for _ in 0..<settings.runs {
            SpoolFiles.evict(path)
            let (opened, milliseconds) = timedOpen()
            cold.append(milliseconds)
            close(opened)
        }
        for _ in 0..<settings.runs {
            crash(path, batches: batches, pool: pool)
            SpoolFiles.evict(path)
            let (opened, milliseconds) = timedOpen()
            crashed.append(milliseconds)
            close(opened)
        }
        func line(_ label: String, _ times: [Double]) {
            print(
                "  " + label.padding(44)
                    + "median \(formatted(median(times), 1)) ms  (min \(formatted(times.min()!, 1)), max \(formatted(times.max()!, 1)); \(times.count) runs)"
            )
        }
        print("  start-up, Spool(options:) with the backlog (goal < 1 s):")
        line("after a clean close, page cache warm", warm)
        line("after a clean close, spool files evicted", cold)
        line("after kill -9 mid-segment, files evicted", crashed)

        SpoolFiles.evict(path)
        drain(open(path), batches: batches)
        if !settings.keep { SpoolFiles.remove(path) }
    }

    /// Appends pooled batches to a fresh default spool (1 GiB bound) until it holds `megabytes` MiB
    /// (or its bound), without reaching the bound, and closes it.
    static func fill(_ path: String, megabytes: Int, batches: SpoolBatches) -> (appended: Int, pool: [[UInt8]]) {
        let spool = open(path)
        let target = min(megabytes << 20, spool.options.maximumBytes)
        let pool = batches.pool(epoch: spool.epoch)
        let largest = pool.map(\.count).max()! + 64
        batches.dictionaryFrame.withUnsafeBytes { _ = spool.appendDictionary($0, schemaID: batches.schemaID) }
        var lastTick = WireBenchmark.now(), appended = 0
        while spool.diskBytes + 2 * largest <= target {
            let frame = pool[appended % pool.count]
            let outcome = frame.withUnsafeBytes {
                spool.appendBatch(
                    $0, identity: spool.nextIdentity, readings: batches.readingsPerBatch, schemaID: batches.schemaID)
            }
            guard outcome == .stored else { fail("filling the backlog: batch \(appended) was \(outcome)") }
            appended += 1
            if WireBenchmark.now() - lastTick >= 1_000_000_000 { spool.tick(); lastTick = WireBenchmark.now() }
        }
        close(spool)
        return (appended, pool)
    }

    /// A run that appends half a segment and dies without `close()` (as `kill -9` would: the data is in
    /// the page cache, the ledger has no clean stop), so the next start scans that segment and syncs the rest.
    /// At the bound, the spool drops its oldest segment to make room, as it would in the field.
    static func crash(_ path: String, batches: SpoolBatches, pool: [[UInt8]]) {
        let spool = open(path)
        var written = 0, index = 0
        while written < spool.options.segmentBytes / 2 {
            let frame = pool[index % pool.count]
            frame.withUnsafeBytes {
                _ = spool.appendBatch(
                    $0, identity: spool.nextIdentity, readings: batches.readingsPerBatch, schemaID: batches.schemaID)
            }
            written += frame.count
            index += 1
        }
    }

    /// Replays the whole backlog to one sink, from a cold page cache: `nextBatches` (64 batches or
    /// 1 MiB a call, the defaults) and an immediate `acknowledge`, with `tick()` once a second
    /// deleting delivered segments, until nothing is left.
    static func drain(_ spool: Spool, batches: SpoolBatches) {
        let backlog = spool.counters.buffered
        let start = WireBenchmark.now()
        var lastTick = start, drained = 0, frameBytes = 0, readings = 0, calls = 0
        while true {
            let next = spool.nextBatches(for: sink)
            if next.isEmpty { break }
            calls += 1
            drained += next.count
            for batch in next {
                frameBytes += batch.frame.count
                readings += batch.readings
            }
            spool.acknowledge(sink: sink, next.map(\.identity))
            if WireBenchmark.now() - lastTick >= 1_000_000_000 { spool.tick(); lastTick = WireBenchmark.now() }
        }
        spool.tick()
        close(spool)
        let elapsed = seconds(since: start)
        print(
            "  drain, cold cache: \(drained) batches (\(formatted(megabytes(frameBytes), 1)) MB of frames) in \(formatted(elapsed, 2)) s, \(calls) nextBatches calls"
        )
        print(
            "    \(whole(Double(drained) / elapsed)) batches/s  \(formatted(megabytes(frameBytes) / elapsed, 1)) MB/s  "
                + "\(whole(Double(readings) / elapsed)) readings/s; buffered before \(backlog.batches) batches")
        print("    after: \(spool.status.segments) segments, \(spool.diskBytes) B on disk; \(describe(spool.counters))")
    }
}
