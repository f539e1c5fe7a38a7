import Testing
@testable import TramCollectorStore

@Suite struct SessionTests {
    @Test func aSessionLastsItsLifetimeThenExpires() throws {
        let f = try ConsoleFixture()
        let token = try f.store.addReader("operator", now: 0)
        let session = try f.store.createSession(token: token, lifetimeMilliseconds: 3_600_000, now: 1_000).get()
        #expect(session.reader == "operator")
        #expect(session.expiresMilliseconds == 3_601_000)
        #expect(try f.store.session(cookie: session.cookie, now: 3_600_999) == "operator")
        #expect(try f.store.session(cookie: session.cookie, now: 3_601_000) == nil)
        #expect(try f.store.session(cookie: session.cookie + "x", now: 2_000) == nil)
        // Only the cookie's hash is stored.
        #expect(try f.scalar("SELECT count(*) FROM sessions WHERE hash = ?", [.text(session.cookie)]) == 0)
        #expect(try f.store.expireSessions(now: 3_601_000) == 1)
        #expect(try f.scalar("SELECT count(*) FROM sessions") == 0)
    }

    @Test func revokingTheTokenEndsItsSessionsAtOnce() throws {
        let f = try ConsoleFixture()
        let token = try f.store.addReader("operator", now: 0)
        let other = try f.store.addReader("manager", now: 0)
        let a = try f.store.createSession(token: token, lifetimeMilliseconds: 3_600_000, now: 0).get()
        let b = try f.store.createSession(token: token, lifetimeMilliseconds: 3_600_000, now: 0).get()
        let c = try f.store.createSession(token: other, lifetimeMilliseconds: 3_600_000, now: 0).get()
        #expect(try f.store.readTokens(now: 1).map(\.sessions) == [1, 2])
        #expect(try f.store.revokeReader("operator", now: 10) == 1)
        #expect(try f.store.session(cookie: a.cookie, now: 11) == nil)
        #expect(try f.store.session(cookie: b.cookie, now: 11) == nil)
        #expect(try f.store.session(cookie: c.cookie, now: 11) == "manager")
        #expect(try f.store.createSession(token: token, lifetimeMilliseconds: 1000, now: 12) == .failure(.invalidToken))
        let tokens = try f.store.readTokens(now: 12)
        #expect(tokens.map(\.name) == ["manager", "operator"])
        #expect(tokens[1].revokedMilliseconds == 10)
        #expect(throws: StoreError.noSuchReader("operator")) { try f.store.revokeReader("operator", now: 13) }
    }

    @Test func onlyReadTokensOpenSessions() throws {
        let f = try ConsoleFixture()
        let ingest = try f.store.addGateway("gw", site: "north", now: 0)
        #expect(try f.store.createSession(token: ingest, lifetimeMilliseconds: 1000, now: 1) == .failure(.notReadScope))
        #expect(
            try f.store.createSession(token: "tramrd_nope", lifetimeMilliseconds: 1000, now: 1)
                == .failure(.invalidToken))
    }

    @Test func sitesAreSetByTheOperator() throws {
        let f = try ConsoleFixture()
        _ = try f.store.addGateway("gw-1", site: "north", now: 0)
        _ = try f.store.addGateway("gw-2", site: "north", now: 0)
        try f.store.setSite("gw-2", "south")
        #expect(try f.store.sites() == [.init(name: "north", gateways: 1), .init(name: "south", gateways: 1)])
        #expect(try f.store.gateways(now: 0).map(\.site) == ["north", "south"])
        #expect(throws: StoreError.noSuchGateway("gw-3")) { try f.store.setSite("gw-3", "x") }
        #expect(throws: StoreError.invalidName("a/b")) { try f.store.setSite("gw-1", "a/b") }
    }
}
