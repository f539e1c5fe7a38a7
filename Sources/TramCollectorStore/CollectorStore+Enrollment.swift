import Foundation

/// Gateways and read tokens: enrollment, rotation, revocation and the gateway list (`tram-collector gateway …`, `token …`).
extension CollectorStore {
    static func validate(_ name: String) throws {
        guard (1...128).contains(name.count), !name.contains("/"),
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw StoreError.invalidName(name)
        }
    }

    /// Creates a gateway; returns its token (the only time it exists in clear).
    public func addGateway(_ name: String, now: Int64) throws -> String {
        try Self.validate(name)
        return try db.transaction {
            if try statement("SELECT id FROM gateways WHERE name = ?").first([.text(name)], { $0.int64(0) }) != nil {
                throw StoreError.gatewayExists(name)
            }
            try statement("INSERT INTO gateways(name, created_ms) VALUES (?, ?)").run([.text(name), .integer(now)])
            let id = db.lastInsertRowID
            let token = Tokens.generate(prefix: "tramgw")
            try insertToken(token, scope: "ingest", gateway: id, reader: nil, now: now)
            return token
        }
    }

    /// A new token for a gateway; its current tokens stay valid for `grace` milliseconds more.
    public func rotateGateway(_ name: String, graceMilliseconds: Int64, now: Int64) throws -> String {
        try db.transaction {
            let id = try gatewayID(name)
            try statement(
                """
                UPDATE tokens SET expires_ms = ?1 WHERE gateway = ?2 AND scope = 'ingest' AND revoked_ms IS NULL
                  AND (expires_ms IS NULL OR expires_ms > ?1)
                """
            ).run([.integer(now + graceMilliseconds), .integer(id)])
            let token = Tokens.generate(prefix: "tramgw")
            try insertToken(token, scope: "ingest", gateway: id, reader: nil, now: now)
            return token
        }
    }

    /// Revokes a gateway and every token it has: its requests get 401 from now on. Its data stays.
    public func revokeGateway(_ name: String, now: Int64) throws {
        try db.transaction {
            let id = try gatewayID(name)
            try statement("UPDATE gateways SET revoked_ms = ? WHERE id = ?").run([.integer(now), .integer(id)])
            try statement("UPDATE tokens SET revoked_ms = ? WHERE gateway = ? AND revoked_ms IS NULL").run([
                .integer(now), .integer(id),
            ])
        }
    }

    /// A token for the read API (read scope only: it cannot ingest).
    public func addReader(_ name: String, now: Int64) throws -> String {
        try Self.validate(name)
        return try db.transaction {
            let token = Tokens.generate(prefix: "tramrd")
            try insertToken(token, scope: "read", gateway: nil, reader: name, now: now)
            return token
        }
    }

    private func insertToken(_ token: String, scope: String, gateway: Int64?, reader: String?, now: Int64) throws {
        try statement("INSERT INTO tokens(hash, scope, gateway, reader, created_ms) VALUES (?, ?, ?, ?, ?)")
            .run([
                .text(Tokens.hash(token)), .text(scope), gateway.map { .integer($0) } ?? .null,
                reader.map { .text($0) } ?? .null, .integer(now),
            ])
    }

    private func gatewayID(_ name: String) throws -> Int64 {
        guard let id = try statement("SELECT id FROM gateways WHERE name = ?").first([.text(name)], { $0.int64(0) })
        else {
            throw StoreError.noSuchGateway(name)
        }
        return id
    }

    public struct GatewayInfo: Sendable, Equatable {
        public var name: String
        /// Set by `gateway add --site` / `gateway set-site` ('' for none).
        public var site: String
        public var createdMilliseconds: Int64
        public var revoked: Bool
        public var lastSeenMilliseconds: Int64?
        public var activeTokens: Int
    }

    public func gateways(now: Int64) throws -> [GatewayInfo] {
        try statement(
            """
            SELECT g.name, g.created_ms, g.revoked_ms IS NOT NULL, g.last_seen_ms, g.site,
              (SELECT count(*) FROM tokens t WHERE t.gateway = g.id AND t.revoked_ms IS NULL AND (t.expires_ms IS NULL OR t.expires_ms > ?))
            FROM gateways g ORDER BY g.name
            """
        ).rows([.integer(now)]) {
            GatewayInfo(
                name: $0.text(0), site: $0.text(4), createdMilliseconds: $0.int64(1), revoked: $0.int64(2) != 0,
                lastSeenMilliseconds: $0.optionalInt64(3), activeTokens: Int($0.int64(5)))
        }
    }
}
