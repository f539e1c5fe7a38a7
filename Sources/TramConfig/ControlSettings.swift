/// The agent file's `control:` section: how technicians and monitoring reach the running agent.
public struct ControlSettings: Sendable, Equatable {
    /// The Unix socket `tramctl status`, `top` and `tail` talk to. Mode 0660: root and the agent's group only.
    public var socket: String
    /// Prometheus metrics over HTTP, on `127.0.0.1:<port>` (nil: off). Loopback only: put a proxy in front to expose it.
    public var metricsPort: Int?

    public static let defaultSocket = "/run/tram/agent.sock"

    public init(socket: String = ControlSettings.defaultSocket, metricsPort: Int? = 9464) {
        self.socket = socket
        self.metricsPort = metricsPort
    }
}
