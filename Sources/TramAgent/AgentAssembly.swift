import Logging
import SystemPackage
import TramBatch
import TramConfig
import TramModbus
import TramSchema
import TramSpool
import TramStageOptions
import TramUplink

/// Config → running stages: where the agent maps its file to each stage's own options (through TramStageOptions,
/// where the defaults live once) and builds the stage. Nothing here starts a thread.
enum AgentAssembly {
    static func spool(_ config: AgentConfig, logger: Logger) throws -> SharedSpool {
        var spoolLogger = logger
        spoolLogger[metadataKey: "stage"] = "spool"
        let options = SpoolOptions(settings: config.spool, sinks: config.sinks.map(\.name))
        return SharedSpool(try Spool(options: options, logger: spoolLogger))
    }

    /// The executor TCP links share, when the config has any.
    static func tcpPool(_ config: AgentConfig) -> IOExecutor? {
        config.links.contains { !$0.endpoint.isSerialBus }
            ? IOExecutor(threads: config.ioThreads, name: "tram-tcp") : nil
    }

    /// One engine per link, so a reload restarts only the links whose polling changed.
    static func engines(_ config: AgentConfig, links: some Sequence<String>, pool: IOExecutor?, logger: Logger)
        -> [String: AcquisitionEngine]
    {
        var engines: [String: AcquisitionEngine] = [:]
        for name in links {
            engines[name] = AcquisitionEngine(
                config: config.restricted(toLink: name), sharedTCPExecutor: pool, logger: logger)
        }
        return engines
    }

    static func uplinks(_ config: AgentConfig, spool: SharedSpool, logger: Logger) -> [UplinkWorker] {
        config.sinks.map { sink in
            UplinkWorker(
                options: SinkOptions(settings: sink, gateway: config.gateway.id), queue: spool,
                spoolDirectory: FilePath(config.spool.directory), logger: logger)
        }
    }

    /// A writer for `mapping` (built once by the caller: 15,000 points make it worth not repeating).
    static func writer(
        _ config: AgentConfig, mapping: SchemaMapping, spool: SharedSpool,
        clockFlags: @escaping @Sendable () -> ClockFlags, logger: Logger
    ) -> BatchWriter {
        var writerLogger = logger
        writerLogger[metadataKey: "stage"] = "writer"
        return BatchWriter(
            mapping: mapping, spool: spool, settings: config.batch, clockFlags: clockFlags, logger: writerLogger)
    }
}
