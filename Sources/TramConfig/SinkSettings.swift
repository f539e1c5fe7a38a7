import TramCore
/// One entry of the agent file's `sinks:` list: where the uplink delivers spooled batches, and how.
///
/// Each sink has its own delivery state in the spool, so a slow or paused sink never holds back another.
/// Plain data; the agent turns it into the uplink's transport options.
public struct SinkSettings: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// tram-collector: compact batches, deduplicated by batch identity (exactly once).
        case collector
        /// Influx line protocol over HTTP (VictoriaMetrics, InfluxDB, …): at least once.
        case lineProtocol = "line_protocol"
    }

    /// The sink's name in the spool's ledger. Renaming a sink makes it a new sink that starts from the oldest batch.
    public var name: String
    public var kind: Kind
    public var url: String
    /// A file holding the bearer token (never the token itself: config files get shared and pasted).
    public var tokenFile: String?
    public var caFile: String?
    public var clientCertificate: String?
    public var clientKey: String?
    /// `sha256//BASE64` pins (`;`-separated), or a public key file.
    public var pinnedPublicKey: String?
    /// Off only with `insecure_skip_verify: true`, which the agent logs loudly at every start.
    public var verifyTLS: Bool
    public var connectTimeout: Duration
    public var requestTimeout: Duration
    /// The largest upload (several whole batches); lowered to fit `bandwidth` × `request_timeout`.
    public var maximumUploadBytes: Int
    /// A bandwidth cap in bytes/s (nil: none).
    public var bandwidthBytesPerSecond: Int?
    /// A daily data budget in bytes, counting both directions (nil: none). Days are UTC days.
    public var dailyBudgetBytes: Int?
    /// gzip line-protocol bodies (`Content-Encoding: gzip`); true by default. Tram frames are always zstd.
    public var compressLines: Bool = true
    /// `Authorization: Bearer <token>` (VictoriaMetrics behind a proxy, the collector) or `Token <token>` (InfluxDB 2).
    public var authScheme: String = "Bearer"
    /// Where a batch the receiver refuses as malformed is kept (default: `rejected-<name>.frames` in the spool directory).
    public var deadLetterFile: String?
    public var location: SourceLocation?

    public init(
        name: String, kind: Kind = .collector, url: String, tokenFile: String? = nil, caFile: String? = nil,
        clientCertificate: String? = nil, clientKey: String? = nil, pinnedPublicKey: String? = nil,
        verifyTLS: Bool = true,
        connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(20),
        maximumUploadBytes: Int = 1 << 20,
        bandwidthBytesPerSecond: Int? = nil, dailyBudgetBytes: Int? = nil, deadLetterFile: String? = nil,
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.kind = kind
        self.url = url
        self.tokenFile = tokenFile
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.pinnedPublicKey = pinnedPublicKey
        self.verifyTLS = verifyTLS
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maximumUploadBytes = maximumUploadBytes
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.dailyBudgetBytes = dailyBudgetBytes
        self.deadLetterFile = deadLetterFile
        self.location = location
    }

    /// The upload size limit that holds by construction: under a bandwidth cap, an upload must finish well
    /// within the request timeout (80% of it), so a capped link never times out merely by being capped.
    public var effectiveMaximumUploadBytes: Int {
        guard let cap = bandwidthBytesPerSecond else { return maximumUploadBytes }
        return max(1024, min(maximumUploadBytes, Int(Double(cap) * requestTimeout.seconds * 0.8)))
    }

    public static func == (a: SinkSettings, b: SinkSettings) -> Bool {
        a.name == b.name && a.kind == b.kind && a.url == b.url && a.tokenFile == b.tokenFile && a.caFile == b.caFile
            && a.clientCertificate == b.clientCertificate && a.clientKey == b.clientKey
            && a.pinnedPublicKey == b.pinnedPublicKey
            && a.verifyTLS == b.verifyTLS && a.connectTimeout == b.connectTimeout
            && a.requestTimeout == b.requestTimeout
            && a.maximumUploadBytes == b.maximumUploadBytes && a.bandwidthBytesPerSecond == b.bandwidthBytesPerSecond
            && a.dailyBudgetBytes == b.dailyBudgetBytes && a.deadLetterFile == b.deadLetterFile
            && a.compressLines == b.compressLines && a.authScheme == b.authScheme
    }
}
