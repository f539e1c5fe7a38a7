import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import TramCollectorConsole
import TramCollectorStore

/// The console's own listener (`--console-listen`), beside ingest in the same process and on the same store executor.
/// Its TLS is its own: browsers cannot present gateway client certificates, so it never sits behind ingest's mTLS.
public struct ConsoleListener: Sendable {
    public var host: String
    public var port: Int
    /// HTTPS with this certificate and key (no client certificates); nil: plain HTTP (warned about off loopback).
    public var tls: CollectorTLS?
    public var settings: ConsoleSettings

    public init(host: String, port: Int, tls: CollectorTLS? = nil, settings: ConsoleSettings = .init()) {
        self.host = host
        self.port = port
        self.tls = tls.map { given in
            var own = CollectorTLS(certificatePath: given.certificatePath, keyPath: given.keyPath)
            own.optionPrefix = "--console-tls"
            return own
        }
        self.settings = settings
        self.settings.secure = tls != nil
    }

    /// 127.0.0.0/8, ::1 and localhost.
    public var isLoopback: Bool {
        let host = host.lowercased()
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    func application(
        executor: StoreExecutor, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let server: HTTPServerBuilder =
            try tls.map { try .tls(.http1(), tlsConfiguration: $0.tlsConfiguration()) } ?? .http1()
        if tls == nil && !isLoopback {
            logger.warning(
                "the console listens with plain HTTP off loopback: sign-in tokens and session cookies cross the network in clear; give it --console-tls-cert and --console-tls-key",
                metadata: ["listen": "\(host):\(port)"])
        }
        let console = ConsoleApp(executor: executor, settings: settings, logger: logger)
        return Application(
            router: console.router(), server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}
