/// One sink's delivery, as `tramctl status`, the metrics and the logs show it.
public struct UplinkStatus: Sendable, Equatable {
    public var sink: String
    public var url: String
    public var state: UplinkState = .delivering
    /// Uploads attempted, and those that got no 2xx.
    public var uploads = 0
    public var failedUploads = 0
    /// Failed uploads since the last acknowledged one (0 after a success).
    public var consecutiveFailures = 0
    public var batchesDelivered = 0
    public var readingsDelivered = 0
    /// Batches the sink refused as malformed, kept in the dead-letter file.
    public var batchesRejected = 0
    /// Application bytes both ways (headers and bodies), failed requests included.
    public var bytesOnWire = 0
    public var budgetUsedToday = 0
    public var budgetLimit: Int?
    /// Wall-clock milliseconds of the last acknowledged upload (nil: none since start).
    public var lastDeliveryMilliseconds: Int64?
    /// The last failure, in words a technician can act on (never containing the token).
    public var lastProblem: String?

    public init(sink: String, url: String) {
        self.sink = sink
        self.url = url
    }

    /// Why delivery is paused, if it is.
    public var stateProblem: String? {
        if case .paused(let why) = state { return why }
        return nil
    }

    /// A short word for the state: `delivering`, `backing-off`, `paused`, `over-budget`, `stopped`.
    public var stateName: String {
        switch state {
        case .delivering: "delivering"
        case .backingOff: "backing-off"
        case .paused: "paused"
        case .overBudget: "over-budget"
        case .stopped: "stopped"
        }
    }
}
