import Synchronization
import Testing
import TramConfig
@testable import TramAgent
@testable import TramModbus
@testable import TramSpool
import TramUplink

/// Inputs for the metrics: device cycles, spool books and uplink status as the agent's stages report them.
enum AgentMetricsFixtures {
    /// One device cycle: `points` point values, `failed` of `requests` requests failed.
    static func deviceCycle(
        _ device: String, points: Int, requests: Int = 1, failed: Int = 0, state: DeviceHealth.State
    ) -> DeviceReading {
        var health = DeviceHealth()
        health.state = state
        let request = ReadRequest(table: .holding, address: 0, count: points, points: Array(0..<points))
        return DeviceReading(
            device: device,
            points: (0..<points).map {
                PointReading(point: $0, value: .int(Int64($0)), quality: .good, exponent: 0, timestamp: .zero)
            },
            requests: (0..<requests).map {
                RequestOutcome(request: request, error: $0 < failed ? .timeout : nil, roundTripNanoseconds: 1_000_000)
            },
            health: health)
    }

    /// A spool's status with the given books (readings; one batch each, batches are not exposed).
    static func spoolStatus(
        delivered: Int, buffered: Int, dropped: [DropCause: Int], diskBytes: Int = 0,
        oldestBufferedMilliseconds: Int64? = nil
    ) -> SpoolStatus {
        var counters = SpoolCounters()
        counters.delivered = Tally(readings: delivered, batches: 1)
        counters.buffered = Tally(readings: buffered, batches: 1)
        counters.dropped = dropped.mapValues { Tally(readings: $0, batches: 1) }
        counters.appended = counters.delivered + counters.buffered + counters.droppedTotal
        return SpoolStatus(
            counters: counters, epoch: 1, nextSequence: 1, segments: 1, diskBytes: diskBytes, maximumBytes: 1 << 30,
            oldestBufferedMilliseconds: oldestBufferedMilliseconds, heldInMemory: 0, keptFiles: [],
            startedUnclean: false)
    }

    static func uplinkStatus(_ sink: String, _ state: UplinkState, bytes: Int, uploads: Int, failed: Int)
        -> UplinkStatus
    {
        var status = UplinkStatus(sink: sink, url: "https://collector.example/v1/ingest")
        status.state = state
        status.bytesOnWire = bytes
        status.uploads = uploads
        status.failedUploads = failed
        return status
    }
}

/// A wall clock the test sets.
private final class WallClockByHand: Sendable {
    private let now: Mutex<Int64>
    init(milliseconds: Int64) { now = Mutex(milliseconds) }
    var milliseconds: Int64 { now.withLock { $0 } }
    func advance(by milliseconds: Int64) { now.withLock { $0 += milliseconds } }
}

@Suite("AgentMetrics")
struct AgentMetricsTests {
    typealias Fixtures = AgentMetricsFixtures

    @Test("poll cycles: readings produced, latency histogram, failed requests and health per device")
    func pollCycles() throws {
        let metrics = AgentMetrics()
        metrics.record(Fixtures.deviceCycle("meter", points: 3, state: .online), latencySeconds: 0.02)
        metrics.record(Fixtures.deviceCycle("meter", points: 3, state: .online), latencySeconds: 0.3)
        metrics.record(
            Fixtures.deviceCycle("pv \"roof\"", points: 2, requests: 3, failed: 2, state: .degraded), latencySeconds: 4)

        let samples = try ScrapedSamples(metrics.exposition())
        #expect(samples["tram_readings_produced_total"] == 8)
        #expect(samples.types["tram_poll_duration_seconds"] == "histogram")
        #expect(samples[#"tram_poll_duration_seconds_count{device="meter"}"#] == 2)
        #expect(abs((samples[#"tram_poll_duration_seconds_sum{device="meter"}"#] ?? 0) - 0.32) < 1e-9)
        #expect(samples[#"tram_poll_duration_seconds_bucket{device="meter",le="0.025"}"#] == 1)
        #expect(samples[#"tram_poll_duration_seconds_bucket{device="meter",le="0.5"}"#] == 2)
        #expect(samples[#"tram_poll_duration_seconds_bucket{device="meter",le="+Inf"}"#] == 2)
        // Label values are escaped, and the exposition still parses.
        #expect(samples[#"tram_poll_duration_seconds_bucket{device="pv \"roof\"",le="2.5"}"#] == 0)
        #expect(samples[#"tram_poll_errors_total{device="pv \"roof\""}"#] == 2)
        #expect(samples[#"tram_device_healthy{device="meter"}"#] == 1)
        #expect(samples[#"tram_device_healthy{device="pv \"roof\""}"#] == 0)

        // Health follows the latest cycle.
        metrics.record(
            Fixtures.deviceCycle("meter", points: 3, requests: 1, failed: 1, state: .offline), latencySeconds: 1)
        let later = try ScrapedSamples(metrics.exposition())
        #expect(later[#"tram_device_healthy{device="meter"}"#] == 0)
        #expect(later[#"tram_poll_errors_total{device="meter"}"#] == 1)

        // A device dropped by a reload stops being exposed.
        metrics.retainDevices(["meter"])
        let retained = try ScrapedSamples(metrics.exposition())
        #expect(retained.series(of: "tram_device_healthy") == [#"tram_device_healthy{device="meter"}"#])
        #expect(retained[#"tram_poll_errors_total{device="pv \"roof\""}"#] == nil)
    }

    @Test("recording from many threads at once loses nothing")
    func concurrentRecording() async throws {
        let metrics = AgentMetrics()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for cycle in 0..<500 {
                        metrics.record(
                            Fixtures.deviceCycle(
                                "device-\((worker + cycle) % 4)", points: 5, requests: 2, failed: 1, state: .degraded),
                            latencySeconds: 0.01)
                    }
                }
            }
        }
        let samples = try ScrapedSamples(metrics.exposition())
        #expect(samples["tram_readings_produced_total"] == Double(8 * 500 * 5))
        let cycles = (0..<4).compactMap { samples[#"tram_poll_duration_seconds_count{device="device-\#($0)"}"#] }
        #expect(cycles == [1000, 1000, 1000, 1000])
        let errors = (0..<4).compactMap { samples[#"tram_poll_errors_total{device="device-\#($0)"}"#] }
        #expect(errors == [1000, 1000, 1000, 1000])
    }

    @Test("the spool's books: delivered and dropped by cause as counters, buffered, size and oldest age as gauges")
    func spoolBooks() throws {
        let now = WallClockByHand(milliseconds: 1_700_000_090_000)
        let metrics = AgentMetrics(wallMilliseconds: { now.milliseconds })
        metrics.update(
            spool: Fixtures.spoolStatus(
                delivered: 600, buffered: 300, dropped: [.overflow: 100, .corrupt: 4], diskBytes: 65_536,
                oldestBufferedMilliseconds: 1_700_000_000_000),
            uplinks: [])
        var samples = try ScrapedSamples(metrics.exposition())
        #expect(samples["tram_readings_appended_total"] == 1004)
        #expect(samples["tram_readings_delivered_total"] == 600)
        #expect(samples["tram_readings_buffered"] == 300)
        #expect(samples.types["tram_readings_dropped_total"] == "counter")
        #expect(samples[#"tram_readings_dropped_total{cause="overflow"}"#] == 100)
        #expect(samples[#"tram_readings_dropped_total{cause="corrupt"}"#] == 4)
        // Every cause is there from the start, at zero, so a rate() over it never sees a series appear.
        for cause in DropCause.allCases {
            #expect(samples[#"tram_readings_dropped_total{cause="\#(cause)"}"#] != nil)
        }
        #expect(samples[#"tram_readings_dropped_total{cause="sync_failed"}"#] == 0)
        #expect(samples["tram_spool_size_bytes"] == 65_536)
        #expect(samples["tram_spool_limit_bytes"] == Double(1 << 30))
        #expect(samples["tram_spool_oldest_buffered_age_seconds"] == 90)

        // A second later: the counters advance by the difference; everything delivered, nothing waits.
        now.advance(by: 1000)
        metrics.update(
            spool: Fixtures.spoolStatus(
                delivered: 1000, buffered: 0, dropped: [.overflow: 100, .corrupt: 4, .age: 7], diskBytes: 4096),
            uplinks: [])
        samples = try ScrapedSamples(metrics.exposition())
        #expect(samples["tram_readings_appended_total"] == 1111)
        #expect(samples["tram_readings_delivered_total"] == 1000)
        #expect(samples["tram_readings_buffered"] == 0)
        #expect(samples[#"tram_readings_dropped_total{cause="age"}"#] == 7)
        #expect(samples[#"tram_readings_dropped_total{cause="overflow"}"#] == 100)
        #expect(samples["tram_spool_size_bytes"] == 4096)
        #expect(samples["tram_spool_oldest_buffered_age_seconds"] == 0)
    }

    @Test("uplinks: one-hot state, bytes, uploads and failed uploads per sink; restarts and removed sinks")
    func uplinks() throws {
        let metrics = AgentMetrics()
        let spool = Fixtures.spoolStatus(delivered: 0, buffered: 0, dropped: [:])
        metrics.update(
            spool: spool,
            uplinks: [
                Fixtures.uplinkStatus("collector", .delivering, bytes: 10_000, uploads: 12, failed: 2),
                Fixtures.uplinkStatus("victoria", .backingOff(failures: 3), bytes: 900, uploads: 3, failed: 3),
            ])
        var samples = try ScrapedSamples(metrics.exposition())
        #expect(samples[#"tram_uplink_state{sink="collector",state="delivering"}"#] == 1)
        #expect(samples[#"tram_uplink_state{sink="collector",state="backing-off"}"#] == 0)
        #expect(samples[#"tram_uplink_state{sink="victoria",state="backing-off"}"#] == 1)
        #expect(samples.series(of: "tram_uplink_state").filter { $0.contains(#"sink="victoria""#) }.count == 5)
        #expect(samples[#"tram_uplink_bytes_total{sink="collector"}"#] == 10_000)
        #expect(samples[#"tram_uplink_uploads_total{sink="collector"}"#] == 12)
        #expect(samples[#"tram_uplink_failed_uploads_total{sink="victoria"}"#] == 3)

        // The collector's worker goes on; victoria's was made anew by a reload (its figures start again).
        metrics.update(
            spool: spool,
            uplinks: [
                Fixtures.uplinkStatus(
                    "collector", .overBudget(resumesInMilliseconds: 60_000), bytes: 15_000, uploads: 20, failed: 2),
                Fixtures.uplinkStatus("victoria", .delivering, bytes: 100, uploads: 1, failed: 0),
            ])
        samples = try ScrapedSamples(metrics.exposition())
        #expect(samples[#"tram_uplink_state{sink="collector",state="over-budget"}"#] == 1)
        #expect(samples[#"tram_uplink_state{sink="collector",state="delivering"}"#] == 0)
        #expect(samples[#"tram_uplink_bytes_total{sink="collector"}"#] == 15_000)
        #expect(samples[#"tram_uplink_uploads_total{sink="collector"}"#] == 20)
        #expect(
            samples[#"tram_uplink_bytes_total{sink="victoria"}"#] == 1000,
            "a restarted source never turns a counter back")
        #expect(samples[#"tram_uplink_uploads_total{sink="victoria"}"#] == 4)
        #expect(samples[#"tram_uplink_failed_uploads_total{sink="victoria"}"#] == 3)

        // victoria removed from the config: its series go.
        metrics.update(
            spool: spool, uplinks: [Fixtures.uplinkStatus("collector", .stopped, bytes: 15_000, uploads: 20, failed: 2)]
        )
        samples = try ScrapedSamples(metrics.exposition())
        #expect(samples.values.keys.filter { $0.contains("victoria") }.isEmpty)
        #expect(samples[#"tram_uplink_state{sink="collector",state="stopped"}"#] == 1)
    }
}
