import TramConfig
import TramUplink
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

extension SinkOptions {
    /// An agent file's `sinks:` entry as the options of its delivery loop.
    public init(settings: SinkSettings, gateway: String) {
        self.init(
            name: settings.name, kind: SinkKind(settings.kind),
            transport: TransportOptions(settings: settings, gateway: gateway, token: nil),
            tokenFile: settings.tokenFile, maximumUploadBytes: settings.effectiveMaximumUploadBytes,
            dailyBudgetBytes: settings.dailyBudgetBytes, compressLines: settings.compressLines,
            deadLetterFile: settings.deadLetterFile)
    }
}
