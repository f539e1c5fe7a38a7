import ArgumentParser
import Foundation
import Logging
import TramCollector
import TramCollectorConsole
import TramCollectorRelay
import TramCollectorStore
import TramIngestProtocol
import TramSchema

/// `tram-collector`: serve, and manage gateways and read tokens.
public struct CollectorCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tram-collector",
        abstract: "Receives Tram batches from gateways, drops duplicates and stores the readings in SQLite.",
        subcommands: [Serve.self, Gateway.self, Token.self, RelayCommand.self])

    public init() {}

    /// The entry point (a top-level `await Command.main()` would pick the synchronous `main`).
    public static func runFromCommandLine() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "The SQLite database (created if missing).")
    var db: String
}

extension CollectorCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve ingest, the read API, /health and /metrics.")
        @OptionGroup var database: DatabaseOption
        @Option(help: "HOST:PORT to listen on (port 0: any free port; the bound one is printed).")
        var listen = "127.0.0.1:8480"
        @Option(name: .customLong("max-body"), help: "Largest ingest body in bytes (413 above).")
        var maxBody = IngestLimits().maximumBody
        @Option(
            name: .customLong("max-frame-decoded"),
            help:
                "Largest payload one frame may decompress to (decompression-bomb cap; 422 above). Keep it above the agents' largest batch."
        )
        var maxFrameDecoded = IngestLimits().maximumFrameDecoded
        @Option(
            name: .customLong("max-decoded"),
            help:
                "Largest total of decompressed payload bytes in one ingest request (413 above; at least --max-frame-decoded)."
        )
        var maxDecoded = IngestLimits().maximumDecoded
        @Option(help: "Ingest requests per second per gateway (0: unlimited).")
        var rate: Double = 20
        @Option(help: "Requests a gateway may send at once above its rate.")
        var burst: Double = 40
        @Option(
            help:
                "full (the default: WAL fsynced at every commit, so a 200 survives power loss) or normal (survives a crash of the collector only; faster)."
        )
        var durability: String = Durability.full.rawValue
        @Option(
            name: .customLong("tls-cert"), help: "PEM certificate (chain) of the server: serve HTTPS (with --tls-key).")
        var tlsCert: String?
        @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
        var tlsKey: String?
        @Option(
            name: .customLong("tls-client-ca"),
            help:
                "PEM CA(s) for client certificates (mTLS): a gateway may authenticate by a certificate naming it (subject CN)."
        )
        var tlsClientCA: String?
        @Option(
            name: .customLong("tls-client-auth"),
            help: "With --tls-client-ca: required (no certificate, no handshake) or optional (token instead).")
        var tlsClientAuth: String = CollectorTLS.ClientAuth.required.rawValue
        @Option(
            help:
                "Delete readings older than this, by reading time, cut at a whole hour (30d, 12h, 90m; w/d/h/m/s). Default: keep forever."
        )
        var retention: String?
        @Option(
            name: .customLong("rollup-retention"),
            help:
                "With --retention: delete hour rollups older than this (at least --retention). Minute rollups go after 45 days, or --retention if longer."
        )
        var rollupRetention: String = "396d"
        @Option(name: .customLong("retention-interval"), help: "Time between retention passes (also at start).")
        var retentionInterval: String = "5m"
        @Option(
            name: .customLong("relay-influx"),
            help:
                "Relay readings to a time-series store by Influx line protocol (repeatable): http://HOST:PORT (VictoriaMetrics or InfluxDB 1: /write), or a full write URL such as http://HOST:8086/api/v2/write?org=O&bucket=B (token from TRAM_RELAY_TOKEN)."
        )
        var relayInflux: [String] = []
        @Option(name: .customLong("relay-batch"), help: "Most readings per relay write request.")
        var relayBatch = 5000
        @Option(
            name: .customLong("relay-max-backoff"),
            help: "Longest wait in seconds between retries while a relay target fails.")
        var relayMaxBackoff: Double = 30
        @Option(
            name: .customLong("wire-versions"),
            help:
                "The wire format versions ingest accepts and advertises: 1,2 (the default), or 1 to hold agents' version-2 batches back until every consumer is ready."
        )
        var wireVersions: String = "1,2"
        @Option(
            name: .customLong("console-listen"),
            help:
                "HOST:PORT for the console (pages for people, on a listener of its own; the bound one is printed as CONSOLE HOST:PORT). Default: no console."
        )
        var consoleListen: String?
        @Option(
            name: .customLong("console-tls-cert"),
            help: "PEM certificate (chain) for the console: serve it over HTTPS (with --console-tls-key).")
        var consoleTLSCert: String?
        @Option(name: .customLong("console-tls-key"), help: "PEM private key of --console-tls-cert.")
        var consoleTLSKey: String?
        @Option(
            name: .customLong("time-zone"),
            help: "Time zone of the console's days, months and years, and of the times it shows (IANA name).")
        var timeZone = "UTC"
        @Option(name: .customLong("session-hours"), help: "How long a console sign-in lasts.")
        var sessionHours: Double = 12

        static func hostPort(_ text: String, option: String) throws -> (host: String, port: Int) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (0...65535).contains(port)
            else {
                throw ValidationError("\(option) takes HOST:PORT")
            }
            return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
        }

        func consoleListener() throws -> ConsoleListener? {
            guard let consoleListen else {
                if consoleTLSCert != nil || consoleTLSKey != nil {
                    throw ValidationError("--console-tls-cert and --console-tls-key need --console-listen")
                }
                return nil
            }
            let (host, port) = try Self.hostPort(consoleListen, option: "--console-listen")
            guard let zone = TimeZone(identifier: timeZone) else {
                throw ValidationError(
                    "--time-zone: unknown time zone '\(timeZone)' (an IANA name such as Asia/Ho_Chi_Minh)")
            }
            guard sessionHours > 0, sessionHours <= 24 * 366 else {
                throw ValidationError("--session-hours is more than 0")
            }
            var tls: CollectorTLS?
            switch (consoleTLSCert, consoleTLSKey) {
            case (let cert?, let key?): tls = CollectorTLS(certificatePath: cert, keyPath: key)
            case (nil, nil): tls = nil
            default: throw ValidationError("--console-tls-cert and --console-tls-key go together")
            }
            return ConsoleListener(
                host: host, port: port, tls: tls,
                settings: ConsoleSettings(timeZone: zone, sessionMilliseconds: Int64(sessionHours * 3_600_000)))
        }

        /// `1` or `1,2`: the versions must run from 1 up to one this build knows.
        static func wireVersionRange(_ text: String) throws -> ClosedRange<UInt8> {
            let versions = WireVersions.parse(text)
            guard let top = versions.last, versions == Array(1...top), Frame.versions.contains(top) else {
                throw ValidationError(
                    "--wire-versions lists versions from 1 up, at most \(Frame.versions.upperBound): 1 or 1,2 (not '\(text)')"
                )
            }
            return 1...top
        }

        func relayTargets() throws -> [RelayTarget] {
            guard relayBatch > 0 else { throw ValidationError("--relay-batch is at least 1") }
            let token = ProcessInfo.processInfo.environment["TRAM_RELAY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return try relayInflux.map { url in
                do {
                    var target = try RelayTarget(url: url, authorizationToken: token)
                    target.batchSize = relayBatch
                    target.maximumBackoff = .milliseconds(Int64(max(relayMaxBackoff, 0.25) * 1000))
                    return target
                } catch { throw ValidationError("--relay-influx: \(error)") }
            }
        }

        func run() async throws {
            let (host, port) = try Self.hostPort(listen, option: "--listen")
            guard let durability = Durability(rawValue: durability) else {
                throw ValidationError("--durability is normal or full")
            }
            let console = try consoleListener()
            var tls: CollectorTLS?
            switch (tlsCert, tlsKey) {
            case (let cert?, let key?):
                guard let clientAuth = CollectorTLS.ClientAuth(rawValue: tlsClientAuth) else {
                    throw ValidationError("--tls-client-auth is required or optional")
                }
                tls = CollectorTLS(
                    certificatePath: cert, keyPath: key, clientCAPath: tlsClientCA, clientAuth: clientAuth)
            case (nil, nil):
                if tlsClientCA != nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
            default: throw ValidationError("--tls-cert and --tls-key go together")
            }
            var retentionSetting: Retention?
            if let retention {
                guard let limit = Retention.parseDuration(retention) else {
                    throw ValidationError("--retention takes a duration such as 30d or 12h")
                }
                guard let interval = Retention.parseDuration(retentionInterval) else {
                    throw ValidationError("--retention-interval takes a duration such as 5m")
                }
                guard let rollupLimit = Retention.parseDuration(rollupRetention), rollupLimit >= limit else {
                    throw ValidationError("--rollup-retention takes a duration such as 396d, at least --retention")
                }
                retentionSetting = Retention(
                    limitMilliseconds: limit, rollupLimitMilliseconds: rollupLimit, intervalMilliseconds: interval)
            }
            var logger = Logger(label: "tram-collector")
            logger.logLevel = .info
            var configuration = CollectorServer.Configuration(
                databasePath: database.db, host: host, port: port,
                limits: IngestLimits(
                    maximumBody: maxBody, maximumFrameDecoded: maxFrameDecoded, maximumDecoded: maxDecoded),
                rate: rate, burst: burst, durability: durability, tls: tls, retention: retentionSetting
            )
            .relaying(try relayTargets())
            configuration.console = console
            configuration.wireVersions = try Self.wireVersionRange(wireVersions)
            let server = try CollectorServer(configuration, logger: logger)
            try await server.run(
                onListening: { bound in
                    FileHandle.standardOutput.write(Data("LISTENING \(host):\(bound)\n".utf8))
                },
                onConsoleListening: { bound in
                    FileHandle.standardOutput.write(Data("CONSOLE \(console?.host ?? host):\(bound)\n".utf8))
                })
        }
    }

    struct RelayCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "relay", abstract: "The relays' durable positions and totals.", subcommands: [Status.self])

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print each relay's position, lag and totals (held back, sent, skipped).")
            @OptionGroup var database: DatabaseOption
            func run() throws {
                let store = try CollectorStore(path: database.db)
                let last = try store.lastReadingRowID()
                for r in try store.relayPositions() {
                    print(
                        "\(r.name)\tposition=\(r.position)\tlag=\(max(0, last - r.position))\tsent=\(r.sent)"
                            + "\theld_unsynchronised=\(r.heldUnsynchronised)\theld_synchronised=\(r.heldSynchronised)"
                            + "\tunsynchronised_sent=\(r.unsynchronisedSent)\tskipped=\(r.skipped)\tupdated_ms=\(r.updatedMilliseconds)"
                    )
                }
            }
        }
    }

    struct Gateway: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll, rotate, revoke and list gateways.",
            subcommands: [Add.self, SetSite.self, Rotate.self, Revoke.self, List.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a gateway and print its token (once: only its hash is kept).")
            @Argument(help: "The gateway id, as its agent file names it.") var name: String
            @Option(
                help:
                    "The site (plant) it belongs to, for the console's grouping and reports; only set here or by set-site, never by the gateway."
            )
            var site = ""
            @OptionGroup var database: DatabaseOption
            func run() throws {
                print(try CollectorStore(path: database.db).addGateway(name, site: site, now: nowMilliseconds()))
            }
        }

        struct SetSite: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set-site",
                abstract: "Move a gateway to another site ('' for none); reports count it in its new site.")
            @Argument var name: String
            @Argument var site: String
            @OptionGroup var database: DatabaseOption
            func run() throws {
                try CollectorStore(path: database.db).setSite(name, site)
                print("\(name)\tsite=\(site)")
            }
        }

        struct Rotate: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a new token; the old one stays valid for the grace period.")
            @Argument var name: String
            @OptionGroup var database: DatabaseOption
            @Option(help: "Hours the old token stays valid.") var graceHours: Double = 24
            func run() throws {
                print(
                    try CollectorStore(path: database.db).rotateGateway(
                        name, graceMilliseconds: Int64(graceHours * 3_600_000), now: nowMilliseconds()))
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke a gateway's tokens: its uploads get 401. Its readings stay.")
            @Argument var name: String
            @OptionGroup var database: DatabaseOption
            func run() throws {
                try CollectorStore(path: database.db).revokeGateway(name, now: nowMilliseconds())
                print("revoked \(name)")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List gateways.")
            @OptionGroup var database: DatabaseOption
            func run() throws {
                for g in try CollectorStore(path: database.db).gateways(now: nowMilliseconds()) {
                    print(
                        "\(g.name)\t\(g.revoked ? "revoked" : "active")\tsite=\(g.site)\ttokens=\(g.activeTokens)\tlast_seen_ms=\(g.lastSeenMilliseconds.map(String.init) ?? "-")"
                    )
                }
            }
        }
    }

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tokens for the read API and the console.", subcommands: [AddReader.self, List.self, Revoke.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List read tokens by name (never the tokens themselves: only their hashes are kept).")
            @OptionGroup var database: DatabaseOption
            func run() throws {
                for t in try CollectorStore(path: database.db).readTokens(now: nowMilliseconds()) {
                    let state =
                        t.revokedMilliseconds != nil
                        ? "revoked"
                        : (t.expiresMilliseconds.map { $0 <= nowMilliseconds() } ?? false) ? "expired" : "active"
                    print(
                        "\(t.name)\t\(state)\tcreated_ms=\(t.createdMilliseconds)\tsessions=\(t.sessions)"
                            + (t.revokedMilliseconds.map { "\trevoked_ms=\($0)" } ?? ""))
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract:
                    "Revoke the read tokens with this name: the read API refuses them and their console sessions end at once."
            )
            @Argument var name: String
            @OptionGroup var database: DatabaseOption
            func run() throws {
                let count = try CollectorStore(path: database.db).revokeReader(name, now: nowMilliseconds())
                print("revoked \(name) (\(count) token\(count == 1 ? "" : "s"))")
            }
        }

        struct AddReader: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "add-reader", abstract: "Print a read-only API token (once).")
            @Argument var name: String
            @OptionGroup var database: DatabaseOption
            func run() throws {
                print(try CollectorStore(path: database.db).addReader(name, now: nowMilliseconds()))
            }
        }
    }
}
