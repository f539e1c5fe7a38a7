/// The `reason` of a refused ingest, and the status it comes with. What the agent does on each is its uplink's
/// `DeliveryDecision`; the meaning is the contract's.
public enum IngestReason: String, Sendable, CaseIterable {
    /// 400: the body holds no frames (a client bug; the agent pauses).
    case empty
    /// 401: no token, or one that is unknown, revoked or expired; or a client certificate of no known gateway.
    case unauthorized
    /// 403: the credential may not ingest for this gateway (a read token; another gateway's name in `Tram-Gateway`
    /// or in a frame).
    case forbidden
    /// 409: a batch's dictionary is unknown; send the dictionaries in `schema_ids`, then the same batches again.
    case schemaUnknown = "schema-unknown"
    /// 413: the body, or what its frames decode to, is larger than the collector takes: send fewer batches at a time.
    case tooLarge = "too-large"
    /// 415: the body is not `application/x-tram-frames`.
    case unsupportedMediaType = "unsupported-media-type"
    /// 422: a frame is malformed; the one answer after which an agent may set a batch aside (the one in `batch`).
    case malformed
    /// 422: a frame's wire format version is not one the collector accepts (`accepted` lists them); nothing is
    /// malformed, so the agent keeps the batch and pauses.
    case unsupportedVersion = "unsupported-version"
    /// 429: this gateway sends too often; retry after `retry_after` seconds.
    case rateLimited = "rate-limited"
    /// 500: the store failed and nothing was committed; retry with backoff.
    case storeError = "store-error"

    /// The HTTP status this reason is sent with.
    public var status: Int {
        switch self {
        case .empty: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .schemaUnknown: 409
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .malformed, .unsupportedVersion: 422
        case .rateLimited: 429
        case .storeError: 500
        }
    }
}
