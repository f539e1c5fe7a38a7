import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TramCollectorStore
import TramCompression

@testable import TramCollectorConsole

/// The routes through Hummingbird's router: sign-in, sessions, 401 without one, headers, gzip.
@Suite struct ConsoleHTTPTests {
    final class Clock: @unchecked Sendable {
        var milliseconds: Int64 = 1_741_000_000_000
    }

    func withConsole(
        burst: Double = 10,
        _ body: @Sendable (ConsoleFixture, Clock, String, any TestClientProtocol) async throws -> Void
    ) async throws {
        let f = try ConsoleFixture()
        let clock = Clock()
        let g = try f.gateway("gw-1", site: "north", lastSeen: clock.milliseconds - 1000, batchAge: 10_000, clock: 1)
        let p = try f.point(try f.device(g, "meter"), "power", unit: "kW")
        try f.readings(p, [.init(time: clock.milliseconds - 5000, value: 12.345678901234567)])
        let token = try f.store.addReader("operator", now: 0)
        nonisolated(unsafe) let fixture = f
        let console = ConsoleApp(
            executor: StoreExecutor(store: f.store),
            settings: ConsoleSettings(sessionMilliseconds: 3_600_000, signInRate: 0.001, signInBurst: burst),
            now: { clock.milliseconds })
        let app = Application(router: console.router())
        try await app.test(.router) { client in try await body(fixture, clock, token, client) }
    }

    static func signIn(_ client: any TestClientProtocol, _ token: String) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await client.execute(
            uri: "/login", method: .post, headers: headers,
            body: ByteBuffer(
                string: "token=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")))
    }

    static func cookie(_ response: TestResponse) -> String? {
        guard let set = response.headers[.setCookie] else { return nil }
        return set.split(separator: ";").first.map(String.init)
    }

    @Test func withoutASessionEveryDataRouteAnswers401WithTheSignInPage() async throws {
        try await withConsole { _, _, _, client in
            for path in [
                "/", "/gateways/gw-1", "/gateways/gw-1/devices/meter", "/problems", "/report", "/report.csv?site=north",
                "/live/fleet", "/live/gateways/gw-1/devices/meter",
            ] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .unauthorized, "\(path)")
                let body = String(buffer: response.body)
                #expect(body.contains("<form id=\"sign-in\" method=\"post\" action=\"/login\">"), "\(path)")
                #expect(!body.contains("gw-1") && !body.contains("12.345"), "\(path)")
                #expect(response.headers[.contentSecurityPolicy] == ConsoleResponse.contentSecurityPolicy)
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
            }
            let css = try await client.execute(uri: "/static/console.css", method: .get)
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
        }
    }

    @Test func signInSetsTheCookieAndTheDevicePageShowsTheStoredValue() async throws {
        try await withConsole { _, _, token, client in
            let wrong = try await Self.signIn(client, "tramrd_wrong")
            #expect(wrong.status == .unauthorized)
            #expect(String(buffer: wrong.body).contains("<p id=\"sign-in-error\""))
            #expect(wrong.headers[.setCookie] == nil)

            let response = try await Self.signIn(client, token)
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/")
            let set = try #require(response.headers[.setCookie])
            #expect(set.hasSuffix("; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600"))
            let cookie = try #require(Self.cookie(response))
            var headers = HTTPFields()
            headers[.cookie] = cookie
            let device = try await client.execute(
                uri: "/gateways/gw-1/devices/meter?range=1h", method: .get, headers: headers)
            #expect(device.status == .ok)
            let html = String(buffer: device.body)
            #expect(
                html.contains(
                    "<td class=\"value\" data-label=\"Value\" data-value=\"12.345678901234567\">12.345678901234567</td>"
                ))
            let fleet = String(buffer: try await client.execute(uri: "/", method: .get, headers: headers).body)
            #expect(
                fleet.contains(
                    "<tr class=\"gateway\" data-gateway=\"gw-1\" data-site=\"north\" data-state=\"reporting\" data-online=\"1\" data-degraded=\"0\" data-offline=\"0\""
                ))
            let live = String(
                buffer: try await client.execute(
                    uri: "/live/gateways/gw-1/devices/meter", method: .get, headers: headers
                ).body)
            #expect(live.contains("\"point\":\"power\",\"value\":\"12.345678901234567\""))

            headers[.acceptEncoding] = "gzip, deflate"
            let compressed = try await client.execute(uri: "/", method: .get, headers: headers)
            #expect(compressed.headers[.contentEncoding] == "gzip")
            #expect(compressed.body.readableBytes < fleet.utf8.count)

            let out = try await client.execute(uri: "/logout", method: .post, headers: headers)
            #expect(out.status == .seeOther)
            #expect(try await client.execute(uri: "/", method: .get, headers: headers).status == .unauthorized)
        }
    }

    @Test func sessionsExpireAndRevocationEndsThem() async throws {
        try await withConsole { f, clock, token, client in
            var headers = HTTPFields()
            headers[.cookie] = try #require(Self.cookie(try await Self.signIn(client, token)))
            #expect(try await client.execute(uri: "/problems", method: .get, headers: headers).status == .ok)
            clock.milliseconds += 3_600_000
            #expect(try await client.execute(uri: "/problems", method: .get, headers: headers).status == .unauthorized)
            headers[.cookie] = try #require(Self.cookie(try await Self.signIn(client, token)))
            #expect(try await client.execute(uri: "/problems", method: .get, headers: headers).status == .ok)
            try f.store.revokeReader("operator", now: clock.milliseconds)
            #expect(try await client.execute(uri: "/problems", method: .get, headers: headers).status == .unauthorized)
        }
    }

    @Test func signInAttemptsAreRateLimited() async throws {
        try await withConsole(burst: 3) { _, _, token, client in
            for _ in 0..<3 { #expect(try await Self.signIn(client, "tramrd_wrong").status == .unauthorized) }
            let limited = try await Self.signIn(client, token)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    @Test func aCrossOriginSignInIsRefused() async throws {
        try await withConsole { _, _, token, client in
            var headers = HTTPFields()
            headers[.contentType] = "application/x-www-form-urlencoded"
            headers[.origin] = "https://evil.example"
            let response = try await client.execute(
                uri: "/login", method: .post, headers: headers, body: ByteBuffer(string: "token=\(token)"))
            #expect(response.status == .forbidden)
        }
    }

    @Test func theReportCSVIsAnAttachment() async throws {
        try await withConsole { _, _, token, client in
            var headers = HTTPFields()
            headers[.cookie] = try #require(Self.cookie(try await Self.signIn(client, token)))
            let csv = try await client.execute(
                uri: "/report.csv?site=north&period=2025-03", method: .get, headers: headers)
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition] == "attachment; filename=\"tram-report-north-2025-03.csv\"")
            #expect(
                String(buffer: csv.body).hasPrefix(
                    "site,gateway,device,points,readings,bytes,availability_percent,days_with_data\r\n"))
        }
    }
}
