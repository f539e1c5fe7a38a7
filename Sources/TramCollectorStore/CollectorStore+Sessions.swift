/// Console sessions and the read tokens they are opened with (docs/console.md, "Security").
///
/// A session is a random 32-byte cookie; the store keeps only its SHA-256, the token it was opened with and its
/// expiry. Every check joins the token, so revoking a read token ends its sessions at once.
extension CollectorStore {
    public struct Session: Sendable, Equatable {
        /// The cookie's value (only here, never stored).
        public var cookie: String
        public var reader: String
        public var expiresMilliseconds: Int64
    }

    public enum SessionFailure: Error, Equatable, Sendable {
        /// Unknown, expired or revoked: the same answer to the browser.
        case invalidToken
        /// A gateway's ingest token: it cannot read.
        case notReadScope
    }

    /// Opens a session with a read token, for `lifetime` milliseconds; drops expired sessions first.
    public func createSession(token: String, lifetimeMilliseconds: Int64, now: Int64) throws
        -> Result<Session, SessionFailure>
    {
        switch try authenticate(token: token, now: now) {
        case .failure: return .failure(.invalidToken)
        case .success(.gateway): return .failure(.notReadScope)
        case .success(.reader(let reader)):
            let cookie = Tokens.generate(prefix: "tramss")
            let expires = now + max(lifetimeMilliseconds, 1)
            try db.transaction {
                try expireSessions(now: now)
                try statement("INSERT INTO sessions(hash, token, created_ms, expires_ms) VALUES (?, ?, ?, ?)").run([
                    .text(Tokens.hash(cookie)), .text(Tokens.hash(token)), .integer(now), .integer(expires),
                ])
            }
            return .success(Session(cookie: cookie, reader: reader, expiresMilliseconds: expires))
        }
    }

    /// The reader a session cookie belongs to, while the session has not expired and its token is valid; else nil.
    public func session(cookie: String, now: Int64) throws -> String? {
        try consoleFirst(
            """
            SELECT t.reader FROM sessions s JOIN tokens t ON t.hash = s.token
            WHERE s.hash = ?1 AND s.expires_ms > ?2 AND t.scope = 'read' AND t.revoked_ms IS NULL
              AND (t.expires_ms IS NULL OR t.expires_ms > ?2)
            """, [.text(Tokens.hash(cookie)), .integer(now)], { $0.text(0) })
    }

    /// Ends a session (sign out).
    public func endSession(cookie: String) throws {
        try statement("DELETE FROM sessions WHERE hash = ?").run([.text(Tokens.hash(cookie))])
    }

    /// Deletes sessions past their expiry; returns how many.
    @discardableResult
    public func expireSessions(now: Int64) throws -> Int {
        let before =
            try statement("SELECT count(*) FROM sessions WHERE expires_ms <= ?").first([.integer(now)]) {
                Int($0.int64(0))
            } ?? 0
        try statement("DELETE FROM sessions WHERE expires_ms <= ?").run([.integer(now)])
        return before
    }

    public struct ReadToken: Sendable, Equatable {
        public var name: String
        public var createdMilliseconds: Int64
        public var revokedMilliseconds: Int64?
        public var expiresMilliseconds: Int64?
        /// Console sessions open with it now.
        public var sessions: Int
    }

    /// Every read token (`token list`), by name then creation.
    public func readTokens(now: Int64) throws -> [ReadToken] {
        try statement(
            """
            SELECT t.reader, t.created_ms, t.revoked_ms, t.expires_ms,
              (SELECT count(*) FROM sessions s WHERE s.token = t.hash AND s.expires_ms > ?)
            FROM tokens t WHERE t.scope = 'read' ORDER BY t.reader, t.created_ms
            """
        ).rows([.integer(now)]) { s in
            ReadToken(
                name: s.text(0), createdMilliseconds: s.int64(1), revokedMilliseconds: s.optionalInt64(2),
                expiresMilliseconds: s.optionalInt64(3), sessions: Int(s.int64(4)))
        }
    }

    /// Revokes every read token named `name` and ends their sessions; returns how many tokens it revoked.
    @discardableResult
    public func revokeReader(_ name: String, now: Int64) throws -> Int {
        try db.transaction {
            let tokens = try statement(
                "SELECT hash FROM tokens WHERE scope = 'read' AND reader = ? AND revoked_ms IS NULL"
            )
            .rows([.text(name)]) { $0.text(0) }
            guard !tokens.isEmpty else { throw StoreError.noSuchReader(name) }
            for hash in tokens {
                try statement("UPDATE tokens SET revoked_ms = ? WHERE hash = ?").run([.integer(now), .text(hash)])
                try statement("DELETE FROM sessions WHERE token = ?").run([.text(hash)])
            }
            return tokens.count
        }
    }
}
