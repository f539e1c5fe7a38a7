import Dispatch
import Foundation
import Synchronization
import TramSchema
import TramSpool
import TramUplink
#if canImport(Glibc)
import Glibc
#endif

/// The agent's delivery queue with a stopwatch: forwards to the shared spool and notes when each batch is
/// acknowledged, so a live batch's latency is exact (append to acknowledgement) and the drain's end is the
/// moment the last backlog batch is acknowledged.
final class TimedQueue: DeliveryQueue, @unchecked Sendable {
    struct Latency {
        var nanoseconds: UInt64
        /// Appended before the backlog was drained.
        var duringDrain: Bool
    }

    struct State {
        var appendedAt: [BatchIdentity: UInt64] = [:]
        var sizes: [BatchIdentity: Int] = [:]
        var latencies: [Latency] = []
        var backlogAcknowledged = 0
        var liveAcknowledged = 0
        var acknowledgedBytes = 0
        var drainedAt: UInt64?
        var setAside = 0
    }

    let shared: SharedSpool
    let backlogEpoch: UInt64
    /// Sequences below this (in `backlogEpoch`) are the backlog.
    let liveStart: UInt64
    let backlogBatches: Int
    let state = Mutex(State())

    init(_ shared: SharedSpool, backlogEpoch: UInt64, liveStart: UInt64, backlogBatches: Int) {
        self.shared = shared
        self.backlogEpoch = backlogEpoch
        self.liveStart = liveStart
        self.backlogBatches = backlogBatches
    }

    func isBacklog(_ identity: BatchIdentity) -> Bool {
        identity.epoch == backlogEpoch && identity.sequence < liveStart
    }

    /// The writer calls this just before it appends a live batch.
    func appending(_ identity: BatchIdentity) {
        let now = WireBenchmark.now()
        state.withLock { $0.appendedAt[identity] = now }
    }

    func nextBatches(for sink: String, limit: Int, maximumBytes: Int) -> [SpoolBatch] {
        let batches = shared.nextBatches(for: sink, limit: limit, maximumBytes: maximumBytes)
        state.withLock { state in for batch in batches { state.sizes[batch.identity] = batch.frame.count } }
        return batches
    }

    func acknowledge(sink: String, _ identities: [BatchIdentity]) {
        shared.acknowledge(sink: sink, identities)
        let now = WireBenchmark.now()
        state.withLock { state in
            for identity in identities {
                state.acknowledgedBytes += state.sizes.removeValue(forKey: identity) ?? 0
                if isBacklog(identity) {
                    state.backlogAcknowledged += 1
                    if state.backlogAcknowledged == backlogBatches { state.drainedAt = now }
                } else if let appended = state.appendedAt.removeValue(forKey: identity) {
                    state.liveAcknowledged += 1
                    state.latencies.append(Latency(nanoseconds: now - appended, duringDrain: state.drainedAt == nil))
                }
            }
        }
    }

    func release(sink: String, _ identities: [BatchIdentity]) { shared.release(sink: sink, identities) }

    func setAside(sink: String, _ identity: BatchIdentity) {
        shared.setAside(sink: sink, identity)
        state.withLock { $0.setAside += 1 }
    }

    func dictionary(schemaID: UInt64) -> [UInt8]? { shared.dictionary(schemaID: schemaID) }
}

/// A thread that can be joined (Foundation's Thread cannot).
final class JoinableThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread {
            body(); done.signal()
        }
        thread.name = name
        thread.start()
    }

    func join() { done.wait() }
}

extension UplinkBenchmark {
    /// Fills a spool with `--backlog` readings, reopens it (the backlog an outage leaves), and drains it to a fresh
    /// collector while a writer appends live batches; see the type's note.
    static func drain(settings: Settings, binary: String, root: String) {
        let backlog = SpoolBatches(batchSeconds: settings.batchSeconds, devices: settings.devices)
        let count = max(1, (settings.backlog + backlog.readingsPerBatch - 1) / backlog.readingsPerBatch)
        // Live polling: rate / 100 devices of 100 points at 1 Hz, one gateway-wide batch per live batch age.
        let liveDevices = max(1, Int((settings.liveRate / 100).rounded()))
        let live = SpoolBatches(
            batchSeconds: settings.liveBatchSeconds, devices: liveDevices,
            traceSeconds: max(settings.liveBatchSeconds, 120))
        // Live timestamps start well after the backlog's last, so every stored (point, time) is one reading.
        let backlogHours = Int64(count / backlog.windows + 2)
        live.timeOffsetMilliseconds = backlogHours * Int64(backlog.traces[0].ticks.count) * 1000

        let path = SpoolFiles.fresh(root + "/drain-spool")
        let fillStart = WireBenchmark.now()
        let filling = SpoolBenchmark.open(path, maximumBytes: 4 << 30)
        dictionaryAppended(filling, backlog)
        var backlogBytes = 0
        for _ in 0..<count {
            let identity = filling.nextIdentity
            let frame = backlog.seal(identity)
            guard
                filling.appendBatch(
                    frame, identity: identity, readings: backlog.readingsPerBatch, schemaID: backlog.schemaID)
                    == .stored
            else {
                fail("uplink: appending the backlog failed")
            }
            backlogBytes += frame.count
        }
        SpoolBenchmark.close(filling)
        let backlogReadings = count * backlog.readingsPerBatch
        print(
            "\n2. drain: a backlog of \(SpoolBenchmark.whole(Double(backlogReadings))) readings in \(count) batches of \(backlog.readingsPerBatch) "
                + "(\(backlog.batchSeconds) s × \(backlog.devices) devices), \(formatted(Double(backlogBytes) / 1e6, 2)) MB of frames, "
                + "spooled in \(formatted(SpoolBenchmark.seconds(since: fillStart), 1)) s and reopened; live polling meanwhile: "
                + "\(SpoolBenchmark.whole(Double(live.readingsPerBatch) / Double(live.batchSeconds))) readings/s "
                + "(\(liveDevices) devices × \(live.pointsPerDevice) points at 1 Hz), one batch of \(live.readingsPerBatch) readings every "
                + "\(live.batchSeconds) s, tick() once a second; replay live_first")

        let collector = CollectorUnderTest(
            binary: binary, directory: SpoolFiles.fresh(root + "/drain-collector"), gateway: gateway,
            durability: settings.durability)
        let reopened = SpoolBenchmark.open(path, maximumBytes: 4 << 30)
        let liveStart = reopened.nextIdentity
        let shared = SharedSpool(reopened)
        let queue = TimedQueue(
            shared, backlogEpoch: liveStart.epoch, liveStart: liveStart.sequence, backlogBatches: count)
        // The agent appends its dictionary after every open; the collector gets both dictionaries by the 409 exchange.
        shared.withSpool { dictionaryAppended($0, live) }
        let transport = transport(to: collector)
        let uplink = Uplink(sink: sink, transport: transport, logger: quietLogger("tram.uplink"))
        let wake = DispatchSemaphore(value: 0)
        let stopUplink = Atomic<Bool>(false), stopWriter = Atomic<Bool>(false)
        let uploads = Atomic<Int>(0), failedUploads = Atomic<Int>(0), dictionariesSent = Atomic<Int>(0)
        let liveAppended = Atomic<Int>(0), liveBytes = Atomic<Int>(0), slowestAppend = Atomic<UInt64>(0)
        let sendable = Unchecked((uplink: uplink, live: live))

        let agentCPUStart = UplinkProcesses.ownCPUSeconds(), collectorCPUStart = collector.cpuSplit,
            collectorIOStart = collector.io
        let wireStart = transport.bytesOnWire
        let start = WireBenchmark.now()
        // The uplink thread: the worker's loop (deliver; when the spool has nothing, sleep until an append wakes it).
        let uplinkThread = JoinableThread("tram-up-bench") {
            let uplink = sendable.value.uplink
            while !stopUplink.load(ordering: .acquiring) {
                let report = uplink.deliverOnce(spool: queue)
                if report.batches.isEmpty { _ = wake.wait(timeout: .now() + .seconds(5)); continue }
                uploads.add(1, ordering: .relaxed)
                dictionariesSent.add(report.dictionariesSent, ordering: .relaxed)
                if report.action != .acknowledge {
                    failedUploads.add(1, ordering: .relaxed)
                    if report.waitMilliseconds > 0 { usleep(UInt32(report.waitMilliseconds) * 1000) }
                }
            }
        }
        // The writer: the agent's spool thread, sealing and appending a live batch every batch age, ticking once a second.
        let writerThread = JoinableThread("tram-spool-bench") {
            let live = sendable.value.live
            let interval = UInt64(live.batchSeconds) * 1_000_000_000
            var next = start + interval, nextTick = start + 1_000_000_000
            while !stopWriter.load(ordering: .acquiring) {
                SpoolBenchmark.sleep(until: min(next, nextTick))
                if stopWriter.load(ordering: .acquiring) { break }
                let now = WireBenchmark.now()
                if now >= next {
                    let identity = shared.withSpool { $0.nextIdentity }
                    let frame = Array(live.seal(identity))
                    queue.appending(identity)
                    let outcome = shared.withSpool { spool in
                        frame.withUnsafeBytes {
                            spool.appendBatch(
                                $0, identity: identity, readings: live.readingsPerBatch, schemaID: live.schemaID)
                        }
                    }
                    guard outcome == .stored else { fail("uplink: a live batch was \(outcome)") }
                    let took = WireBenchmark.now() - now
                    if took > slowestAppend.load(ordering: .relaxed) { slowestAppend.store(took, ordering: .relaxed) }
                    liveAppended.add(1, ordering: .relaxed)
                    liveBytes.add(frame.count, ordering: .relaxed)
                    wake.signal()
                    next += interval
                }
                if WireBenchmark.now() >= nextTick {
                    shared.withSpool { $0.tick() }
                    nextTick += 1_000_000_000
                }
            }
        }
        var progress = start
        var drainedAt: UInt64?
        var agentCPU = 0.0, collectorCPU = 0.0, collectorSystem = 0.0, collectorIO = UplinkProcesses.IO(), wireBytes = 0
        while drainedAt == nil {
            usleep(20_000)
            drainedAt = queue.state.withLock { $0.drainedAt }
            if drainedAt != nil {
                agentCPU = UplinkProcesses.ownCPUSeconds() - agentCPUStart
                let split = collector.cpuSplit
                collectorCPU = split.user + split.system - collectorCPUStart.user - collectorCPUStart.system
                collectorSystem = split.system - collectorCPUStart.system
                collectorIO = collector.io - collectorIOStart
            }
            if WireBenchmark.now() - progress >= 10_000_000_000 {
                progress = WireBenchmark.now()
                let done = queue.state.withLock { $0.backlogAcknowledged }
                print(
                    "   … \(SpoolBenchmark.seconds(since: start).rounded()) s: \(done) of \(count) backlog batches delivered, "
                        + "\(liveAppended.load(ordering: .relaxed)) live batches appended, \(failedUploads.load(ordering: .relaxed)) failed uploads"
                )
            }
            if WireBenchmark.now() - start > 3_600_000_000_000 {
                fail("uplink: the backlog did not drain within an hour")
            }
        }
        let drainSeconds = Double(drainedAt! - start) / 1e9
        let (drainAcknowledgedBytes, uploadsDuringDrain) = (
            queue.state.withLock { $0.acknowledgedBytes }, uploads.load(ordering: .relaxed)
        )
        wireBytes = transport.bytesOnWire - wireStart
        // The backlog is gone: stop polling, let the last live batches arrive, stop the uplink.
        stopWriter.store(true, ordering: .releasing)
        writerThread.join()
        let appendedLive = liveAppended.load(ordering: .relaxed)
        let settleDeadline = WireBenchmark.now() + 60_000_000_000
        while queue.state.withLock({ $0.liveAcknowledged }) < appendedLive, WireBenchmark.now() < settleDeadline {
            wake.signal(); usleep(20_000)
        }
        stopUplink.store(true, ordering: .releasing)
        wake.signal()
        uplinkThread.join()
        let counters = shared.withSpool { $0.counters }
        do { try shared.withSpool { try $0.close() } } catch { fail("spool close failed: \(error)") }
        collector.stop()

        let state = queue.state.withLock { $0 }
        let during = state.latencies.filter(\.duringDrain).map(\.nanoseconds).sorted()
        let liveReadings = appendedLive * live.readingsPerBatch
        let expected = backlogReadings + liveReadings
        let stored = Int(collector.query("SELECT count(*) FROM readings")) ?? -1
        let distinct = Int(collector.query("SELECT count(*) FROM (SELECT DISTINCT point, time_ms FROM readings)")) ?? -1
        let batchesStored = Int(collector.query("SELECT sum(batches) FROM ingest_hours")) ?? -1
        let duplicates = Int(collector.query("SELECT sum(duplicates) FROM ingest_hours")) ?? -1
        let megabytes = Double(drainAcknowledgedBytes) / 1e6
        func ms(_ ns: UInt64) -> String { SpoolBenchmark.whole(Double(ns) / 1e6) }
        func percentile(_ p: Double) -> UInt64 {
            during.isEmpty ? 0 : during[min(during.count - 1, Int(Double(during.count) * p))]
        }

        print(
            "   drain time  \(formatted(drainSeconds, 1)) s for \(SpoolBenchmark.whole(Double(backlogReadings))) backlog readings: "
                + "\(SpoolBenchmark.whole(Double(backlogReadings) / drainSeconds)) backlog readings/s, "
                + "\(SpoolBenchmark.whole(Double(backlogReadings + state.latencies.filter(\.duringDrain).count * live.readingsPerBatch) / drainSeconds)) readings/s with the live ones, "
                + "\(uploadsDuringDrain) uploads, \(failedUploads.load(ordering: .relaxed)) failed, \(dictionariesSent.load(ordering: .relaxed)) dictionaries sent on the collector's 409"
        )
        print(
            "   live        \(during.count) live batches appended during the drain, append → acknowledged: p50 \(ms(percentile(0.5))) ms, "
                + "p99 \(ms(percentile(0.99))) ms, max \(ms(during.last ?? 0)) ms (\(liveBytes.load(ordering: .relaxed) / max(1, appendedLive)) B a batch; slowest seal + append \(formatted(Double(slowestAppend.load(ordering: .relaxed)) / 1e6, 1)) ms)"
        )
        print(
            "   CPU         agent (writer + spool + uplink) \(formatted(agentCPU, 2)) s = \(formatted(agentCPU * 1000 / megabytes, 1)) ms per MB; "
                + "collector \(formatted(collectorCPU, 1)) s = \(SpoolBenchmark.whole(collectorCPU * 1000 / megabytes)) ms per MB "
                + "(\(formatted(megabytes, 2)) MB of frames acknowledged during the drain, CurlTransport.bytesOnWire \(formatted(Double(wireBytes) / 1e6, 2)) MB); "
                + "collector: \(formatted(collectorSystem, 1)) s of its CPU in the kernel, I/O \(describe(collectorIO))"
        )
        let exact = stored == expected && distinct == expected && batchesStored == count + appendedLive
        print(
            "   exactly once \(exact ? "yes" : "NO"): appended \(SpoolBenchmark.whole(Double(expected))) readings "
                + "(\(count) backlog + \(appendedLive) live batches), the collector stored \(SpoolBenchmark.whole(Double(stored))) rows, "
                + "\(SpoolBenchmark.whole(Double(distinct))) distinct (point, time), \(batchesStored) batches, \(duplicates) duplicate batches dropped; "
                + "spool: \(SpoolBenchmark.describe(counters))")
        guard exact, counters.balances, counters.delivered.readings == expected else {
            fail("uplink: the drain lost or repeated readings")
        }
        removeTree(root + "/drain-collector", settings)
        removeTree(path, settings)
    }
}

/// Hands non-Sendable objects to a thread that alone uses them from then on.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
