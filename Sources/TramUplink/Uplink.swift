import Logging
import SystemPackage
import TramIngestProtocol
import TramLineProtocol
import TramCompression
import TramSchema
import TramSpool
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// What one `deliverOnce` did.
public struct DeliveryReport: Sendable, Equatable {
    /// The batches the upload carried (empty: nothing to send).
    public var batches: [BatchIdentity]
    public var action: DeliveryAction?
    /// The last HTTP status seen (nil without an answer).
    public var status: Int?
    /// Dictionaries sent because the sink asked for them.
    public var dictionariesSent: Int = 0
    /// Batches set aside as malformed.
    public var deadLettered: [BatchIdentity] = []
    /// A line-protocol sink: what the upload's readings became (sent as fields, skipped, held back by the clock rule).
    public var lines = LineTally()
    /// How long the caller should wait before the next `deliverOnce` (0: go on at once).
    public var waitMilliseconds: Int64 = 0
    /// New connections the last request opened (0: the connection was reused).
    public var newConnections: Int?
}

/// Where delivery stands, for status and logs.
public enum UplinkState: Sendable, Equatable {
    case delivering
    case backingOff(failures: Int)
    /// A configuration problem; every batch is kept, and delivery resumes by itself once it is fixed.
    case paused(String)
    /// The daily data budget is spent; delivery resumes when the next UTC day starts.
    case overBudget(resumesInMilliseconds: Int64)
    case stopped
}

/// Delivers spooled batches to one sink.
///
/// **Threads.** The spool and the transport both block; `deliverOnce` runs on the uplink's own thread
/// (the one that owns the spool, or one the spool's owner hands batches to), never on the cooperative pool.
/// It never sleeps: it returns how long to wait, so the owning loop can also wake for shutdown.
public final class Uplink {
    public let sink: String
    public let kind: SinkKind
    public let transport: CurlTransport
    /// An upload never exceeds this many bytes (one larger batch still goes alone).
    public var maximumUploadBytes: Int
    /// At most this many batches per upload; halved after a 413.
    public private(set) var maximumBatches: Int
    public var pauseMilliseconds: Int64 = 60_000
    public private(set) var state: UplinkState = .delivering
    /// The retry backoff; settable so a caller (the agent's settings, a test) can choose its base and cap.
    public var backoff = Backoff.delivery
    /// Where malformed batches go, as their frames back to back (a valid body for `curl --data-binary`).
    public var deadLetterPath: FilePath?
    private let logger: Logger
    private var random = SystemRandomNumberGenerator()
    /// Line-protocol bodies go gzip-compressed (`Content-Encoding: gzip`) unless this is nil: text shrinks about
    /// tenfold, and libcurl does not compress uploads. The collector's frames are zstd already, so a collector
    /// sink has none: zlib's deflate state is 268 KB.
    public var lineCompressor: Gzip?
    /// A line-protocol sink's renderer, with the dictionaries it has decoded.
    private var lineBody = LineProtocolBody()
    /// The wire format versions the collector last said it accepts (`Tram-Wire-Versions`); nil: not heard yet, or
    /// to be asked again. A frame of a later version than these is never sent to it.
    public private(set) var sinkWireVersions: [UInt8]?

    public init(
        sink: String = "collector", kind: SinkKind = .collector, transport: CurlTransport,
        maximumUploadBytes: Int = 1 << 20, maximumBatches: Int = 64, deadLetterPath: FilePath? = nil,
        logger: Logger = Logger(label: "tram.uplink")
    ) {
        self.sink = sink
        self.kind = kind
        lineCompressor = kind == .lineProtocol ? Gzip() : nil
        self.transport = transport
        self.maximumUploadBytes = maximumUploadBytes
        self.maximumBatches = maximumBatches
        self.deadLetterPath = deadLetterPath
        self.logger = logger
    }

    /// Takes the next batches, posts them as one upload, and acknowledges, releases or sets them aside.
    public func deliverOnce(spool: some DeliveryQueue) -> DeliveryReport {
        var batches = spool.nextBatches(for: sink, limit: maximumBatches, maximumBytes: maximumUploadBytes)
        guard !batches.isEmpty else { return DeliveryReport(batches: []) }
        // nextBatches may overshoot by its last batch: hand back whatever does not fit (keeping one).
        var size = 0, fitting = 0
        for batch in batches {
            if fitting > 0, size + batch.frame.count > maximumUploadBytes { break }
            size += batch.frame.count
            fitting += 1
        }
        if fitting < batches.count {
            spool.release(sink: sink, batches[fitting...].map(\.identity))
            batches.removeSubrange(fitting...)
        }
        if kind == .collector, let (sendable, hold) = wireVersionCut(batches) {
            if let hold {
                var report = DeliveryReport(batches: batches.map(\.identity))
                report.action = hold
                apply(hold, batches: batches, body: [], spool: spool, report: &report)
                return report
            }
            // The batches before the first one the collector cannot take go now, in order; that one waits.
            spool.release(sink: sink, batches[sendable...].map(\.identity))
            batches.removeSubrange(sendable...)
        }
        var report = DeliveryReport(batches: batches.map(\.identity))
        var lines: [UInt8]?
        if kind == .lineProtocol {
            guard let body = renderLines(&batches, spool: spool, report: &report) else { return report }
            lines = body
        }
        var prefix: [UInt8] = []
        var answer = post(prefix, batches, lines: lines, report: &report)
        var action = DeliveryDecision.decide(answer.0, sink: kind, batches: batches.count)
        if action == .sendDictionaries {
            // Send the dictionaries the sink named, then the same batches again, in one body.
            var wanted = Array(Set(batches.map(\.schemaID)))
            if case .schemaUnknown(let named, _)? = IngestRefusal.decode(status: 409, body: answer.1), !named.isEmpty {
                wanted = named
            }
            var missing: [UInt64] = []
            for id in wanted {
                if let frame = spool.dictionary(schemaID: id) {
                    prefix += frame; report.dictionariesSent += 1
                } else {
                    missing.append(id)
                }
            }
            if !missing.isEmpty {
                action = .pause(
                    "the sink lacks dictionaries the spool does not hold: \(missing.map { String($0, radix: 16) })")
            } else {
                answer = post(prefix, batches, report: &report)
                action = DeliveryDecision.decide(answer.0, sink: kind, batches: batches.count)
                if action == .sendDictionaries {
                    action = .pause("the sink still reports an unknown schema after its dictionary was sent")
                }
            }
        }
        report.action = action
        apply(action, batches: batches, body: answer.1, spool: spool, report: &report)
        return report
    }

    /// The negotiation (docs/wire-format.md, "Who may receive version 2"): a frame of a version above 1 goes only to a
    /// collector that has named that version; one not heard from yet is asked first (`GET`). Returns nil when every
    /// batch may go; else how many leading batches may (`sendable`, at least 1), or, when the first may not, what
    /// to do instead (`hold`: a pause that keeps every batch, or the retry of a question that failed).
    private func wireVersionCut(_ batches: [SpoolBatch]) -> (sendable: Int, hold: DeliveryAction?)? {
        func version(_ batch: SpoolBatch) -> UInt8 { Frame.peekVersion(batch.frame) ?? Frame.version }
        let needed = batches.reduce(Frame.version) { max($0, version($1)) }
        guard needed > Frame.version else { return nil }
        if sinkWireVersions == nil {
            switch transport.askWireVersions() {
            case .success(let response):
                // A collector older than version 2 answers 404 or 405 without the header: version 1 only.
                sinkWireVersions = response.wireVersions ?? [Frame.version]
            case .failure(let failure):
                return (0, DeliveryDecision.decide(.failed(failure), sink: kind, batches: batches.count))
            }
        }
        let accepted = sinkWireVersions.flatMap { $0.isEmpty ? nil : $0 } ?? [Frame.version]
        guard let first = batches.firstIndex(where: { !accepted.contains(version($0)) }) else { return nil }
        if first > 0 { return (first, nil) }
        sinkWireVersions = nil  // ask again after the pause: the collector may have been upgraded meanwhile
        return (
            0,
            .pause(
                "the collector accepts wire format version \(WireVersions.render(accepted)); batch "
                    + "\(batches[0].identity) is version \(version(batches[0])): upgrade the collector "
                    + "(every batch is kept, none is set aside)")
        )
    }

    /// A line-protocol sink gets lines instead of frames: renders them (``LineProtocolBody``). A batch whose frame
    /// does not decode is set aside here, as the collector would refuse it with 422; a batch whose dictionary the
    /// spool lacks pauses delivery. Returns nil when nothing is left to post (the report says what was done).
    private func renderLines(_ batches: inout [SpoolBatch], spool: some DeliveryQueue, report: inout DeliveryReport)
        -> [UInt8]?
    {
        let rendered = lineBody.render(batches, now: TramClock.system.wallMilliseconds()) {
            spool.dictionary(schemaID: $0)
        }
        if !rendered.unknownSchemas.isEmpty {
            let action = DeliveryAction.pause(
                "the spool holds no dictionary for schema \(rendered.unknownSchemas.map { String($0, radix: 16) })")
            report.action = action
            apply(action, batches: batches, body: [], spool: spool, report: &report)
            return nil
        }
        for (batch, problem) in rendered.malformed {
            guard
                setAside(
                    batch, spool: spool, report: &report, "uplink batch does not decode; set aside",
                    ["problem": "\(problem)"])
            else {
                let action = DeliveryAction.pause("cannot write the dead-letter file")
                report.action = action
                apply(
                    action, batches: batches.filter { !report.deadLettered.contains($0.identity) }, body: [],
                    spool: spool, report: &report)
                return nil
            }
        }
        report.lines = rendered.tally
        batches = rendered.batches
        if batches.isEmpty {
            report.action = .deadLetter
            return nil
        }
        if rendered.body.isEmpty {
            // Every reading was skipped or held back: there is nothing to send, and nothing to keep them for.
            report.action = .acknowledge
            apply(.acknowledge, batches: batches, body: [], spool: spool, report: &report)
            return nil
        }
        return rendered.body
    }

    private func post(_ prefix: [UInt8], _ batches: [SpoolBatch], lines: [UInt8]? = nil, report: inout DeliveryReport)
        -> (DeliveryAnswer, [UInt8])
    {
        var body = prefix
        var encoding: String?
        if let lines {
            body = lines
            if let gzip = lineCompressor {
                body = gzip.compress(lines)
                encoding = "gzip"
            }
        } else {
            body.reserveCapacity(prefix.count + batches.reduce(0) { $0 + $1.frame.count })
            for batch in batches { body += batch.frame }
        }
        switch transport.post(body, batches: BatchRuns.encode(batches.map(\.identity)), contentEncoding: encoding) {
        case .success(let response):
            report.status = response.status
            report.newConnections = response.newConnections
            if let versions = response.wireVersions { sinkWireVersions = versions }
            let reason = response.status >= 400 ? IngestRefusal.reason(in: response.body) : nil
            return (
                .http(status: response.status, reason: reason, retryAfterSeconds: response.retryAfterSeconds),
                response.body
            )
        case .failure(let failure):
            report.status = nil
            return (.failed(failure), [])
        }
    }

    private func apply(
        _ action: DeliveryAction, batches: [SpoolBatch], body: [UInt8], spool: some DeliveryQueue,
        report: inout DeliveryReport
    ) {
        let identities = batches.map(\.identity)
        switch action {
        case .acknowledge:
            spool.acknowledge(sink: sink, identities)
            backoff.reset()
            if state != .delivering { logger.notice("uplink delivering again", metadata: ["sink": "\(sink)"]) }
            state = .delivering
        case .retry(let retryAfter):
            spool.release(sink: sink, identities)
            report.waitMilliseconds = backoff.next(
                retryAfterSeconds: retryAfter, unit: Double.random(in: 0..<1, using: &random))
            state = .backingOff(failures: backoff.failures)
            logger.warning(
                "uplink upload failed; retrying",
                metadata: [
                    "sink": "\(sink)", "batches": "\(BatchRuns.encode(identities))",
                    "status": "\(report.status.map(String.init) ?? "none")",
                    "wait_ms": "\(report.waitMilliseconds)",
                ])
        case .split:
            spool.release(sink: sink, identities)
            maximumBatches = max(1, min(maximumBatches, batches.count) / 2)
            logger.warning(
                "uplink upload too large; sending fewer batches per upload",
                metadata: ["sink": "\(sink)", "batches": "\(maximumBatches)"])
        case .sendDictionaries:
            spool.release(sink: sink, identities)  // not reached: deliverOnce resolves it
        case .pause(let why):
            spool.release(sink: sink, identities)
            report.waitMilliseconds = pauseMilliseconds
            state = .paused(why)
            logger.error("uplink paused: every batch is kept", metadata: ["sink": "\(sink)", "problem": "\(why)"])
        case .deadLetter:
            var named: BatchIdentity?
            if case .malformed(_, _, _, let batch)? = IngestRefusal.decode(status: 422, body: body) { named = batch }
            let culprit: SpoolBatch?
            if let named {
                culprit = batches.first { $0.identity == named }
            } else {
                culprit = batches.count == 1 ? batches[0] : nil
            }
            guard let culprit else {
                // Which batch is bad is unknown: send them one at a time to find it.
                spool.release(sink: sink, identities)
                maximumBatches = 1
                return
            }
            spool.release(sink: sink, identities.filter { $0 != culprit.identity })
            guard
                setAside(
                    culprit, spool: spool, report: &report, "uplink batch refused as malformed; set aside",
                    ["answer": "\(String(decoding: body.prefix(512), as: UTF8.self))"])
            else {
                spool.release(sink: sink, [culprit.identity])
                return
            }
        }
    }

    /// Sets a malformed batch aside, but only once it is safely in the dead-letter file (when one is configured).
    /// Returns false, with delivery paused, when the file cannot be written; the caller then releases the batch.
    private func setAside(
        _ culprit: SpoolBatch, spool: some DeliveryQueue, report: inout DeliveryReport,
        _ message: Logger.Message, _ metadata: Logger.Metadata
    ) -> Bool {
        guard writeDeadLetter(culprit) else {
            state = .paused("cannot write the dead-letter file")
            return false
        }
        spool.setAside(sink: sink, culprit.identity)
        report.deadLettered.append(culprit.identity)
        logger.error(message, metadata: metadata.merging(["sink": "\(sink)", "batch": "\(culprit.identity)"]) { $1 })
        return true
    }

    private func writeDeadLetter(_ batch: SpoolBatch) -> Bool {
        guard let path = deadLetterPath else { return true }
        do {
            let file = try FileDescriptor.open(
                path, .writeOnly, options: [.append, .create, .closeOnExec], permissions: [.ownerReadWrite])
            defer { try? file.close() }
            _ = try file.writeAll(batch.frame)
            guard fdatasync(file.rawValue) == 0 else { throw Errno(rawValue: errno) }
            return true
        } catch {
            logger.error(
                "cannot write the dead-letter file; the batch is kept",
                metadata: ["path": "\(path)", "error": "\(error)"])
            return false
        }
    }
}
