/// Who a bearer token belongs to.
public enum Principal: Equatable, Sendable {
    case gateway(id: Int64, name: String)
    case reader(name: String)
}

/// Which principal a bearer token or a verified client certificate is.
extension CollectorStore {
    public enum AuthFailure: Error, Equatable, Sendable {
        case unknown
        case expired
        case revoked
    }

    public func authenticate(token: String, now: Int64) throws -> Result<Principal, AuthFailure> {
        let row = try statement(
            """
            SELECT t.scope, t.expires_ms, t.revoked_ms, t.reader, g.id, g.name, g.revoked_ms
            FROM tokens t LEFT JOIN gateways g ON g.id = t.gateway WHERE t.hash = ?
            """
        ).first([.text(Tokens.hash(token))]) { s in
            (
                scope: s.text(0), expires: s.optionalInt64(1), revoked: s.optionalInt64(2), reader: s.optionalText(3),
                gateway: s.optionalInt64(4), name: s.optionalText(5), gatewayRevoked: s.optionalInt64(6)
            )
        }
        guard let row else { return .failure(.unknown) }
        if row.revoked != nil || row.gatewayRevoked != nil { return .failure(.revoked) }
        if let expires = row.expires, expires <= now { return .failure(.expired) }
        if row.scope == "read", let reader = row.reader { return .success(.reader(name: reader)) }
        if row.scope == "ingest", let id = row.gateway, let name = row.name {
            return .success(.gateway(id: id, name: name))
        }
        return .failure(.unknown)
    }

    /// The gateway a verified client certificate names, as a principal: unknown and revoked gateways fail as tokens do.
    public func authenticate(certificateGateway name: String) throws -> Result<Principal, AuthFailure> {
        let row = try statement("SELECT id, revoked_ms FROM gateways WHERE name = ?").first([.text(name)]) { s in
            (id: s.int64(0), revoked: s.optionalInt64(1))
        }
        guard let row else { return .failure(.unknown) }
        if row.revoked != nil { return .failure(.revoked) }
        return .success(.gateway(id: row.id, name: name))
    }
}
