import TramIngestProtocol

/// What a sink speaks: decides which refusals mean "this batch is malformed".
public enum SinkKind: Sendable, Equatable {
    /// tram-collector (docs/collector.md): 422 means malformed; 400 means an empty body (a client bug).
    case collector
    /// An Influx line-protocol receiver: 400 means the lines were refused.
    case lineProtocol
}

/// An upload's outcome, reduced to what the decision needs.
public enum DeliveryAnswer: Sendable, Equatable {
    /// An HTTP answer, with the JSON `reason` when the body had one.
    case http(status: Int, reason: String? = nil, retryAfterSeconds: Int? = nil)
    /// No HTTP answer at all.
    case failed(TransportFailure)
}

/// What the uplink does next with the batches of one upload.
public enum DeliveryAction: Sendable, Equatable {
    /// The sink holds them: acknowledge in the spool.
    case acknowledge
    /// A passing problem: release them and retry after a backoff (at least `retryAfterSeconds`).
    case retry(retryAfterSeconds: Int?)
    /// 413 for a multi-batch upload: release them and send fewer batches per upload.
    case split
    /// The sink lacks a dictionary: send it, then the batches again.
    case sendDictionaries
    /// A configuration problem (credentials, URL, TLS, media type): keep every batch, report loudly,
    /// and try again at the pause interval until it works.
    case pause(String)
    /// The sink says this batch itself is malformed: set it aside so it never blocks the queue.
    case deadLetter
}

/// Maps an answer to an action: the uplink's delivery semantics (docs/uplink.md) as one table.
public enum DeliveryDecision {
    /// - Parameter batches: how many batches the upload carried (a single batch is never split).
    public static func decide(_ answer: DeliveryAnswer, sink: SinkKind, batches: Int) -> DeliveryAction {
        switch answer {
        case .failed(.timeout), .failed(.connection):
            return .retry(retryAfterSeconds: nil)
        case .failed(.tls(let detail)):
            return .pause("TLS refused: \(detail); check the CA file, the client certificate and the server's name")
        case .failed(.configuration(let detail)):
            return .pause("transport misconfigured: \(detail)")
        case .http(let status, let reason, let retryAfter):
            switch status {
            case 200..<300:
                return .acknowledge
            case 429, 500..<600, 408:
                return .retry(retryAfterSeconds: retryAfter)
            case 413:
                return batches > 1
                    ? .split
                    : .pause(
                        "one batch is larger than the sink accepts (413): raise its body limit or seal smaller batches")
            case 409 where sink == .collector && reason == IngestReason.schemaUnknown.rawValue:
                return .sendDictionaries
            case 422 where sink == .collector && reason == IngestReason.unsupportedVersion.rawValue:
                // Not malformed: the collector takes an older wire format. Nothing is set aside.
                return .pause(
                    "the collector does not accept this wire format version (422 unsupported-version): upgrade it; every batch is kept"
                )
            case 422 where sink == .collector:
                return .deadLetter
            case 400 where sink == .lineProtocol:
                return .deadLetter
            case 401:
                return .pause(
                    "the sink refused the credentials (401\(reason.map { " \($0)" } ?? "")): check the token file or client certificate"
                )
            case 403:
                return .pause(
                    "the sink forbids this gateway (403\(reason.map { " \($0)" } ?? "")): check the gateway id and its credentials"
                )
            case 404:
                return .pause("the sink's URL is wrong (404)")
            case 407:
                return .pause("a proxy wants credentials (407)")
            case 415:
                return .pause("the sink refuses the content type (415): is the URL a Tram collector?")
            default:
                return .pause("unexpected answer \(status)\(reason.map { " (\($0))" } ?? ""): keeping every batch")
            }
        }
    }
}
