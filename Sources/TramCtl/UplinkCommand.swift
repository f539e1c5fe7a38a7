import ArgumentParser
import Logging
import TramBatch
import TramStageOptions
import TramConfig
import TramIngestProtocol
import TramUplink

/// `tramctl uplink test`: one probe upload to each configured sink, with timings and a plain diagnosis.
struct UplinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uplink",
        abstract: "Check the way to the collector.",
        subcommands: [Test.self])

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Send one probe to each sink: report DNS, connect, TLS and HTTP timings, and say what failed and how to fix it.",
            discussion: """
                To a collector the probe is the agent's schema dictionary (stored once, harmless); to a line-protocol \
                receiver it is an empty body, which writes nothing. Exit status 0 when every sink accepted it.
                """)

        @OptionGroup var agentFile: AgentFileOptions

        @Option(help: "Only this sink (default: every sink in the agent file).")
        var sink: String?

        func run() throws {
            let config = try agentFile.load()
            let sinks = config.sinks.filter { sink == nil || $0.name == sink }
            guard !sinks.isEmpty else {
                throw ValidationError(
                    sink.map {
                        "no sink '\($0)' in \(agentFile.config); sinks: \(config.sinks.map(\.name).joined(separator: ", "))"
                    }
                        ?? "\(agentFile.config) has no 'sinks:' section")
            }
            var logger = Logger(label: "tramctl.uplink")
            logger.logLevel = .critical
            CurlTransport.globalInit()
            var failures = 0
            for settings in sinks {
                print("\(settings.name) → \(settings.url)")
                let (ok, lines) = Self.probe(settings, config: config, logger: logger)
                for line in lines { print("  " + line) }
                if !ok { failures += 1 }
            }
            if failures > 0 { throw ExitCode(1) }
        }

        static func probe(_ settings: SinkSettings, config: AgentConfig, logger: Logger) -> (Bool, [String]) {
            var token: String?
            if let path = settings.tokenFile {
                do throws(TokenFile.Problem) { token = try TokenFile.read(path, logger: logger) } catch {
                    return (
                        false,
                        [
                            "FAILED before connecting: \(error)",
                            "fix: create the file with the token `tram-collector gateway add \(config.gateway.id)` printed, mode 0640, owned by root:tram",
                        ]
                    )
                }
            }
            let transport: CurlTransport
            do throws(TransportFailure) {
                transport = try CurlTransport(
                    TransportOptions(settings: settings, gateway: config.gateway.id, token: token), logger: logger)
            } catch {
                return (false, ["FAILED: the transport cannot be set up: \(error)"])
            }
            let body = settings.kind == .collector ? SchemaMapping(config: config).dictionary.frame() : []
            let result = transport.post(body, batches: "")
            let t = transport.lastTimings
            var lines: [String] = []
            func ms(_ v: Double) -> String { "\((v * 10).rounded() / 10) ms" }
            var timing = "DNS \(ms(t.dnsMilliseconds)) · connect \(ms(t.connectMilliseconds))"
            if settings.url.hasPrefix("https://") { timing += " · TLS \(ms(t.tlsMilliseconds))" }
            timing += " · first byte \(ms(t.firstByteMilliseconds)) · total \(ms(t.totalMilliseconds))"
            if !t.remoteAddress.isEmpty { timing += " · \(t.remoteAddress)" }
            if !t.httpVersion.isEmpty { timing += " \(t.httpVersion)" }
            lines.append(timing)
            switch result {
            case .success(let response):
                switch response.status {
                case 200..<300:
                    lines.append("OK: HTTP \(response.status); the sink accepts this gateway's uploads")
                    return (true, lines)
                default:
                    let action = DeliveryDecision.decide(
                        .http(
                            status: response.status, reason: IngestRefusal.reason(in: response.body),
                            retryAfterSeconds: response.retryAfterSeconds), sink: SinkKind(settings.kind), batches: 1)
                    lines.append(
                        "FAILED: HTTP \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
                    lines.append(
                        "fix: "
                            + advice(
                                status: response.status, action: action, settings: settings, gateway: config.gateway.id)
                    )
                    return (false, lines)
                }
            case .failure(let failure):
                lines.append("FAILED: \(failure)")
                lines.append("fix: " + advice(failure, settings: settings))
                return (false, lines)
            }
        }

        static func advice(status: Int, action: DeliveryAction, settings: SinkSettings, gateway: String) -> String {
            switch status {
            case 401:
                return
                    "the token was refused: check token_file (\(settings.tokenFile ?? "none set")); on the collector, `tram-collector gateway add \(gateway)` or `token rotate` gives a new one"
            case 403:
                return
                    "this gateway is not allowed: is '\(gateway)' enrolled on the collector, and does the client certificate name it?"
            case 404: return "nothing answers at that path: the collector's ingest URL ends in /v1/ingest"
            case 429, 500..<600: return "the sink is overloaded or failing; the agent retries by itself with backoff"
            default:
                if case .pause(let why) = action { return why }
                return "see the answer above"
            }
        }

        static func advice(_ failure: TransportFailure, settings: SinkSettings) -> String {
            switch failure {
            case .tls(let detail):
                if detail.contains("pinned") {
                    return
                        "the server's public key does not match pinned_public_key: the server's key changed, or this is not your collector"
                }
                if detail.contains("no alternative certificate subject name")
                    || detail.contains("does not match target host")
                {
                    return
                        "the certificate is for another name: use the name in the certificate in the URL, or reissue the certificate with this name in its SAN"
                }
                if detail.contains("certificate") || detail.contains("CA") || detail.contains("issuer") {
                    return
                        "the server's certificate is not trusted: set ca_file to the CA that signed it (now: \(settings.caFile ?? "the system store"))"
                }
                return "the TLS handshake failed: check ca_file, client_cert/client_key and the server's name"
            case .timeout:
                return
                    "no answer within the timeouts: the link is down, a firewall drops the traffic, or the address is wrong"
            case .connection(let detail):
                if detail.contains("resolve") {
                    return "the host name does not resolve: check the URL and the gateway's DNS (/etc/resolv.conf)"
                }
                if detail.contains("refused") || detail.contains("Couldn't connect") {
                    return
                        "nothing listens there: is tram-collector running on that host and port, and does a firewall let the gateway in?"
                }
                return "the connection failed: check the link and the URL"
            case .configuration(let detail):
                return "the sink's settings are wrong: \(detail)"
            }
        }
    }
}
