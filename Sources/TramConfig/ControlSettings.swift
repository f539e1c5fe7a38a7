/// The agent file's `control:` section: how technicians and monitoring reach the running agent.
public struct ControlSettings: Sendable, Equatable {
    /// The Unix socket `tramctl status`, `top` and `tail` talk to. Mode 0660: root and the agent's group only.
    public var socket: String
    /// Prometheus metrics over HTTP, on `127.0.0.1:<port>` (nil: off). Loopback only: put a proxy in front to expose it.
    public var metricsPort: Int?

    /// Writes through the agent (`tramctl write`, the socket's `write`): off unless `writes: true`. When on, a
    /// client needs root or membership of `writeGroup`; every attempt, allowed or refused, is audited.
    public var writes: Bool
    /// Writes by address (not through a point the config marks writable): off unless `raw_writes: true` as well, and
    /// then for root only.
    public var rawWrites: Bool
    /// The Unix group whose members may write, besides root; distinct from the agent's own group, which reads.
    public var writeGroup: String
    /// The write journal: one line per write attempt, the newest `WriteJournal.keptEntries` kept.
    public var writeJournal: String

    public static let defaultSocket = "/run/tram/agent.sock"
    public static let defaultWriteGroup = "tram-write"
    public static let defaultWriteJournal = "/var/lib/tram/writes.log"

    public init(
        socket: String = ControlSettings.defaultSocket, metricsPort: Int? = 9464, writes: Bool = false,
        rawWrites: Bool = false, writeGroup: String = ControlSettings.defaultWriteGroup,
        writeJournal: String = ControlSettings.defaultWriteJournal
    ) {
        self.socket = socket
        self.metricsPort = metricsPort
        self.writes = writes
        self.rawWrites = rawWrites
        self.writeGroup = writeGroup
        self.writeJournal = writeJournal
    }
}
