import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import TramCollectorRelay
@_spi(Benchmark) import TramCollectorStore
import TramCore
import TramIngestProtocol
import TramSchema

/// The collector's HTTP server: ingest, read API, /health and /metrics.
public struct CollectorServer: Sendable {
    public struct Configuration: Sendable {
        public var databasePath: String
        public var host: String
        public var port: Int
        public var limits: IngestLimits
        /// Ingest requests a second per gateway (0: no limit) and the burst above that rate.
        public var rate: Double
        public var burst: Double
        public var durability: Durability
        /// HTTPS, and client certificates when it has a client CA. nil: plain HTTP.
        public var tls: CollectorTLS?
        /// Deletes old readings. nil: keep them forever.
        public var retention: Retention?
        /// Time-series targets fed from the store (`--relay-influx`); see Relay.swift.
        public var relays: [RelayTarget] = []
        /// Ingest maintains the rollups and latest states (always, but for the benchmark measuring what they cost).
        @_spi(Benchmark) public var rollups = true
        /// The wire format versions ingest accepts and advertises (`--wire-versions`): 1...2, or 1...1 to hold agents'
        /// version-2 batches back during a staged upgrade (docs/wire-format.md, "Who may receive version 2").
        public var wireVersions: ClosedRange<UInt8> = Frame.versions
        /// The console for people on its own listener (`--console-listen`); nil: no console.
        public var console: ConsoleListener?

        /// This configuration with relays to these targets.
        public func relaying(_ targets: [RelayTarget]) -> Configuration {
            var copy = self
            copy.relays = targets
            return copy
        }

        public init(
            databasePath: String, host: String = "127.0.0.1", port: Int = 8480, limits: IngestLimits = .init(),
            rate: Double = 20, burst: Double = 40, durability: Durability = .full, tls: CollectorTLS? = nil,
            retention: Retention? = nil
        ) {
            self.tls = tls
            self.retention = retention
            self.databasePath = databasePath
            self.host = host
            self.port = port
            self.limits = limits
            self.rate = rate
            self.burst = burst
            self.durability = durability
        }
    }

    public let configuration: Configuration
    public let metrics = CollectorMetrics()
    let executor: StoreExecutor
    let limiter: RateLimiter<Int64>
    let logger: Logger
    let relays: [Relay]

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "tram-collector")) throws {
        self.configuration = configuration
        let store = try CollectorStore(path: configuration.databasePath, durability: configuration.durability)
        store.maintainsRollups = configuration.rollups
        executor = StoreExecutor(store: store)
        limiter = RateLimiter(rate: configuration.rate, burst: configuration.burst)
        self.logger = logger
        let executor = executor
        relays = configuration.relays.map { Relay(target: $0, executor: executor, logger: logger) }
    }

    /// Serves until the task is cancelled (or SIGTERM/SIGINT). `onListening` gets the bound port (useful with port 0),
    /// `onConsoleListening` the console's. With `retention`, a pass runs at start and every interval alongside the
    /// server, and stops with it; so does the console.
    public func run(
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        onConsoleListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let server: HTTPServerBuilder =
            try configuration.tls.map { try HTTPServerBuilder.tls(.http1(), tlsConfiguration: $0.tlsConfiguration()) }
            ?? .http1()
        let app = Application(
            router: makeRouter(),
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        // The relays run beside the server (off the cooperative pool for their blocking work) and stop with it.
        let relayTasks = relays.map { relay in Task { await relay.run() } }
        defer { for task in relayTasks { task.cancel() } }
        let console = try configuration.console.map {
            try $0.application(executor: executor, logger: logger, onListening: onConsoleListening)
        }
        guard configuration.retention != nil || console != nil else {
            try await app.runService()
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            if let console { group.addTask { try await console.runService() } }
            if let retention = configuration.retention { group.addTask { await self.retentionLoop(retention) } }
            // Either server returns on SIGTERM/SIGINT (or cancellation): stop the rest with it.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// `Tram-Wire-Versions`, on every answer of the ingest listener.
    static let wireVersionsHeader = HTTPFields.Element.Name(IngestHeader.wireVersions)!

    func makeRouter() -> Router<CollectorRequestContext> {
        let router = Router(context: CollectorRequestContext.self)
        let server = self
        let clientCertificates = configuration.tls?.clientCAPath != nil
        router.post("/v1/ingest") { request, context in
            // A client certificate counts only when the handshake verified it against --tls-client-ca.
            var certificateGateway: String?
            if clientCertificates, let certificate = await context.peerCertificate() {
                certificateGateway = CertificateIdentity.gatewayName(certificate)
            }
            return try await server.ingest(request, certificateGateway: certificateGateway)
        }
        // The negotiation's question, asked before a version-2 frame is sent: no body, no credentials, 204 and the
        // header (an older collector answers 404 or 405 without it, which reads as version 1 only).
        router.get("/v1/ingest") { _, _ in
            var headers = HTTPFields()
            headers[Self.wireVersionsHeader] = WireVersions.render(server.configuration.wireVersions)
            return Response(status: .noContent, headers: headers)
        }
        router.get("/health") { _, _ in
            let ok = (try? await server.executor.run { store in try store.ping() }) ?? false
            return server.response(
                Answer(status: ok ? 200 : 503, body: .object([("status", .string(ok ? "ok" : "store unavailable"))])))
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(
                status: .ok, headers: headers,
                body: .init(
                    byteBuffer: ByteBuffer(string: server.metrics.render() + Relay.renderMetrics(server.relays))))
        }
        router.get("/v1/points/latest") { request, _ in
            let gateway = request.uri.queryParameters["gateway"].map(String.init)
            return try await server.read(request) { store in
                Answer(
                    status: 200, body: .object([("points", .array(try store.latest(gateway: gateway).map(Self.json)))]))
            }
        }
        router.get("/v1/fleet") { request, _ in
            try await server.read(request) { store in Answer(status: 200, body: try Self.fleet(store)) }
        }
        router.get("/v1/points/:gateway/:device/:point") { request, context in
            let names = ["gateway", "device", "point"].map { context.parameters.get($0)?.removingPercentEncoding ?? "" }
            let query = request.uri.queryParameters
            var numbers: [Int64?] = []
            for key in ["from", "to", "limit", "step"] {
                guard let text = query[Substring(key)] else { numbers.append(nil); continue }
                guard let value = Int64(text) else {
                    return server.response(
                        .reject(
                            400, "bad-query",
                            [
                                (
                                    "detail",
                                    .string("from, to, limit and step are integers (from and to in ms since 1970)")
                                )
                            ]))
                }
                numbers.append(value)
            }
            let (from, to, limit) = (
                numbers[0] ?? .min, numbers[1] ?? .max, Int(min(max(numbers[2] ?? 10_000, 1), 100_000))
            )
            if let step = numbers[3] {
                guard let answer = HeldValuesAnswer.refusal(from: numbers[0], to: numbers[1], step: step) else {
                    return try await server.read(request) { store in
                        try HeldValuesAnswer.answer(
                            store, names: names, from: from, to: to, step: step, limit: limit)
                    }
                }
                return server.response(answer)
            }
            return try await server.read(request) { store in
                let rows = try store.range(
                    gateway: names[0], device: names[1], point: names[2], from: from, to: to, limit: limit)
                return Answer(
                    status: 200,
                    body: .object([
                        ("gateway", .string(names[0])), ("device", .string(names[1])), ("point", .string(names[2])),
                        ("readings", .array(rows.map(Self.json))),
                    ]))
            }
        }
        return router
    }

    static func header(_ request: Request, _ lowercasedName: String) -> String? {
        request.headers.first { $0.name.canonicalName == lowercasedName }?.value
    }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    func ingest(_ request: Request, certificateGateway: String? = nil) async throws -> Response {
        let limits = configuration.limits
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limits.maximumBody {
            return finish(.refuse(.bodyTooLarge(maximum: limits.maximumBody)), request: request)
        }
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix(IngestHeader.frameMediaType) {
            return finish(
                .refuse(.unsupportedMediaType(detail: "send Content-Type: \(IngestHeader.frameMediaType)")),
                request: request)
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limits.maximumBody)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return finish(.refuse(.bodyTooLarge(maximum: limits.maximumBody)), request: request)
        }
        let body = Array(buffer.readableBytesView)
        let token = Self.bearer(request)
        let claimed = Self.header(request, IngestHeader.gateway.lowercased())
        let limiter = self.limiter
        let wireVersions = configuration.wireVersions
        let answer: Answer
        do {
            let (result, summary) = try await executor.run { store in
                try IngestService.handle(
                    store: store, limiter: limiter, limits: limits, token: token, claimedGateway: claimed,
                    certificateGateway: certificateGateway, body: body, wireVersions: wireVersions,
                    now: nowMilliseconds())
            }
            if let summary { metrics.stored(summary, bytes: body.count) }
            answer = result
        } catch {
            // Nothing was committed (the transaction rolled back): the agent retries with backoff.
            logger.error("ingest failed in the store", metadata: ["error": "\(error)"])
            answer = .refuse(.storeError(detail: "\(error)"))
        }
        return finish(answer, request: request)
    }

    private func finish(_ answer: Answer, request: Request) -> Response {
        metrics.answered(status: answer.status, reason: answer.reason)
        if answer.status != 200 {
            // A 409 schema-unknown is the protocol's first contact (the agent sends the dictionary next), not a fault.
            let level: Logger.Level = answer.reason == IngestReason.schemaUnknown.rawValue ? .info : .warning
            logger.log(
                level: level, "ingest refused",
                metadata: [
                    "status": "\(answer.status)",
                    "gateway": "\(Self.header(request, IngestHeader.gateway.lowercased()) ?? "-")",
                    "batches": "\(Self.header(request, IngestHeader.batches.lowercased()) ?? "-")",
                    "answer": "\(answer.body.rendered)",
                ])
        }
        return response(answer)
    }

    func read(_ request: Request, _ body: @escaping @Sendable (CollectorStore) throws -> Answer) async throws
        -> Response
    {
        let token = Self.bearer(request)
        let answer = try await executor.run { store -> Answer in
            guard let token else { return .reject(401, "unauthorized", [("detail", .string("no bearer token"))]) }
            switch try store.authenticate(token: token, now: nowMilliseconds()) {
            case .success(.reader): return try body(store)
            case .success(.gateway):
                return .reject(403, "forbidden", [("detail", .string("a gateway token cannot read"))])
            case .failure(let why): return .reject(401, "unauthorized", [("detail", .string("token \(why)"))])
            }
        }
        return response(answer)
    }

    func response(_ answer: Answer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[Self.wireVersionsHeader] = WireVersions.render(configuration.wireVersions)
        if let wait = answer.retryAfter { headers[.retryAfter] = String(wait) }
        return Response(
            status: .init(code: answer.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: answer.body.rendered + "\n")))
    }

    /// Gateways, when each was last seen, its devices' state from their points' newest readings, and bytes a day.
    /// A device is online when every point's newest reading is good, degraded when some are, offline when none are
    /// (the agent's own definition of device health).
    static func fleet(_ store: CollectorStore) throws -> JSON {
        let now = nowMilliseconds()
        let latest = try store.latest(gateway: nil)
        var gateways: [JSON] = []
        for gateway in try store.gateways(now: now) {
            let rows = latest.filter { $0.gateway == gateway.name }
            let names = rows.reduce(into: [String]()) { if $0.last != $1.device { $0.append($1.device) } }
            var online = 0
            let devices: [JSON] = names.map { name in
                let points = rows.filter { $0.device == name }
                let good = points.count { $0.quality == 0 }
                let state = good == points.count ? "online" : good > 0 ? "degraded" : "offline"
                if good == points.count { online += 1 }
                return .object([
                    ("name", .string(name)), ("state", .string(state)), ("points", .int(Int64(points.count))),
                    ("good_points", .int(Int64(good))),
                    ("last_reading_ms", .int(points.map(\.timeMilliseconds).max() ?? 0)),
                ])
            }
            let days: [JSON] = try store.tallies(gateway: gateway.name, days: 31).map { tally in
                let date = Date(timeIntervalSince1970: Double(tally.day) * 86_400)
                return .object([
                    (
                        "day",
                        .string(
                            String(
                                ISO8601DateFormatter.string(
                                    from: date, timeZone: TimeZone(identifier: "UTC")!,
                                    formatOptions: [.withFullDate])))
                    ),
                    ("bytes", .int(tally.bytes)), ("batches", .int(tally.batches)),
                    ("duplicates", .int(tally.duplicates)), ("readings", .int(tally.readings)),
                ])
            }
            gateways.append(
                .object([
                    ("name", .string(gateway.name)), ("revoked", .bool(gateway.revoked)),
                    ("last_seen_ms", gateway.lastSeenMilliseconds.map { .int($0) } ?? .null),
                    ("devices_online", .int(Int64(online))),
                    ("devices", .array(devices)), ("days", .array(days)),
                ]))
        }
        return .object([("gateways", .array(gateways))])
    }

    /// A reading as the read API shows it: the engineering value, and the raw value typed as the point's type.
    static func json(_ row: CollectorStore.ReadingRow) -> JSON {
        var raw: JSON = .null
        var bits: JSON?
        switch row.type {
        case 1: raw = row.rawInt.map { .bool($0 != 0) } ?? .null
        case 2, 4, 6: raw = row.rawInt.map { .int($0) } ?? .null
        case 3, 5, 7:
            raw = row.rawInt.map { .uint(UInt64($0)) } ?? row.rawText.flatMap { UInt64($0) }.map { .uint($0) } ?? .null
        case 8:
            if let v = row.rawInt {
                raw = .double(Double(Float(bitPattern: UInt32(truncatingIfNeeded: v))))
                bits = .string(String(UInt32(truncatingIfNeeded: v), radix: 16))
            }
        case 9:
            if let v = row.rawInt {
                raw = .double(Double(bitPattern: UInt64(bitPattern: v)))
                bits = .string(SchemaIDText.encode(UInt64(bitPattern: v)))
            }
        case 10: raw = row.rawText.map { .string($0) } ?? .null
        default: break
        }
        var members: [(String, JSON)] = [
            ("gateway", .string(row.gateway)), ("device", .string(row.device)), ("point", .string(row.point)),
            ("unit", .string(row.unit)),
            ("time_ms", .int(row.timeMilliseconds)), ("value", row.value.map { .double($0) } ?? .null), ("raw", raw),
        ]
        if let bits { members.append(("raw_bits", bits)) }
        members.append(("quality", .string(WireQuality.name(code: row.quality))))
        if let exception = row.exception { members.append(("exception", .int(Int64(exception)))) }
        members.append(("clock_synchronised", .bool(row.clock & 1 != 0)))
        return .object(members)
    }
}
