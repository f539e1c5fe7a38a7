import TramJSON
import TramSchema

/// An ingest the collector refuses, one case per answer it sends; each body is `{"reason":…, …}` with the fields
/// below, in this order (docs/collector.md).
public enum IngestRefusal: Sendable, Equatable {
    /// 400 `empty`, with `detail`.
    case empty(detail: String)
    /// 401 `unauthorized`, with `detail`.
    case unauthorized(detail: String)
    /// 403 `forbidden`, with `detail`.
    case forbidden(detail: String)
    /// 409 `schema-unknown`: `schema_id` (the first), `schema_ids` (all, hex) and the `batches` that need them.
    case schemaUnknown(schemaIDs: [UInt64], batches: [BatchIdentity])
    /// 413 `too-large` for the body itself: `maximum`, the most bytes a body may have.
    case bodyTooLarge(maximum: Int)
    /// 413 `too-large` for what the frames decode to: `detail` and `maximum_decoded`.
    case decodedTooLarge(detail: String, maximumDecoded: Int)
    /// 415 `unsupported-media-type`, with `detail`.
    case unsupportedMediaType(detail: String)
    /// 422 `malformed`: `detail`, the `frame`'s index and byte `offset` in the body, and the `batch` when its header
    /// named one.
    case malformed(detail: String, frame: Int, offset: Int, batch: BatchIdentity?)
    /// 422 `unsupported-version`: a frame of a wire format version the collector does not accept (`detail`, and
    /// `accepted`, the versions it does). Nothing is malformed: the agent keeps the batch and pauses.
    case unsupportedVersion(detail: String, accepted: [UInt8])
    /// 429 `rate-limited`: `retry_after` seconds (also sent as `Retry-After`).
    case rateLimited(retryAfterSeconds: Int)
    /// 500 `store-error`, with `detail`.
    case storeError(detail: String)

    public var reason: IngestReason {
        switch self {
        case .empty: .empty
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .schemaUnknown: .schemaUnknown
        case .bodyTooLarge, .decodedTooLarge: .tooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .malformed: .malformed
        case .unsupportedVersion: .unsupportedVersion
        case .rateLimited: .rateLimited
        case .storeError: .storeError
        }
    }

    public var status: Int { reason.status }

    /// The `Retry-After` header's seconds, when the answer has one.
    public var retryAfterSeconds: Int? {
        if case .rateLimited(let seconds) = self { seconds } else { nil }
    }

    public var json: JSON {
        var members: [(String, JSON)] = [("reason", .string(reason.rawValue))]
        switch self {
        case .empty(let detail), .unauthorized(let detail), .forbidden(let detail), .unsupportedMediaType(let detail),
            .storeError(let detail):
            members.append(("detail", .string(detail)))
        case .schemaUnknown(let ids, let batches):
            members += [
                ("schema_id", ids.first.map { .string(SchemaIDText.encode($0)) } ?? .null),
                ("schema_ids", .array(ids.map { .string(SchemaIDText.encode($0)) })),
                ("batches", .array(batches.map(\.json))),
            ]
        case .bodyTooLarge(let maximum):
            members.append(("maximum", .int(Int64(maximum))))
        case .decodedTooLarge(let detail, let maximumDecoded):
            members += [("detail", .string(detail)), ("maximum_decoded", .int(Int64(maximumDecoded)))]
        case .malformed(let detail, let frame, let offset, let batch):
            members += [("detail", .string(detail)), ("frame", .int(Int64(frame))), ("offset", .int(Int64(offset)))]
            if let batch { members.append(("batch", batch.json)) }
        case .unsupportedVersion(let detail, let accepted):
            members += [("detail", .string(detail)), ("accepted", .array(accepted.map { .int(Int64($0)) }))]
        case .rateLimited(let seconds):
            members.append(("retry_after", .int(Int64(seconds))))
        }
        return .object(members)
    }

    /// Reads a refusal from its status and body; nil when the body is no collector refusal (not JSON, no known
    /// `reason`, or a `reason` that does not go with `status`).
    ///
    /// Tolerant inside a known refusal, as the agent must be with collectors older or newer than itself: a field
    /// that is missing or of another kind reads as empty (no detail, no ids, no batch), never as an error.
    public static func decode(status: Int, body: [UInt8]) -> IngestRefusal? {
        guard let json = try? JSON(parsing: body), let text = json["reason"]?.stringValue,
            let reason = IngestReason(rawValue: text), reason.status == status
        else { return nil }
        let detail = json["detail"]?.stringValue ?? ""
        switch reason {
        case .empty: return .empty(detail: detail)
        case .unauthorized: return .unauthorized(detail: detail)
        case .forbidden: return .forbidden(detail: detail)
        case .unsupportedMediaType: return .unsupportedMediaType(detail: detail)
        case .storeError: return .storeError(detail: detail)
        case .schemaUnknown:
            let ids = (json["schema_ids"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(SchemaIDText.decode) }
            let batches = (json["batches"]?.arrayValue ?? []).compactMap { try? BatchIdentity(json: $0) }
            return .schemaUnknown(schemaIDs: ids, batches: batches)
        case .tooLarge:
            if let maximum = json["maximum"]?.intValue { return .bodyTooLarge(maximum: maximum) }
            return .decodedTooLarge(detail: detail, maximumDecoded: json["maximum_decoded"]?.intValue ?? 0)
        case .malformed:
            return .malformed(
                detail: detail, frame: json["frame"]?.intValue ?? 0, offset: json["offset"]?.intValue ?? 0,
                batch: json["batch"].flatMap { try? BatchIdentity(json: $0) })
        case .unsupportedVersion:
            let accepted = (json["accepted"]?.arrayValue ?? []).compactMap { $0.intValue }.filter {
                (1...255).contains($0)
            }
            return .unsupportedVersion(detail: detail, accepted: accepted.map { UInt8($0) })
        case .rateLimited:
            return .rateLimited(retryAfterSeconds: json["retry_after"]?.intValue ?? 0)
        }
    }

    /// The top-level `reason` of any JSON answer (a collector's, or another sink's that follows the same habit).
    public static func reason(in body: [UInt8]) -> String? {
        (try? JSON(parsing: body))?["reason"]?.stringValue
    }
}
