import TramJSON

/// Any answer to `POST /v1/ingest`: accepted (200) or refused. The collector encodes it, the uplink decodes it.
public enum IngestAnswer: Sendable, Equatable {
    case accepted(IngestAccepted)
    case refused(IngestRefusal)

    public var status: Int {
        switch self {
        case .accepted: IngestAccepted.status
        case .refused(let refusal): refusal.status
        }
    }

    public var json: JSON {
        switch self {
        case .accepted(let accepted): accepted.json
        case .refused(let refusal): refusal.json
        }
    }

    /// The answer a status and body hold; nil when they are none the collector sends.
    public static func decode(status: Int, body: [UInt8]) -> IngestAnswer? {
        if status == IngestAccepted.status {
            guard let json = try? JSON(parsing: body), let accepted = try? IngestAccepted(json: json) else {
                return nil
            }
            return .accepted(accepted)
        }
        return IngestRefusal.decode(status: status, body: body).map(IngestAnswer.refused)
    }
}
