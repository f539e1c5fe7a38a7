import Logging
import ServiceLifecycle
import TramConfig
import TramConfigFiles
import TramSpool
import TramThreads
import TramUplink
import UnixSignals
import TramCore
internal import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// `tram-agent`'s main: flags, config, logging, then the runtime as a service-lifecycle service, so SIGTERM
/// and SIGINT shut down gracefully and SIGHUP reloads.
public enum AgentDaemon {
    /// Runs the daemon; returns the process exit code.
    public static func main(_ arguments: [String]) async -> Int32 {
        let commandLine: AgentCommandLine
        do { commandLine = try AgentCommandLine(arguments) } catch {
            printError("tram-agent: \(error)\n\n\(AgentCommandLine.usage)")
            return 2
        }
        switch commandLine.mode {
        case .help:
            print(AgentCommandLine.usage)
            return 0
        case .version:
            print("tram-agent \(AgentRuntime.version)")
            return 0
        case .check:
            guard let config = load(commandLine) else { return 1 }
            print(
                "\(commandLine.configPath): valid — gateway \(config.gateway.id), \(config.links.count) links, \(config.devices.count) devices, "
                    + "\(config.devices.reduce(0) { $0 + $1.points.count }) points, \(config.sinks.count) sinks; "
                    + "built-in devices: gateway \(config.health.enabled ? "on" : "off"), modem \(config.modem.mode.word)"
            )
            return 0
        case .run:
            break
        }
        // glibc gives each thread its own malloc arena and keeps what it freed: with a dozen threads that is
        // megabytes of RSS on a gateway. Two arenas are plenty for the agent's few allocating threads.
        _ = mallopt(M_ARENA_MAX, 2)
        // Buffers of 256 KiB and more (upload bodies, batches read back for a sink) come from mmap and go back to the
        // kernel when freed; otherwise glibc raises its threshold after the first large free and keeps them in the heap
        // (measured at 500 devices: 4.5 MB less RSS).
        _ = mallopt(M_MMAP_THRESHOLD, 256 << 10)
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 10)
        // libcurl's global init is not thread-safe: before any thread starts.
        CurlTransport.globalInit()
        let level = Logger.Level(rawValue: commandLine.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return RateLimitedLogHandler(handler, now: { TramClock.system.monotonicMilliseconds() })
        }
        let logger = Logger(label: "tram.agent")
        guard let config = load(commandLine) else { return 1 }
        // Parsing a big agent file peaks above its final size (the node tree); hand the freed heap back, or a
        // 500-device gateway keeps that peak as RSS for good.
        FreedMemory.returnToKernel()
        let clockWatch = ClockWatch(logger: logger)
        let runtime: AgentRuntime
        do {
            // Opening the spool recovers it from disk (reads, fdatasync): off the cooperative pool.
            let configPath = commandLine.configPath
            runtime = try await OwnedThread.offload(name: "tram-start") {
                Result {
                    try AgentRuntime(
                        config: config, configPath: configPath, clockFlags: { clockWatch.flags() },
                        notifier: SystemdNotifier(), logger: logger)
                }
            }.get()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            return 1
        }
        let service = AgentService(runtime: runtime, commandLine: commandLine, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped with an error", metadata: ["error": "\(error)"])
            return 1
        }
        return 0
    }

    /// The config with every diagnostic printed to standard error (file:line:column), or nil if it has errors.
    static func load(_ commandLine: AgentCommandLine) -> AgentConfig? {
        let result = DeviceMapLoader(source: FileConfigSource()).loadAgent(
            commandLine.configPath, profilesDirectory: commandLine.profilesDirectory)
        for diagnostic in result.diagnostics { printError("\(diagnostic)") }
        return result.value
    }

    static func printError(_ text: String) {
        var line = Array(text.utf8)
        line.append(UInt8(ascii: "\n"))
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// The runtime as a service: starts it, reloads on SIGHUP, and stops it on graceful shutdown.
struct AgentService: Service {
    let runtime: AgentRuntime
    let commandLine: AgentCommandLine
    let logger: Logger

    func run() async throws {
        let runtime = self.runtime
        try await OwnedThread.offload(name: "tram-start") { Result { try runtime.start() } }.get()
        FreedMemory.returnToKernel()
        let dropped = CodePages.dropClean()
        logger.debug(
            "dropped start-up code pages",
            metadata: ["mappings": "\(dropped.mappings)", "resident_kib": "\(dropped.residentKilobytes)"])
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in hangups.cancelOnGracefulShutdown() { await reload() }
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            logger.notice("stopping")
        }
        await runtime.stop()
    }

    private func reload() async {
        logger.notice("SIGHUP: reloading the configuration", metadata: ["config": "\(commandLine.configPath)"])
        guard let config = AgentDaemon.load(commandLine) else {
            let why =
                "the new configuration in \(commandLine.configPath) is invalid (see the lines above); the running one is kept"
            logger.error("\(why)")
            runtime.reloadRejected(why)
            return
        }
        await runtime.reload(config)
        FreedMemory.returnToKernel()
    }
}
