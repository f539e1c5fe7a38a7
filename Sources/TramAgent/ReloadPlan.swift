import TramConfig

/// What a reload changes, decided from the running config and the requested one alone. Pure, so its rules are a
/// table of cases (`ReloadPlanTests`); `AgentRuntime.reload` only carries the plan out.
///
/// - Polling, per link: a link whose settings and devices are unchanged keeps polling on its open connection; a
///   changed or removed link is stopped (its port closed and unlocked), and changed or added links start anew. A
///   new `io_threads` restarts every TCP link on a new pool.
/// - The writer is replaced when the schema (points, names, units, the gateway id) or the batch settings changed.
/// - Sinks restart when their settings (or the gateway id) changed. Spool settings and sink names take effect at
///   the next restart, because the spool tracks delivery by sink name: the plan keeps the running ones and says so.
public struct ReloadPlan: Sendable {
    /// The config that will run: the requested one, with the running spool settings and only the sinks the spool
    /// already tracks.
    public var effective: AgentConfig
    /// The requested spool settings differ, and are left for the next restart.
    public var spoolChangeDeferred: Bool
    /// Sinks were added or removed, and are left for the next restart.
    public var sinkNamesChangeDeferred: Bool
    /// The TCP pool is replaced (and every TCP link with it).
    public var replacesTCPPool: Bool
    /// Running links to stop: changed or removed.
    public var stopLinks: Set<String>
    /// Links to start: changed or new.
    public var startLinks: Set<String>
    public var replacesWriter: Bool
    public var restartsSinks: Bool

    /// The sinks a reload runs with: the requested settings of the sinks that exist now. The spool tracks delivery by
    /// sink name, so added or removed sinks wait for a restart.
    public static func effectiveSinks(old: AgentConfig, requested: AgentConfig) -> [SinkSettings] {
        requested.sinks.filter { sink in old.sinks.contains { $0.name == sink.name } }
    }

    /// - Parameters:
    ///   - running: the links polling now.
    ///   - hasTCPPool: whether a TCP pool exists now.
    ///   - schemaChanged: whether the requested config's wire dictionary differs from the running one's (the
    ///     caller builds the new mapping anyway, for the new writer).
    public init(old: AgentConfig, requested: AgentConfig, running: Set<String>, hasTCPPool: Bool, schemaChanged: Bool) {
        var new = requested
        new.spool = old.spool
        spoolChangeDeferred = old.spool != requested.spool
        sinkNamesChangeDeferred = Set(old.sinks.map(\.name)) != Set(requested.sinks.map(\.name))
        new.sinks = Self.effectiveSinks(old: old, requested: requested)
        effective = new

        let poolChanged = old.ioThreads != new.ioThreads
        let before = LinkFingerprint.all(old), after = LinkFingerprint.all(new)
        stopLinks = running.filter { name in
            before[name] != after[name] || (poolChanged && after[name].map { !$0.link.endpoint.isSerialBus } == true)
        }
        let stopping = stopLinks
        startLinks = Set(new.links.map(\.name).filter { stopping.contains($0) || !running.contains($0) })
        replacesTCPPool = poolChanged || (!hasTCPPool && new.links.contains { !$0.endpoint.isSerialBus })
        replacesWriter = schemaChanged || old.batch != new.batch
        restartsSinks = old.sinks != new.sinks || old.gateway.id != new.gateway.id
    }
}
