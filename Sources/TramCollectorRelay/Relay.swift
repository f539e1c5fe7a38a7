import Dispatch
import Foundation
import Logging
import Synchronization
import TramCollectorStore
import TramLineProtocol
import TramCore

/// Feeds one time-series target from the store, in order, after a durable position (docs/collector.md, "Relay").
///
/// Each round reads up to `batchSize` readings after the position, encodes them as line protocol, POSTs them, and
/// only after a 2xx moves the position past them, in one transaction with the totals. A failure moves nothing: the
/// same readings are read again after a backoff, so an outage of the target loses nothing. The blocking HTTP runs on
/// a Dispatch queue and the store calls on the store's queue, never on Swift's cooperative pool.
public final class Relay: Sendable {
    public let target: RelayTarget
    let executor: StoreExecutor
    let logger: Logger

    struct State {
        var persisted = CollectorStore.RelayPosition(name: "")
        var failures = 0
        var requests = 0
        var lagReadings: Int64 = 0
        /// Since when the relay has had readings waiting (nil: caught up).
        var behindSince: ContinuousClock.Instant?
        var lastSuccessMilliseconds: Int64 = 0
        var lastError = ""
    }
    private let state: Mutex<State>

    public init(target: RelayTarget, executor: StoreExecutor, logger: Logger) {
        self.target = target
        self.executor = executor
        self.logger = logger
        state = Mutex(State(persisted: .init(name: target.name)))
    }

    /// Encodes a batch of rows: the body, and what was sent, held back and skipped.
    public struct Encoded: Sendable {
        public var body: [UInt8] = []
        /// What the batch adds to the relay's totals (sent, held back, skipped).
        public var delta: CollectorStore.RelayPosition
        /// What it held back, per gateway row (`relay_held`).
        public var held: [Int64: CollectorStore.RelayHeld] = [:]
        public var lines = 0
    }

    public static func encode(_ rows: [CollectorStore.RelayRow], measurement: String, now: Int64, name: String = "")
        -> Encoded
    {
        var writer = InfluxLine.Writer(measurement: measurement)
        var tally = LineTally()
        var held: [Int64: CollectorStore.RelayHeld] = [:]
        for row in rows {
            let r = row.reading
            let before = (tally.heldUnsynchronised, tally.heldSynchronised)
            writer.append(
                gateway: r.gateway, device: r.device, point: r.point, time: r.timeMilliseconds,
                synchronised: r.clock & 1 != 0,
                type: r.type, value: r.value, rawInt: r.rawInt, rawText: r.rawText, quality: r.quality, now: now,
                tally: &tally)
            if tally.heldUnsynchronised != before.0 { held[row.gatewayID, default: .init()].unsynchronised += 1 }
            if tally.heldSynchronised != before.1 { held[row.gatewayID, default: .init()].synchronised += 1 }
        }
        let delta = CollectorStore.RelayPosition(
            name: name, sent: Int64(tally.sent), heldUnsynchronised: Int64(tally.heldUnsynchronised),
            heldSynchronised: Int64(tally.heldSynchronised),
            unsynchronisedSent: Int64(tally.unsynchronisedSent), skipped: Int64(tally.skipped))
        let lines = writer.lines
        return Encoded(body: writer.finish(), delta: delta, held: held, lines: lines)
    }

    /// Runs until cancelled.
    public func run() async {
        var backoff = retryBackoff
        do {
            let name = target.name
            let persisted = try await retrying { try await self.executor.run { try $0.relayPosition(name) } }
            state.withLock { $0.persisted = persisted }
            logger.info("relay started", metadata: ["target": "\(name)", "position": "\(persisted.position)"])
            while !Task.isCancelled {
                do {
                    let full = try await round()
                    backoff.reset()
                    if !full { try await Task.sleep(for: target.pollInterval) }
                } catch is CancellationError {
                    return
                } catch {
                    state.withLock {
                        $0.failures += 1; $0.lastError = "\(error)"
                    }
                    let delay = backoff.next(unit: 0)
                    logger.warning(
                        "relay failed; retrying",
                        metadata: [
                            "target": "\(target.name)", "error": "\(error)",
                            "retry_in": "\(delay)",
                        ])
                    try await Task.sleep(for: delay)
                }
            }
        } catch {
            return  // cancelled
        }
    }

    private func retrying<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        var backoff = retryBackoff
        while true {
            do { return try await body() } catch is CancellationError { throw CancellationError() } catch {
                logger.warning("relay cannot read its position; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: backoff.next(unit: 0))
            }
        }
    }

    /// From `minimumBackoff`, doubling up to `maximumBackoff`, without jitter: one collector, one target.
    private var retryBackoff: Backoff {
        Backoff(initial: target.minimumBackoff, maximum: target.maximumBackoff, jitter: .none)
    }

    /// One read–send–advance round. Returns true when it read a full batch (more may be waiting).
    func round() async throws -> Bool {
        let position = state.withLock { $0.persisted.position }
        let limit = target.batchSize
        let (rows, last) = try await executor.run { store in
            (try store.relayRows(after: position, limit: limit), try store.lastReadingRowID())
        }
        state.withLock {
            $0.lagReadings = max(0, last - position)
            if rows.isEmpty { $0.behindSince = nil } else if $0.behindSince == nil { $0.behindSince = .now }
        }
        guard let end = rows.last?.rowid else { return false }
        let encoded = Self.encode(rows, measurement: target.measurement, now: nowMilliseconds(), name: target.name)
        if !encoded.body.isEmpty {
            let target = self.target
            let body = encoded.body
            let reply = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try RelayHTTP.post(target, body: body) })
                }
            }
            state.withLock { $0.requests += 1 }
            guard (200..<300).contains(reply.status) else {
                throw RelayError.refused(status: reply.status, body: reply.body)
            }
        }
        let name = target.name
        let delta = encoded.delta
        let held = encoded.held
        let now = nowMilliseconds()
        let persisted = try await executor.run { store in
            try store.advanceRelay(name, to: end, adding: delta, held: held, now: now)
        }
        state.withLock {
            $0.persisted = persisted
            $0.lagReadings = max(0, last - end)
            $0.lastSuccessMilliseconds = now
            if end >= last { $0.behindSince = nil }
        }
        return rows.count == limit
    }

    /// Prometheus samples for /metrics (the totals are the persisted ones, so they survive a restart).
    public func renderMetrics() -> String {
        let s = state.withLock { $0 }
        let label = "relay=\"\(Self.escapeLabel(target.name))\""
        let lagSeconds = s.behindSince.map { (ContinuousClock.now - $0).seconds } ?? 0
        var out = ""
        out += "tram_collector_relay_readings_total{\(label)} \(s.persisted.sent)\n"
        out +=
            "tram_collector_relay_held_back_total{\(label),clock=\"unsynchronised\"} \(s.persisted.heldUnsynchronised)\n"
        out += "tram_collector_relay_held_back_total{\(label),clock=\"synchronised\"} \(s.persisted.heldSynchronised)\n"
        out += "tram_collector_relay_unsynchronised_sent_total{\(label)} \(s.persisted.unsynchronisedSent)\n"
        out += "tram_collector_relay_skipped_total{\(label)} \(s.persisted.skipped)\n"
        out += "tram_collector_relay_requests_total{\(label)} \(s.requests)\n"
        out += "tram_collector_relay_failures_total{\(label)} \(s.failures)\n"
        out += "tram_collector_relay_position{\(label)} \(s.persisted.position)\n"
        out += "tram_collector_relay_lag_readings{\(label)} \(s.lagReadings)\n"
        out += "tram_collector_relay_lag_seconds{\(label)} \(String(format: "%.3f", lagSeconds))\n"
        out +=
            "tram_collector_relay_last_success_timestamp_seconds{\(label)} \(String(format: "%.3f", Double(s.lastSuccessMilliseconds) / 1000))\n"
        return out
    }

    static let metricHeaders = """
        # HELP tram_collector_relay_readings_total Readings the relay target acknowledged.
        # TYPE tram_collector_relay_readings_total counter
        # HELP tram_collector_relay_held_back_total Readings not sent because their timestamp is implausible (docs/collector.md, Relay), by the group's clock flag.
        # TYPE tram_collector_relay_held_back_total counter
        # HELP tram_collector_relay_unsynchronised_sent_total Readings sent although their gateway's clock was unsynchronised (their timestamp was plausible).
        # TYPE tram_collector_relay_unsynchronised_sent_total counter
        # HELP tram_collector_relay_skipped_total Readings with nothing to send: missing, string, NaN or no exponent.
        # TYPE tram_collector_relay_skipped_total counter
        # HELP tram_collector_relay_requests_total Write requests the target answered (any status), since start.
        # TYPE tram_collector_relay_requests_total counter
        # HELP tram_collector_relay_failures_total Relay rounds that failed (target unreachable or not 2xx, store error), since start.
        # TYPE tram_collector_relay_failures_total counter
        # HELP tram_collector_relay_position The readings rowid the relay is done with.
        # TYPE tram_collector_relay_position gauge
        # HELP tram_collector_relay_lag_readings Readings stored after the relay's position.
        # TYPE tram_collector_relay_lag_readings gauge
        # HELP tram_collector_relay_lag_seconds How long the relay has had readings waiting (0: caught up).
        # TYPE tram_collector_relay_lag_seconds gauge
        # HELP tram_collector_relay_last_success_timestamp_seconds When the relay last moved its position.
        # TYPE tram_collector_relay_last_success_timestamp_seconds gauge

        """

    /// Every relay's samples, with the HELP/TYPE lines once.
    public static func renderMetrics(_ relays: [Relay]) -> String {
        relays.isEmpty ? "" : metricHeaders + relays.map { $0.renderMetrics() }.joined()
    }

    static func escapeLabel(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
