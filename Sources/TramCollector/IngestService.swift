import TramCollectorStore
import TramCompression
import TramSchema

/// An HTTP answer, before Hummingbird: status, JSON body, Retry-After.
public struct Answer: Sendable, Equatable {
    public var status: Int
    public var body: JSON
    /// Seconds for a Retry-After header.
    public var retryAfter: Int?
    /// For /metrics: why a request was refused (nil when it was not).
    public var reason: String?

    static func reject(_ status: Int, _ reason: String, _ extra: [(String, JSON)] = [], retryAfter: Int? = nil) -> Answer {
        Answer(status: status, body: .object([("reason", .string(reason))] + extra), retryAfter: retryAfter, reason: reason)
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

    public init(maximumBody: Int = 8 << 20, maximumFrameDecoded: Int = FrameCodec.maximumPayload, maximumDecoded: Int? = nil) {
        self.maximumBody = maximumBody
        self.maximumFrameDecoded = maximumFrameDecoded
        self.maximumDecoded = max(maximumDecoded ?? maximumFrameDecoded, maximumFrameDecoded)
    }
}

/// POST /v1/ingest, once the body is in memory: authenticate, rate-limit, decode, dedupe, store. Runs on the store's queue.
enum IngestService {
    /// - Parameter certificateGateway: the gateway a verified client certificate names (mTLS), nil without one. Either a
    ///   token or a certificate authenticates; when both are present they must name the same gateway.
    static func handle(store: CollectorStore, limiter: RateLimiter, limits: IngestLimits, token: String?, claimedGateway: String?,
                       certificateGateway: String? = nil, body: [UInt8], now: Int64) throws -> (Answer, IngestSummary?) {
        let principal: Principal
        if let token {
            switch try store.authenticate(token: token, now: now) {
            case .success(let p): principal = p
            case .failure(let why): return (.reject(401, "unauthorized", [("detail", .string("token \(why)"))]), nil)
            }
        } else if let certificateGateway {
            switch try store.authenticate(certificateGateway: certificateGateway) {
            case .success(let p): principal = p
            case .failure(let why):
                return (.reject(401, "unauthorized", [("detail", .string("client certificate names gateway '\(certificateGateway)': \(why)"))]), nil)
            }
        } else {
            return (.reject(401, "unauthorized", [("detail", .string("no bearer token"))]), nil)
        }
        guard case .gateway(let id, let name) = principal else {
            return (.reject(403, "forbidden", [("detail", .string("a read token cannot ingest"))]), nil)
        }
        let credential = token != nil ? "token" : "client certificate"
        if let certificateGateway, certificateGateway != name {
            return (.reject(403, "forbidden", [("detail", .string("the client certificate names '\(certificateGateway)', the token is '\(name)'s"))]), nil)
        }
        if let claimedGateway, claimedGateway != name {
            return (.reject(403, "forbidden", [("detail", .string("Tram-Gateway names '\(claimedGateway)', the \(credential) is '\(name)'s"))]), nil)
        }
        if let wait = limiter.admit(id) {
            return (.reject(429, "rate-limited", [("retry_after", .int(Int64(wait)))], retryAfter: wait), nil)
        }
        guard !body.isEmpty else { return (.reject(400, "empty", [("detail", .string("the body holds no frames"))]), nil) }
        var lookupError: (any Error)?
        let result = IngestParser.parse(body, gateway: name, maximumFrameDecodedSize: limits.maximumFrameDecoded,
                                        maximumDecodedSize: limits.maximumDecoded) { schemaID in
            do { return try store.dictionary(gateway: id, schemaID: schemaID) } catch { lookupError = error; return nil }
        }
        if let lookupError { throw lookupError }
        let parsed: IngestParser.Parsed
        switch result {
        case .success(let p): parsed = p
        case .failure(.otherGateway(let claimed, let frame)):
            return (.reject(403, "forbidden", [("detail", .string("frame \(frame) names gateway '\(claimed)', the \(credential) is '\(name)'s"))]), nil)
        case .failure(.decodedTooLarge(let frame, let limit)):
            return (.reject(413, "too-large", [
                ("detail", .string("the frames up to frame \(frame) decode to more than \(limit) bytes: send fewer batches per request")),
                ("maximum_decoded", .int(Int64(limit))),
            ]), nil)
        case .failure(.schemaUnknown(let ids, let batches)):
            return (.reject(409, "schema-unknown", [
                ("schema_id", .string(hex(ids[0]))),
                ("schema_ids", .array(ids.map { .string(hex($0)) })),
                ("batches", .array(batches.map { .object([("epoch", .uint($0.epoch)), ("sequence", .uint($0.sequence))]) })),
            ]), nil)
        case .failure(.malformed(let detail, let frame, let offset, let batch)):
            var extra: [(String, JSON)] = [("detail", .string(detail)), ("frame", .int(Int64(frame))), ("offset", .int(Int64(offset)))]
            if let batch { extra.append(("batch", .object([("epoch", .uint(batch.epoch)), ("sequence", .uint(batch.sequence))]))) }
            return (.reject(422, "malformed", extra), nil)
        }
        let summary = try store.store(parsed, gateway: id, bytes: body.count, now: now)
        let answer = Answer(status: 200, body: .object([
            ("stored", .array(summary.batches.filter { !$0.duplicate }.map { .uint($0.sequence) })),
            ("duplicates", .array(summary.batches.filter(\.duplicate).map { .uint($0.sequence) })),
            ("batches", .array(summary.batches.map {
                .object([("epoch", .uint($0.epoch)), ("sequence", .uint($0.sequence)), ("duplicate", .bool($0.duplicate))])
            })),
            ("readings", .int(Int64(summary.readings))),
            ("dictionaries", .int(Int64(summary.dictionaries))),
        ]))
        return (answer, summary)
    }
}
