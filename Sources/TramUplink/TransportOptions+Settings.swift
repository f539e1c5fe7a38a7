import TramConfig
import TramIngestProtocol

extension TransportOptions {
    /// A sink's settings as transport options; the token comes separately, already read from its file.
    public init(settings: SinkSettings, gateway: String, token: String?) {
        self.init(url: settings.url, gateway: gateway, token: token)
        caFile = settings.caFile
        clientCertificate = settings.clientCertificate
        clientKey = settings.clientKey
        pinnedPublicKey = settings.pinnedPublicKey
        verifyTLS = settings.verifyTLS
        connectTimeoutSeconds = max(1, Int(settings.connectTimeout.components.seconds))
        requestTimeoutSeconds = max(1, Int(settings.requestTimeout.components.seconds))
        maximumSendBytesPerSecond = settings.bandwidthBytesPerSecond
        authorizationScheme = settings.authScheme
        contentType = settings.kind == .lineProtocol ? "text/plain; charset=utf-8" : IngestHeader.frameMediaType
    }
}

extension SinkKind {
    public init(_ kind: SinkSettings.Kind) {
        switch kind {
        case .collector: self = .collector
        case .lineProtocol: self = .lineProtocol
        }
    }
}
