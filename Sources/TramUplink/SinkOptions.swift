/// What one sink's delivery loop needs: where and how to connect, and the limits it delivers under.
///
/// The uplink's own options, free of the config model: the agent (and `tramctl uplink test`) map an agent file's
/// `sinks:` entry to them in TramStageOptions.
public struct SinkOptions: Sendable {
    /// The sink's name in the spool's ledger.
    public var name: String
    public var kind: SinkKind
    /// The connection; its `token` is left nil here and read from `tokenFile` each time the transport is made.
    public var transport: TransportOptions
    /// A file holding the bearer token, re-read after a refusal so a fixed file resumes delivery without a restart.
    public var tokenFile: String?
    /// The largest upload, already lowered to fit a bandwidth cap within the request timeout.
    public var maximumUploadBytes: Int
    /// A daily data budget in bytes, both directions, per UTC day (nil: none).
    public var dailyBudgetBytes: Int?
    /// gzip line-protocol bodies.
    public var compressLines: Bool
    /// Where refused-as-malformed batches are kept (nil: `rejected-<name>.frames` in the spool directory).
    public var deadLetterFile: String?

    public init(
        name: String, kind: SinkKind, transport: TransportOptions, tokenFile: String? = nil,
        maximumUploadBytes: Int = 1 << 20, dailyBudgetBytes: Int? = nil, compressLines: Bool = true,
        deadLetterFile: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.transport = transport
        self.tokenFile = tokenFile
        self.maximumUploadBytes = maximumUploadBytes
        self.dailyBudgetBytes = dailyBudgetBytes
        self.compressLines = compressLines
        self.deadLetterFile = deadLetterFile
    }
}
