import TramBuiltinPoints
import Foundation
import Hummingbird
import Logging
import TramCollectorStore
import TramCore

/// The console's routes (docs/console.md): sign-in, sessions, the pages, the CSV, live refresh and the static files.
/// Read-only: nothing here writes anything but sessions.
public struct ConsoleApp: Sendable {
    static let cookieName = "tram_session"

    let executor: StoreExecutor
    let settings: ConsoleSettings
    let formatting: Formatting
    let signIns: RateLimiter<String>
    let logger: Logger
    /// Milliseconds since 1970 (tests move it to expire sessions).
    let now: @Sendable () -> Int64

    public init(
        executor: StoreExecutor, settings: ConsoleSettings, logger: Logger = Logger(label: "tram-collector.console"),
        now: @escaping @Sendable () -> Int64 = { TramClock.system.wallMilliseconds() }
    ) {
        self.executor = executor
        self.settings = settings
        formatting = Formatting(timeZone: settings.timeZone)
        signIns = RateLimiter(rate: settings.signInRate, burst: settings.signInBurst)
        self.logger = logger
        self.now = now
    }

    public func router() -> Router<ConsoleRequestContext> {
        let router = Router(context: ConsoleRequestContext.self)
        let app = self
        router.add(middleware: ConsoleHeadersMiddleware { request in app.notFound(request) })

        router.get("/static/console.css") { request, _ in
            app.asset(request, StaticAssets.css, Self.cssGzip, type: "text/css; charset=utf-8")
        }
        router.get("/static/console.js") { request, _ in
            app.asset(request, StaticAssets.javaScript, Self.javaScriptGzip, type: "text/javascript; charset=utf-8")
        }
        router.get("/login") { request, _ in
            ConsoleResponse.html(request, SignInPage.render(message: nil, app.formatting, now: app.now()))
        }
        router.post("/login") { request, context in try await app.signIn(request, context: context) }
        router.post("/logout") { request, _ in try await app.signOut(request) }

        router.get("/") { request, _ in
            try await app.signedIn(request) {
                let site = request.uri.queryParameters["site"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
                let now = app.now()
                let calendar = app.formatting.calendar
                let (gateways, sites) = try await app.executor.run { store in
                    (try store.fleet(site: site, calendar: calendar, now: now), try store.sites())
                }
                return ConsoleResponse.html(
                    request, FleetPage.render(gateways, sites: sites, site: site, app.formatting, now: now))
            }
        }
        router.get("/gateways/{gateway}") { request, context in
            try await app.signedIn(request) { try await app.gatewayPage(request, context: context) }
        }
        router.get("/gateways/{gateway}/devices/{device}") { request, context in
            try await app.signedIn(request) { try await app.devicePage(request, context: context) }
        }
        router.get("/problems") { request, _ in
            try await app.signedIn(request) {
                let now = app.now()
                let problems = try await app.executor.run { store in try store.problems(now: now) }
                return ConsoleResponse.html(request, ProblemsPage.render(problems, app.formatting, now: now))
            }
        }
        router.get("/report") { request, _ in
            try await app.signedIn(request) { try await app.report(request, csv: false) }
        }
        router.get("/report.csv") { request, _ in
            try await app.signedIn(request) { try await app.report(request, csv: true) }
        }
        router.get("/live/fleet") { request, _ in
            try await app.signedIn(request) {
                let site = request.uri.queryParameters["site"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
                let now = app.now()
                let calendar = app.formatting.calendar
                let gateways = try await app.executor.run { store in
                    try store.fleet(site: site, calendar: calendar, now: now)
                }
                return app.json(request, LiveJSON.fleet(gateways, app.formatting, now: now).rendered)
            }
        }
        router.get("/live/gateways/{gateway}/devices/{device}") { request, context in
            try await app.signedIn(request) {
                let (gateway, device) = (Self.parameter(context, "gateway"), Self.parameter(context, "device"))
                let now = app.now()
                guard
                    let points = try await app.executor.run({ store in
                        try store.points(gateway: gateway, device: device)
                    })
                else { return app.notFound(request) }
                return app.json(request, LiveJSON.points(points, now: now).rendered)
            }
        }
        return router
    }

    // MARK: Sessions

    /// Runs `body` for a request with a valid session; otherwise answers 401 with the sign-in page, never data.
    func signedIn(_ request: Request, _ body: () async throws -> Response) async throws -> Response {
        let now = self.now()
        let reader: String?
        if let cookie = request.cookies[Self.cookieName]?.value, !cookie.isEmpty {
            reader = try await executor.run { store in try store.session(cookie: cookie, now: now) }
        } else {
            reader = nil
        }
        guard reader != nil else {
            return ConsoleResponse.html(
                request, SignInPage.render(message: nil, formatting, now: now), status: .unauthorized)
        }
        do {
            return try await body()
        } catch {
            logger.error("console page failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return ConsoleResponse.html(
                request,
                Page(
                    title: "Error",
                    body: "<h1>Something went wrong</h1><p>The store could not answer: see the collector's log.</p>"
                )
                .render(formatting, now: now), status: .internalServerError)
        }
    }

    func signIn(_ request: Request, context: ConsoleRequestContext) async throws -> Response {
        let now = self.now()
        guard Self.sameOrigin(request) else {
            return ConsoleResponse.html(
                request, SignInPage.render(message: "Sign in from the console's own page.", formatting, now: now),
                status: .forbidden)
        }
        if let wait = signIns.admit(context.clientAddress) {
            logger.warning("console sign-in rate-limited", metadata: ["address": "\(context.clientAddress)"])
            var headers = HTTPFields()
            headers[.retryAfter] = String(wait)
            return ConsoleResponse.html(
                request,
                SignInPage.render(
                    message: "Too many sign-in attempts: wait \(wait) s and try again.", formatting, now: now),
                status: .tooManyRequests, headers: headers)
        }
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        let token = Self.formValue(String(buffer: body), "token")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let lifetime = settings.sessionMilliseconds
        let result: Result<CollectorStore.Session, CollectorStore.SessionFailure> =
            token.isEmpty
            ? .failure(.invalidToken)
            : try await executor.run { store in
                try store.createSession(token: token, lifetimeMilliseconds: lifetime, now: now)
            }
        switch result {
        case .success(let session):
            logger.info(
                "console sign-in", metadata: ["reader": "\(session.reader)", "address": "\(context.clientAddress)"])
            var headers = HTTPFields()
            headers[.location] = "/"
            headers[.setCookie] = sessionCookie(session.cookie, maxAge: lifetime / 1000)
            return ConsoleResponse.make(
                request, status: .seeOther, contentType: "text/plain", body: [], headers: headers)
        case .failure(let why):
            logger.warning(
                "console sign-in refused", metadata: ["address": "\(context.clientAddress)", "why": "\(why)"])
            let message =
                why == .notReadScope
                ? "That is a gateway's ingest token: the console needs a read token."
                : "That token is not a valid read token (unknown, expired or revoked)."
            return ConsoleResponse.html(
                request, SignInPage.render(message: message, formatting, now: now), status: .unauthorized)
        }
    }

    func signOut(_ request: Request) async throws -> Response {
        if let cookie = request.cookies[Self.cookieName]?.value, !cookie.isEmpty, Self.sameOrigin(request) {
            try await executor.run { store in try store.endSession(cookie: cookie) }
        }
        var headers = HTTPFields()
        headers[.location] = "/login"
        headers[.setCookie] = sessionCookie("", maxAge: 0)
        return ConsoleResponse.make(request, status: .seeOther, contentType: "text/plain", body: [], headers: headers)
    }

    func sessionCookie(_ value: String, maxAge: Int64) -> String {
        "\(Self.cookieName)=\(value); HttpOnly; SameSite=Strict; Path=/; Max-Age=\(maxAge)"
            + (settings.secure ? "; Secure" : "")
    }

    /// A POST is same-origin when its Origin header (browsers send one on every POST) names the Host it was sent to,
    /// or when it has none (a non-browser client).
    static func sameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        guard let schemeEnd = origin.range(of: "://") else { return false }
        return origin[schemeEnd.upperBound...].lowercased() == host.lowercased()
    }

    /// One field of an `application/x-www-form-urlencoded` body.
    static func formValue(_ body: String, _ name: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, decodeForm(parts[0]) == name else { continue }
            return decodeForm(parts[1])
        }
        return nil
    }

    static func decodeForm(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    static func parameter(_ context: ConsoleRequestContext, _ name: String) -> String {
        let raw = context.parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    // MARK: Pages

    func gatewayPage(_ request: Request, context: ConsoleRequestContext) async throws -> Response {
        let name = Self.parameter(context, "gateway")
        let now = self.now()
        let calendar = formatting.calendar
        let range = PlotRange.parse(
            range: request.uri.queryParameters["range"].map(String.init), from: nil, to: nil, formatting: formatting,
            now: now)
        let found = try await executor.run { store -> (ConsoleGateway, [ConsoleDevice], GatewayPage.Health?)? in
            guard let gateway = try store.consoleGateway(name, calendar: calendar, now: now),
                let devices = try store.devices(gateway: name)
            else { return nil }
            var health: GatewayPage.Health?
            if let points = try store.points(gateway: name, device: BuiltinDevice.gatewayName) {
                let plots = try points.filter { GatewayPage.plotted($0.name) }.map { point in
                    DevicePage.Plot(
                        point: point,
                        series: try store.plot(point: point.id, from: range.from, to: range.to, rate: point.counter))
                }
                health = GatewayPage.Health(points: points, plots: plots, range: range)
            }
            return (gateway, devices, health)
        }
        guard let (gateway, devices, health) = found else { return notFound(request) }
        return ConsoleResponse.html(
            request, GatewayPage.render(gateway, devices: devices, health: health, formatting, now: now))
    }

    func devicePage(_ request: Request, context: ConsoleRequestContext) async throws -> Response {
        let (gateway, device) = (Self.parameter(context, "gateway"), Self.parameter(context, "device"))
        let query = request.uri.queryParameters
        let now = self.now()
        let range = PlotRange.parse(
            range: query["range"].map(String.init), from: query["from"].map(String.init),
            to: query["to"].map(String.init), formatting: formatting, now: now)
        let rate = query["rate"] == "1"
        let found = try await executor.run { store -> ([ConsolePoint], [DevicePage.Plot])? in
            guard let points = try store.points(gateway: gateway, device: device) else { return nil }
            let plots = try points.map { point in
                DevicePage.Plot(
                    point: point,
                    series: try store.plot(point: point.id, from: range.from, to: range.to, rate: rate && point.counter)
                )
            }
            return (points, plots)
        }
        guard let (points, plots) = found else { return notFound(request) }
        return ConsoleResponse.html(
            request,
            DevicePage.render(
                gateway: gateway, device: device, points: points, plots: plots, range: range, rate: rate, formatting,
                now: now))
    }

    func report(_ request: Request, csv: Bool) async throws -> Response {
        let query = request.uri.queryParameters
        let now = self.now()
        let calendar = formatting.calendar
        let today = calendar.date(ofDay: calendar.dayNumber(now))
        let defaultPeriod = SiteReport.Period.month(year: today.year, month: today.month).description
        let periodText = query["period"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? defaultPeriod
        let requestedSite = query["site"].map(String.init)
        let period = SiteReport.Period(periodText)
        let (sites, report) = try await executor.run { store -> ([ConsoleSite], SiteReport?) in
            let sites = try store.sites()
            guard let site = requestedSite ?? sites.first?.name, let period else { return (sites, nil) }
            return (sites, try store.report(site: site, period: period, calendar: calendar, now: now))
        }
        let error = period == nil ? "The period is a month (YYYY-MM) or a year (YYYY)." : nil
        if csv {
            guard let report else {
                return ConsoleResponse.make(
                    request, status: .badRequest, contentType: "text/plain; charset=utf-8",
                    body: Array((error ?? "No such site.").utf8))
            }
            var headers = HTTPFields()
            let name = "tram-report-\(Self.fileNamePart(report.site))-\(report.period).csv"
            headers[.contentDisposition] = "attachment; filename=\"\(name)\""
            return ConsoleResponse.make(
                request, contentType: "text/csv; charset=utf-8", body: Array(ReportCSV.render(report).utf8),
                headers: headers)
        }
        return ConsoleResponse.html(
            request,
            ReportPage.render(
                report, sites: sites, site: report?.site ?? requestedSite, period: periodText, error: error, formatting,
                now: now))
    }

    /// Letters, digits, `-` and `_` of a site's name, for a download's file name.
    static func fileNamePart(_ text: String) -> String {
        let kept = text.unicodeScalars.filter {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
        }
        return kept.isEmpty ? "site" : String(String.UnicodeScalarView(kept))
    }

    // MARK: Answers

    func notFound(_ request: Request) -> Response {
        ConsoleResponse.html(
            request,
            Page(
                title: "Not found", body: "<h1>Not found</h1><p>Nothing here: <a href=\"/\">back to the fleet</a>.</p>"
            )
            .render(formatting, now: now()), status: .notFound)
    }

    func json(_ request: Request, _ text: String) -> Response {
        ConsoleResponse.make(request, contentType: "application/json", body: Array(text.utf8))
    }

    func asset(_ request: Request, _ text: String, _ compressed: [UInt8], type: String) -> Response {
        var headers = HTTPFields()
        headers[.cacheControl] = "max-age=300"
        return ConsoleResponse.make(
            request, contentType: type, body: Array(text.utf8), headers: headers, compressed: compressed)
    }

    static let cssGzip = ConsoleResponse.gzip(Array(StaticAssets.css.utf8))
    static let javaScriptGzip = ConsoleResponse.gzip(Array(StaticAssets.javaScript.utf8))
}
