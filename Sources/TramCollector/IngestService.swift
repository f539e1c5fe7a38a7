import TramCollectorStore
import TramCore
import TramCompression
import TramIngestProtocol
import TramSchema

/// An HTTP answer, before Hummingbird: status, JSON body, Retry-After.
public struct Answer: Sendable, Equatable {
    public var status: Int
    public var body: JSON
    /// Seconds for a Retry-After header.
    public var retryAfter: Int?
    /// For /metrics: why a request was refused (nil when it was not).
    public var reason: String?

    static func reject(_ status: Int, _ reason: String, _ extra: [(String, JSON)] = [], retryAfter: Int? = nil)
        -> Answer
    {
        Answer(
            status: status, body: .object([("reason", .string(reason))] + extra), retryAfter: retryAfter, reason: reason
        )
    }

    /// An ingest refusal as TramIngestProtocol defines its body (the agent's uplink reads it with the same type).
    static func refuse(_ refusal: IngestRefusal) -> Answer {
        Answer(
            status: refusal.status, body: refusal.json, retryAfter: refusal.retryAfterSeconds,
            reason: refusal.reason.rawValue)
    }
}

/// Ingest limits, from the command line.
public struct IngestLimits: Sendable {
    /// Largest request body accepted (413 above it).
    public var maximumBody: Int
    /// Largest payload one frame may decompress to: the decompression-bomb cap (422 above it: malformed).
    /// Never below the largest batch an agent seals, or real batches would be set aside as malformed.
    public var maximumFrameDecoded: Int
    /// Largest total of decoded payload bytes in one request (413 above it: the agent sends fewer batches at a time).
    /// At least `maximumFrameDecoded`, so a single batch always fits.
    public var maximumDecoded: Int

    public init(
        maximumBody: Int = 8 << 20, maximumFrameDecoded: Int = FrameCodec.maximumPayload, maximumDecoded: Int? = nil
    ) {
        self.maximumBody = maximumBody
        self.maximumFrameDecoded = maximumFrameDecoded
        self.maximumDecoded = max(maximumDecoded ?? maximumFrameDecoded, maximumFrameDecoded)
    }
}

/// POST /v1/ingest, once the body is in memory: authenticate, rate-limit, decode, dedupe, store. Runs on the store's queue.
enum IngestService {
    /// - Parameter certificateGateway: the gateway a verified client certificate names (mTLS), nil without one. Either a
    ///   token or a certificate authenticates; when both are present they must name the same gateway.
    static func handle(
        store: CollectorStore, limiter: RateLimiter<Int64>, limits: IngestLimits, token: String?,
        claimedGateway: String?,
        certificateGateway: String? = nil, body: [UInt8], wireVersions: ClosedRange<UInt8> = Frame.versions,
        now: Int64
    ) throws -> (Answer, IngestSummary?) {
        let principal: Principal
        if let token {
            switch try store.authenticate(token: token, now: now) {
            case .success(let p): principal = p
            case .failure(let why): return (.refuse(.unauthorized(detail: "token \(why)")), nil)
            }
        } else if let certificateGateway {
            switch try store.authenticate(certificateGateway: certificateGateway) {
            case .success(let p): principal = p
            case .failure(let why):
                return (
                    .refuse(.unauthorized(detail: "client certificate names gateway '\(certificateGateway)': \(why)")),
                    nil
                )
            }
        } else {
            return (.refuse(.unauthorized(detail: "no bearer token")), nil)
        }
        guard case .gateway(let id, let name) = principal else {
            return (.refuse(.forbidden(detail: "a read token cannot ingest")), nil)
        }
        let credential = token != nil ? "token" : "client certificate"
        if let certificateGateway, certificateGateway != name {
            return (
                .refuse(
                    .forbidden(detail: "the client certificate names '\(certificateGateway)', the token is '\(name)'s")),
                nil
            )
        }
        if let claimedGateway, claimedGateway != name {
            return (
                .refuse(
                    .forbidden(
                        detail: "\(IngestHeader.gateway) names '\(claimedGateway)', the \(credential) is '\(name)'s")),
                nil
            )
        }
        if let wait = limiter.admit(id) {
            return (.refuse(.rateLimited(retryAfterSeconds: wait)), nil)
        }
        guard !body.isEmpty else { return (.refuse(.empty(detail: "the body holds no frames")), nil) }
        var lookupError: (any Error)?
        let result = IngestParser.parse(
            body, gateway: name, maximumFrameDecodedSize: limits.maximumFrameDecoded,
            maximumDecodedSize: limits.maximumDecoded, acceptedVersions: wireVersions
        ) { schemaID in
            do { return try store.dictionary(gateway: id, schemaID: schemaID) } catch {
                lookupError = error; return nil
            }
        }
        if let lookupError { throw lookupError }
        let parsed: IngestParser.Parsed
        switch result {
        case .success(let p): parsed = p
        case .failure(.otherGateway(let claimed, let frame)):
            return (
                .refuse(
                    .forbidden(detail: "frame \(frame) names gateway '\(claimed)', the \(credential) is '\(name)'s")),
                nil
            )
        case .failure(.decodedTooLarge(let frame, let limit)):
            return (
                .refuse(
                    .decodedTooLarge(
                        detail:
                            "the frames up to frame \(frame) decode to more than \(limit) bytes: send fewer batches per request",
                        maximumDecoded: limit)), nil
            )
        case .failure(.unsupportedVersion(let version, let frame)):
            return (
                .refuse(
                    .unsupportedVersion(
                        detail:
                            "frame \(frame) is wire format version \(version); this collector accepts \(WireVersions.render(wireVersions))",
                        accepted: Array(wireVersions))), nil
            )
        case .failure(.schemaUnknown(let ids, let batches)):
            return (.refuse(.schemaUnknown(schemaIDs: ids, batches: batches)), nil)
        case .failure(.malformed(let detail, let frame, let offset, let batch)):
            return (.refuse(.malformed(detail: detail, frame: frame, offset: offset, batch: batch)), nil)
        }
        let summary = try store.store(parsed, gateway: id, bytes: body.count, now: now)
        let accepted = IngestAccepted(
            batches: summary.batches.map {
                IngestAccepted.Batch(
                    identity: BatchIdentity(epoch: $0.epoch, sequence: $0.sequence), duplicate: $0.duplicate)
            }, readings: summary.readings, dictionaries: summary.dictionaries)
        let answer = Answer(status: IngestAccepted.status, body: accepted.json)
        return (answer, summary)
    }
}
