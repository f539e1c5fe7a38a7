import ArgumentParser
import Foundation
import Logging

/// `tram-collector`: serve, and manage gateways and read tokens.
public struct CollectorCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tram-collector",
        abstract: "Receives Tram batches from gateways, drops duplicates and stores the readings in SQLite.",
        subcommands: [Serve.self, Gateway.self, Token.self, Bench.self])

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
        @Option(name: .customLong("max-frame-decoded"),
                help: "Largest payload one frame may decompress to (decompression-bomb cap; 422 above). Keep it above the agents' largest batch.")
        var maxFrameDecoded = IngestLimits().maximumFrameDecoded
        @Option(name: .customLong("max-decoded"), help: "Largest total of decompressed payload bytes in one ingest request (413 above; at least --max-frame-decoded).")
        var maxDecoded = IngestLimits().maximumDecoded
        @Option(help: "Ingest requests per second per gateway (0: unlimited).")
        var rate: Double = 20
        @Option(help: "Requests a gateway may send at once above its rate.")
        var burst: Double = 40
        @Option(help: "normal (WAL, synchronous=NORMAL: survives a crash of the collector) or full (also survives power loss).")
        var durability: String = Durability.normal.rawValue

        func run() async throws {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("--listen takes HOST:PORT")
            }
            guard let durability = Durability(rawValue: durability) else { throw ValidationError("--durability is normal or full") }
            let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            var logger = Logger(label: "tram-collector")
            logger.logLevel = .info
            let server = try CollectorServer(.init(databasePath: database.db, host: host, port: port,
                                                   limits: IngestLimits(maximumBody: maxBody, maximumFrameDecoded: maxFrameDecoded, maximumDecoded: maxDecoded),
                                                   rate: rate, burst: burst, durability: durability), logger: logger)
            try await server.run { bound in
                FileHandle.standardOutput.write(Data("LISTENING \(host):\(bound)\n".utf8))
            }
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ingest throughput over loopback against a raw SQLite baseline (build with -c release).")
        @Option(help: "Directory for the two databases (replaced).") var dir = NSTemporaryDirectory() + "tram-collector-bench"
        @Option(help: "Concurrent gateways, one client each.") var gateways = 8
        @Option(help: "Batches each gateway sends.") var batches = 20
        @Option(help: "Points in each gateway's dictionary.") var points = 100
        @Option(help: "Seconds in a batch (one group of every point a second).") var seconds = 60
        @Option(help: "The collector's durability: normal or full.") var durability = Durability.normal.rawValue

        func run() async throws {
            guard let durability = Durability(rawValue: durability) else { throw ValidationError("--durability is normal or full") }
            try await CollectorBench.run(.init(directory: dir, gateways: gateways, batches: batches, points: points, seconds: seconds,
                                               durability: durability))
        }
    }

    struct Gateway: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enroll, rotate, revoke and list gateways.",
                                                        subcommands: [Add.self, Rotate.self, Revoke.self, List.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a gateway and print its token (once: only its hash is kept).")
            @Argument(help: "The gateway id, as its agent file names it.") var name: String
            @OptionGroup var database: DatabaseOption
            func run() throws {
                print(try CollectorStore(path: database.db).addGateway(name, now: nowMilliseconds()))
            }
        }

        struct Rotate: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a new token; the old one stays valid for the grace period.")
            @Argument var name: String
            @OptionGroup var database: DatabaseOption
            @Option(help: "Hours the old token stays valid.") var graceHours: Double = 24
            func run() throws {
                print(try CollectorStore(path: database.db).rotateGateway(name, graceMilliseconds: Int64(graceHours * 3_600_000), now: nowMilliseconds()))
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a gateway's tokens: its uploads get 401. Its readings stay.")
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
                    print("\(g.name)\t\(g.revoked ? "revoked" : "active")\ttokens=\(g.activeTokens)\tlast_seen_ms=\(g.lastSeenMilliseconds.map(String.init) ?? "-")")
                }
            }
        }
    }

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tokens for the read API.", subcommands: [AddReader.self])

        struct AddReader: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add-reader", abstract: "Print a read-only API token (once).")
            @Argument var name: String
            @OptionGroup var database: DatabaseOption
            func run() throws {
                print(try CollectorStore(path: database.db).addReader(name, now: nowMilliseconds()))
            }
        }
    }
}
