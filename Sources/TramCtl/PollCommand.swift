import ArgumentParser
import Logging
import TramConfig
import TramBatch
import TramCompression
import TramModbus
import SystemPackage
import TramSchema
import TramSpool
#if canImport(Glibc)
import Glibc
#endif

/// `tramctl poll`: read configured devices through the same engine the agent uses.
struct PollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poll",
        abstract: "Poll configured devices and print every point with value, unit and quality.")

    @OptionGroup var agentFile: AgentFileOptions

    @Option(help: "Device to poll (repeatable; default: all).")
    var device: [String] = []

    @Option(help: "Poll cycles per device.")
    var cycles: Int = 1

    @Option(help: "Time between cycles (default: each device's poll_interval).")
    var interval: String?

    @Flag(help: "Print one JSON object per device and cycle.")
    var json = false

    @Option(help: "Also write the readings as Tram wire frames to this file (see `tramctl decode`).")
    var frames: String?

    @Option(
        help:
            "Also store the readings as one sealed batch in this spool directory, as the agent does (see `tramctl spool`)."
    )
    var spool: String?

    @Flag(help: "Log link and plan changes to standard error.")
    var verbose = false

    struct PointJSON: Encodable {
        let name: String
        let quality: String
        let raw: Output.RawJSON?
        let bits: String?
        let value: Output.EngineeringJSON?
        let exponent: Int
        let unit: String
        let timestamp_ms: Int64
    }

    struct ReadingJSON: Encodable {
        let device: String
        let cycle: Int
        let health: String
        let last_error: String?
        let map_mismatch: String?
        let requests: Int
        let failed_requests: Int
        let cycle_ms: Double
        let unsupported: [String]
        let points: [PointJSON]
    }

    func run() async throws {
        var agent = try agentFile.load()
        if !device.isEmpty {
            let unknown = device.filter { name in agent.device(named: name) == nil }
            guard unknown.isEmpty else {
                throw ValidationError(
                    "no device \(unknown.joined(separator: ", ")) in \(agentFile.config); devices: \(agent.devices.map(\.name).joined(separator: ", "))"
                )
            }
            agent.devices = agent.devices.filter { device.contains($0.name) }
        }
        let override = try interval.map { try CLIParsing.duration($0, option: "--interval") }
        var logger = Logger(label: "tramctl")
        logger.logLevel = verbose ? .info : .error
        let engine = AcquisitionEngine(config: agent, logger: logger)
        let json = self.json, cycles = self.cycles
        // Devices poll concurrently; each device's cycles run in order.
        let keep = frames != nil || spool != nil
        // Devices poll concurrently; each device's cycles run in order.
        let readings = await withTaskGroup(of: [DeviceReading].self) { group in
            for device in agent.devices {
                group.addTask {
                    let clock = ContinuousClock()
                    var kept: [DeviceReading] = []
                    for cycle in 1...max(1, cycles) {
                        let start = clock.now
                        guard let reading = await engine.poll(device.name) else { break }
                        let took = clock.now - start
                        Self.report(reading, device: device, cycle: cycle, took: took, json: json)
                        if keep { kept.append(reading) }
                        if cycle < cycles { try? await clock.sleep(until: start + (override ?? device.pollInterval)) }
                    }
                    return kept
                }
            }
            var all: [DeviceReading] = []
            for await partial in group { all += partial }
            return all
        }
        await engine.shutdown()
        if let frames {
            let sealed = try Self.seal(readings, config: agent, identity: BatchIdentity(epoch: 1, sequence: 1))
            guard let file = fopen(frames, "wb") else { throw ValidationError("cannot write \(frames)") }
            defer { fclose(file) }
            for bytes in [sealed.dictionary, sealed.batch] {
                _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            }
            Self.describe(sealed, destination: frames)
        }
        if let spool { try store(readings, config: agent, in: spool) }
    }

    /// One dictionary and one sealed (zstd-compressed) batch holding every polled reading.
    struct Sealed {
        var dictionary: [UInt8]
        var schemaID: UInt64
        var plainBytes: Int
        var batch: [UInt8]
        var readings: Int
    }

    static func seal(_ readings: [DeviceReading], config: AgentConfig, identity: BatchIdentity) throws -> Sealed {
        // One batch holds the whole poll: room for 15 MiB encoded, never sealed early by age.
        let builder = BatchBuilder(
            mapping: SchemaMapping(config: config), maximumBytes: 15 << 20, maximumAge: .seconds(1 << 40))
        let ordered = readings.sorted {
            ($0.points.first?.timestamp.wallMilliseconds ?? 0) < ($1.points.first?.timestamp.wallMilliseconds ?? 0)
        }
        builder.begin(
            identity, baseTimeMilliseconds: ordered.first?.points.first?.timestamp.wallMilliseconds ?? 0,
            atMonotonicMilliseconds: 0)
        for reading in ordered { try builder.append(reading) }
        let sealed = try builder.seal()
        return Sealed(
            dictionary: builder.dictionaryFrame, schemaID: builder.schemaID, plainBytes: sealed.plainBytes,
            batch: Array(sealed.frame), readings: sealed.readings)
    }

    /// Appends the dictionary and the batch to a spool (taking its lock, as the agent would) and closes it cleanly.
    private func store(_ readings: [DeviceReading], config: AgentConfig, in directory: String) throws {
        var logger = Logger(label: "tramctl.spool")
        logger.logLevel = verbose ? .info : .error
        let spool: Spool
        do { spool = try Spool(options: SpoolOptions(directory: FilePath(directory)), logger: logger) } catch {
            throw ValidationError("\(error)")
        }
        let identity = spool.nextIdentity
        let sealed = try Self.seal(readings, config: config, identity: identity)
        _ = sealed.dictionary.withUnsafeBytes { spool.appendDictionary($0, schemaID: sealed.schemaID) }
        let outcome = sealed.batch.withUnsafeBytes {
            spool.appendBatch($0, identity: identity, readings: sealed.readings, schemaID: sealed.schemaID)
        }
        do { try spool.close() } catch { throw ValidationError("cannot sync the spool in \(directory): \(error)") }
        guard outcome == .stored else {
            throw ValidationError("the spool in \(directory) did not store the batch: \(outcome)")
        }
        Self.describe(sealed, destination: "\(directory) as batch \(identity)")
    }

    private static func describe(_ sealed: Sealed, destination: String) {
        print(
            "wrote \(destination): dictionary \(sealed.dictionary.count) B, batch \(sealed.plainBytes) B raw, \(sealed.batch.count) B zstd for \(sealed.readings) readings "
                + "(\(Output.json(Output.NumberJSON(value: (Double(sealed.batch.count) / Double(max(1, sealed.readings)) * 100).rounded() / 100))) B per reading)",
            to: &standardError)
    }

    static func report(_ reading: DeviceReading, device: DeviceConfig, cycle: Int, took: Duration, json: Bool) {
        let failed = reading.requests.filter { $0.error != nil }.count
        let points = reading.points.map { r in
            let point = device.points[r.point]
            return PointJSON(
                name: point.name, quality: r.quality.description, raw: r.value.map { Output.RawJSON(value: $0) },
                bits: r.value.flatMap { Output.bitsHex($0, type: point.type) },
                value: r.value.flatMap { Output.EngineeringJSON($0, point: point, exponent: r.exponent) },
                exponent: r.exponent, unit: point.unit, timestamp_ms: r.timestamp.wallMilliseconds)
        }
        if json {
            print(
                Output.json(
                    ReadingJSON(
                        device: reading.device, cycle: cycle, health: reading.health.state.rawValue,
                        last_error: reading.health.lastError, map_mismatch: reading.health.mapMismatch,
                        requests: reading.requests.count, failed_requests: failed,
                        cycle_ms: Double(took.microseconds) / 1000, unsupported: reading.health.unsupportedPoints,
                        points: points)))
            fflush(nil)
            return
        }
        var text =
            "\(reading.device) (unit \(device.unit) on \(device.link)): \(reading.health.state.rawValue), \(reading.requests.count - failed)/\(reading.requests.count) requests ok in \(Double(took.microseconds) / 1000) ms"
        if let error = reading.health.lastError, failed > 0 { text += "; last error: \(error)" }
        if let mismatch = reading.health.mapMismatch { text += "\n  WARNING: \(mismatch)" }
        print(text)
        let rows = zip(points, reading.points).map { p, r -> [String] in
            let value =
                r.value.map { Output.engineering($0, point: device.points[r.point], exponent: r.exponent) } ?? "-"
            return ["  " + p.name, value, p.unit, r.value?.description ?? "-", p.quality]
        }
        print(Output.table(["  point", "value", "unit", "raw", "quality"], rows))
        print("")
        fflush(nil)
    }
}
