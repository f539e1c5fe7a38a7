import TramSchema
import TramSpool
#if canImport(Glibc)
import Glibc
#endif

extension SpoolBenchmark {
    /// Appends in real time at `rate` readings/s, as a gateway would, for write amplification.
    ///
    /// The readings come from rate / 100 device streams like the standard trace (100 points at 1 Hz each).
    /// - `--model gateway` (the default, the agent's): one encoder for the gateway, as the wire format's
    ///   gateway-wide dictionary implies, seals one batch per batch age (60 s) holding every device's polls:
    ///   at 15,000 readings/s one batch of 900,000 readings (about 590 KB) a minute; at 100, 6,000 (3.9 KB).
    /// - `--model device`: each device stream seals its own 60 s batch of 6,000 readings, the seals spread
    ///   evenly, so the spool gets a 3.9 KB batch every 6,000 / rate seconds (0.4 s at 15,000 readings/s):
    ///   what small, frequent batches (an age of a few seconds, or a small size limit) cost.
    /// Batch k is appended at (k + ½) intervals, the steady-state phase, so a 60 s run at the gateway model
    /// appends one batch. Every batch is sealed afresh with its real identity. A live uplink with a fast link
    /// takes each batch (`nextBatches`) right after it is appended and acknowledges it at once; `tick()` runs
    /// once a second.
    ///
    /// With `--device`, the device's sectors written are read after the spool is open, its dictionary
    /// stored and everything synced, and after `close()` and sync(2): the steady state, without the spool's
    /// creation. spool.sh reads them around the whole process as well.
    static func paced(rate: Double, settings: Settings, directory: String) {
        guard rate > 0, settings.seconds > 0 else { fail("spool: --rate and --seconds must be positive") }
        let devices = settings.perDevice ? 1 : max(1, Int((rate / 100).rounded()))
        let traceSeconds =
            settings.perDevice
            ? 3600 : min(3600, (Int(settings.seconds) / settings.batchSeconds + 1) * settings.batchSeconds)
        let batches = SpoolBatches(batchSeconds: settings.batchSeconds, devices: devices, traceSeconds: traceSeconds)
        let path = SpoolFiles.fresh(directory + "/rate-\(Int(rate))")
        let interval = Double(batches.readingsPerBatch) / rate
        let spool = open(path)
        batches.dictionaryFrame.withUnsafeBytes { _ = spool.appendDictionary($0, schemaID: batches.schemaID) }
        do { try spool.sync() } catch { fail("spool sync failed: \(error)") }
        sync()
        let sectorsBefore = settings.device.flatMap { SpoolFiles.sectorsWritten(device: $0) }
        let syncsBefore = SpoolFiles.syncCalls

        let start = WireBenchmark.now()
        let end = start + UInt64(settings.seconds * 1e9)
        var nextAppend = start + UInt64(interval * 0.5e9), nextTick = start + 1_000_000_000
        var appended = 0, frameBytes = 0, acknowledged = 0
        while true {
            let due = min(nextAppend, nextTick)
            guard due <= end else { break }
            sleep(until: due)
            if nextAppend <= WireBenchmark.now() {
                let identity = spool.nextIdentity
                let frame = batches.seal(identity)
                let outcome = spool.appendBatch(
                    frame, identity: identity, readings: batches.readingsPerBatch, schemaID: batches.schemaID)
                guard outcome == .stored else { fail("paced run: batch \(appended) was \(outcome)") }
                appended += 1
                frameBytes += frame.count
                let taken = spool.nextBatches(for: sink)
                spool.acknowledge(sink: sink, taken.map(\.identity))
                acknowledged += taken.count
                nextAppend = start + UInt64((Double(appended) + 0.5) * interval * 1e9)
            }
            if nextTick <= WireBenchmark.now() {
                spool.tick()
                nextTick += 1_000_000_000
            }
        }
        sleep(until: end)
        let counters = spool.counters
        close(spool)
        sync()
        let elapsed = seconds(since: start)
        let sectorsAfter = settings.device.flatMap { SpoolFiles.sectorsWritten(device: $0) }
        let syncs = SpoolFiles.syncCalls
        let fdatasyncs = syncs.fdatasync - syncsBefore.fdatasync, fsyncs = syncs.fsync - syncsBefore.fsync
        let files = SpoolFiles.list(path)

        print(
            "spool, paced at \(whole(rate)) readings/s for \(formatted(elapsed, 1)) s, \(settings.perDevice ? "device" : "gateway") model: "
                + "one \(batches.batchSeconds) s batch of \(devices) device(s) (\(batches.readingsPerBatch) readings) every \(formatted(interval, 3)) s, "
                + "acknowledged at once by a live sink")
        print(
            "  appended    \(appended) batches, \(appended * batches.readingsPerBatch) readings, \(frameBytes) B of frames "
                + "(\(whole(Double(frameBytes) / elapsed)) B/s); \(acknowledged) acknowledged")
        print(
            "  syncs       \(fdatasyncs) fdatasync (\(formatted(Double(fdatasyncs) / elapsed, 2))/s), \(fsyncs) fsync of the directory"
        )
        print("  on disk     \(files.map { "\($0.name) \($0.size) B" }.joined(separator: ", "))")
        print("  books       \(describe(counters))")
        if let sectorsBefore, let sectorsAfter {
            let written = Int(sectorsAfter - sectorsBefore) * 512
            print(
                "  device      \(settings.device!): \(written) B written in steady state (spool open to close) = "
                    + "\(whole(Double(written) / elapsed)) B/s; write amplification \(formatted(Double(written) / Double(max(1, frameBytes)), 2))"
            )
        }
        print(
            "  dictionary  \(batches.dictionaryFrame.count) B, stored before the measurement (once per config change)")
        // For spool.sh: the payload it divides the device's bytes by, batches alone and with the dictionary.
        print("payload_bytes=\(frameBytes)")
        print("dictionary_bytes=\(batches.dictionaryFrame.count)")
        if !settings.keep { SpoolFiles.remove(path) }
    }

    /// Sleeps until a CLOCK_MONOTONIC instant in nanoseconds (WireBenchmark.now's clock).
    static func sleep(until instant: UInt64) {
        var target = timespec(tv_sec: Int(instant / 1_000_000_000), tv_nsec: Int(instant % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
    }
}
