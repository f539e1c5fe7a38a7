import Foundation
import Logging
import SystemPackage
import Testing
import TramCompression
import TramLineProtocol
import TramSchema
import TramSpool
@testable import TramUplink

/// The real `victoria-metrics` (Debian package) on a loopback port, its storage in a temporary directory.
final class VictoriaMetricsProcess {
    static let binary = "/usr/bin/victoria-metrics"
    static var installed: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    let directory: URL
    let process = Process()
    let port: Int

    init(extra: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tram-uplink-vm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The port the kernel gave a loopback listener, free again once that listener is gone.
        port = try UplinkLinkFailureTests.SilentPeer().port
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments =
            [
                "-httpListenAddr=127.0.0.1:\(port)", "-storageDataPath=\(directory.path)",
                "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN",
            ] + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while ask("/health") != "OK" {
            guard Date() < deadline, process.isRunning else {
                process.terminate()
                throw CocoaError(
                    .fileReadUnknown,
                    userInfo: [NSDebugDescriptionErrorKey: "victoria-metrics did not come up on port \(port)"])
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var writeURL: String { "\(url)/write?precision=ms" }

    /// Asks VictoriaMetrics through the uplink's own transport: a POST with a form body (its API takes POST everywhere).
    func ask(_ path: String, form: String = "") -> String? {
        var options = TransportOptions(url: url + path, gateway: "test", token: nil)
        options.contentType = "application/x-www-form-urlencoded"
        guard let transport = try? CurlTransport(options, logger: quietLogger("vm")),
            case .success(let response) = transport.post(Array(form.utf8), batches: ""),
            (200..<300).contains(response.status)
        else { return nil }
        return response.bodyText
    }

    struct SampleKey: Hashable, CustomStringConvertible {
        var metric: String
        var gateway: String
        var device: String
        var time: Int64
        var description: String { "\(metric){gateway=\(gateway),device=\(device)}@\(time)" }
    }

    /// Every `tram_*` sample VictoriaMetrics stores, after a flush: more than one value per key is a duplicate.
    func samples() throws -> [SampleKey: [Double]] {
        _ = ask("/internal/force_flush")
        let match = #"{__name__=~"tram_.*"}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        guard let text = ask("/api/v1/export", form: "match%5B%5D=\(match)") else { throw CocoaError(.fileReadUnknown) }
        var out: [SampleKey: [Double]] = [:]
        for line in text.split(separator: "\n") {
            guard let series = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let metric = series["metric"] as? [String: String],
                let values = series["values"] as? [NSNumber], let times = series["timestamps"] as? [NSNumber]
            else {
                Issue.record("unexpected export line: \(line)")
                continue
            }
            for (value, time) in zip(values, times) {
                let key = SampleKey(
                    metric: metric["__name__"] ?? "", gateway: metric["gateway"] ?? "", device: metric["device"] ?? "",
                    time: time.int64Value)
                out[key, default: []].append(value.doubleValue)
            }
        }
        return out
    }
}

/// A spool whose batches hold every kind of value a line-protocol sink must carry, skip or hold back, with the
/// samples VictoriaMetrics must end up holding, worked out here independently of the renderer.
final class LineProtocolSpool {
    static let gateway = "gw-lp"
    let directory: URL
    let spool: Spool
    let dictionary: SchemaDictionary
    /// (metric, gateway, device, time) → the one value VictoriaMetrics must hold.
    private(set) var expected: [VictoriaMetricsProcess.SampleKey: Double] = [:]
    /// Readings that must be skipped (string, missing, NaN) and held back (1970).
    private(set) var skipped = 0
    private(set) var heldBack = 0
    private(set) var readings = 0
    /// Every batch's frame as spooled.
    private(set) var frames: [BatchIdentity: [UInt8]] = [:]
    /// Recent, plausible times: now, less an hour (so the hold-back rule sends them).
    let baseTime = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000

    init(sinks: [String] = ["victoria"]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tram-uplink-lp-spool-\(UUID().uuidString)")
        var logger = Logger(label: "test.spool")
        logger.logLevel = .critical
        spool = try Spool(options: SpoolOptions(directory: FilePath(directory.path), sinks: sinks), logger: logger)
        dictionary = SchemaDictionary(
            gateway: Self.gateway,
            points: [
                PointDescriptor(device: "meter", name: "voltage", unit: "V", type: .float32),  // 0
                PointDescriptor(device: "meter", name: "energy", unit: "kWh", type: .uint32, scale: 0.5),  // 1
                PointDescriptor(device: "meter", name: "status", type: .string),  // 2
                PointDescriptor(device: "meter", name: "breaker_closed", type: .bool),  // 3
                PointDescriptor(device: "meter", name: "counter", type: .int64),  // 4
                PointDescriptor(device: "meter", name: "temperature", unit: "°C", type: .int16),  // 5
                PointDescriptor(device: "pv", name: "w_sf", type: .int16),  // 6
                PointDescriptor(device: "pv", name: "power", unit: "W", type: .int16, exponentAlias: 6),  // 7
                PointDescriptor(device: "pv", name: "frequency", unit: "Hz", type: .float64),  // 8
                PointDescriptor(device: "pv", name: "dc_power", unit: "W", type: .uint16),  // 9
                PointDescriptor(device: "pv", name: "insulation", unit: "kOhm", type: .float32),  // 10
            ])
        let frame = dictionary.frame()
        _ = frame.withUnsafeBytes { spool.appendDictionary($0, schemaID: dictionary.schemaID) }
    }

    deinit {
        try? spool.close()
        try? FileManager.default.removeItem(at: directory)
    }

    private func expect(_ point: String, _ device: String, _ time: Int64, _ value: Double) {
        expected[.init(metric: "tram_\(point)", gateway: Self.gateway, device: device, time: time)] = value
    }

    /// Appends `count` batches of `groups` meter and pv groups each. `corrupt` damages the frames (their checksum);
    /// `year1970` stamps them with an unset clock's time (held back, never sent).
    @discardableResult
    func append(_ count: Int, groups: Int = 3, corrupt: Bool = false, year1970: Bool = false) throws -> [BatchIdentity]
    {
        var identities: [BatchIdentity] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        let compressor = FrameCompressor(capacity: 1 << 20)
        for _ in 0..<count {
            let identity = spool.nextIdentity
            let s = Int64(identity.sequence)
            let t0 = year1970 ? 5_000 + s * 10_000 : baseTime + s * 10_000
            var batchReadings = 0
            encoder.begin(epoch: identity.epoch, sequence: identity.sequence, baseTimeMilliseconds: t0)
            for g in 0..<Int64(groups) {
                let time = t0 + g * 1000
                let voltage = Float(230.5) + Float(g) * 0.25 + Float(s)  // exact in float32 and in decimal
                let energy = UInt64(1_000_001 + s * 100 + g)  // × 0.5: 500000.5 …
                let counter = Int64(9_007_199_254_740_000) + s * 10 + g  // exact up to 2^53
                let meter: [WireValue] = [
                    .float32(bits: voltage.bitPattern), .uint(energy), .string("ok-\(s)-\(g)"),
                    .bool(g % 2 == 0), .int(counter), .int(-5 - g),
                ]
                let clock: ClockFlags = year1970 ? [] : .synchronised
                try meter.withUnsafeBufferPointer {
                    try encoder.append(timeMilliseconds: time, clock: clock, firstAlias: 0, values: $0)
                }
                let power = Int64(17822 + s * 10 + g)  // × 10^-1: 1782.2 …
                let frequency = [50.02, 49.98, 50.0, 50.01][Int(g) % 4]
                let pv: [WireValue] = [
                    .int(-1), .int(power), .float64(bits: frequency.bitPattern),
                    g == 1 ? .missing(.timeout) : .uint(UInt64(1000 + g)), .float32(bits: Float.nan.bitPattern),
                ]
                try pv.withUnsafeBufferPointer {
                    try encoder.append(timeMilliseconds: time + 3, clock: clock, firstAlias: 6, values: $0)
                }
                batchReadings += meter.count + pv.count
                guard !corrupt else { continue }
                if year1970 { heldBack += meter.count + pv.count; continue }
                expect("voltage", "meter", time, Double(voltage))
                expect("energy", "meter", time, Double(energy) / 2)
                expect("breaker_closed", "meter", time, g % 2 == 0 ? 1 : 0)
                expect("counter", "meter", time, Double(counter))
                expect("temperature", "meter", time, Double(-5 - g))
                expect("w_sf", "pv", time + 3, -1)
                expect("power", "pv", time + 3, Double(power) / 10)
                expect("frequency", "pv", time + 3, frequency)
                if g != 1 { expect("dc_power", "pv", time + 3, Double(1000 + g)) }
                skipped += g == 1 ? 3 : 2  // status, NaN, and the timeout
            }
            var frame = Array(try compressor.compress(try encoder.seal()))
            if corrupt { frame[frame.count - 1] ^= 0xFF }
            frames[identity] = frame
            let outcome = frame.withUnsafeBytes {
                spool.appendBatch($0, identity: identity, readings: batchReadings, schemaID: dictionary.schemaID)
            }
            #expect(outcome == .stored)
            if !corrupt { readings += batchReadings }
            identities.append(identity)
        }
        return identities
    }

    /// Delivers until the spool offers nothing more; the reports in order.
    func deliverAll(_ uplink: Uplink) -> [DeliveryReport] {
        var reports: [DeliveryReport] = []
        for _ in 0..<50 {
            let report = uplink.deliverOnce(spool: spool)
            if report.batches.isEmpty { break }
            reports.append(report)
        }
        return reports
    }
}

func lineProtocolUplink(sink: String = "victoria", url: String, deadLetterPath: FilePath? = nil) throws -> Uplink {
    var options = TransportOptions(url: url, gateway: LineProtocolSpool.gateway, token: nil)
    options.contentType = "text/plain; charset=utf-8"
    return Uplink(
        sink: sink, kind: .lineProtocol, transport: try CurlTransport(options, logger: quietLogger("t")),
        deadLetterPath: deadLetterPath, logger: quietLogger("u"))
}

@Suite("Uplink: the line-protocol body")
struct LineProtocolBodyTests {
    @Test("batches render as the relay's lines: engineering values, exact integers, skips and hold-backs counted")
    func rendersLikeTheRelay() throws {
        let filled = try LineProtocolSpool()
        try filled.append(1, groups: 2)
        try filled.append(1, groups: 1, year1970: true)
        let batches = filled.spool.nextBatches(for: "victoria")
        var body = LineProtocolBody()
        let rendered = body.render(batches, now: filled.baseTime + 3_600_000) { filled.spool.dictionary(schemaID: $0) }
        #expect(rendered.batches.count == 2 && rendered.malformed.isEmpty && rendered.unknownSchemas.isEmpty)
        let t = filled.baseTime
        #expect(
            String(decoding: rendered.body, as: UTF8.self) == """
                tram,gateway=gw-lp,device=meter voltage=230.5,energy=500000.5,breaker_closed=true,counter=9007199254740000i,temperature=-5i \(t)
                tram,gateway=gw-lp,device=pv w_sf=-1i,power=1782.2,frequency=50.02,dc_power=1000i \(t + 3)
                tram,gateway=gw-lp,device=meter voltage=230.75,energy=500001.0,breaker_closed=false,counter=9007199254740001i,temperature=-6i \(t + 1000)
                tram,gateway=gw-lp,device=pv w_sf=-1i,power=1782.3,frequency=49.98 \(t + 1003)

                """)
        var tally = LineTally()
        tally.sent = 17
        tally.skipped = 5
        tally.heldUnsynchronised = 11
        #expect(rendered.tally == tally)
        #expect(rendered.lines == 4)
    }

    @Test(
        "a frame that does not decode is reported as malformed, not trapped on; a missing dictionary is reported apart")
    func malformedAndUnknown() throws {
        let filled = try LineProtocolSpool()
        try filled.append(1)
        let bad = try filled.append(1, corrupt: true)
        var batches = filled.spool.nextBatches(for: "victoria")
        var truncated = batches[0]
        truncated.identity = BatchIdentity(epoch: truncated.identity.epoch, sequence: 99)
        truncated.frame.removeLast(7)
        var foreign = batches[0]
        foreign.schemaID = 0xDEAD
        batches += [truncated, foreign]
        var body = LineProtocolBody()
        let rendered = body.render(batches, now: filled.baseTime) { filled.spool.dictionary(schemaID: $0) }
        #expect(rendered.batches.map(\.identity) == [batches[0].identity])
        #expect(rendered.malformed.map(\.batch.identity) == bad + [truncated.identity])
        #expect(rendered.unknownSchemas == [0xDEAD])
    }
}

@Suite(
    "Uplink against the real VictoriaMetrics (line protocol)", .serialized,
    .enabled(
        if: VictoriaMetricsProcess.installed,
        "victoria-metrics is not installed at /usr/bin/victoria-metrics (scripts/setup --test installs it)"))
struct UplinkVictoriaMetricsTests {

    @Test(
        "every value sent arrives exactly: floats, scaled and SunSpec values, integers, booleans, timestamps and tags")
    func valuesArriveExactly() throws {
        let vm = try VictoriaMetricsProcess()
        let filled = try LineProtocolSpool()
        try filled.append(4)
        try filled.append(1, year1970: true)
        try filled.append(3, groups: 2)
        let uplink = try lineProtocolUplink(url: vm.writeURL)
        let reports = filled.deliverAll(uplink)
        #expect(reports.allSatisfy { $0.action == .acknowledge && $0.status == 204 }, "\(reports)")
        var tally = LineTally()
        for report in reports { tally += report.lines }
        #expect(tally.sent == filled.expected.count)
        #expect(tally.skipped == filled.skipped)
        #expect(
            tally.heldUnsynchronised == filled.heldBack && tally.heldSynchronised == 0 && tally.unsynchronisedSent == 0)

        let stored = try vm.samples()
        #expect(stored.count == filled.expected.count)
        for (key, value) in filled.expected {
            #expect(stored[key] == [value], "\(key)")
        }
        for key in stored.keys where filled.expected[key] == nil {
            Issue.record("VictoriaMetrics holds a sample that was not to be sent: \(key) = \(stored[key]!)")
        }
    }

    @Test("the spool counts the batches delivered and its books balance")
    func booksBalance() throws {
        let vm = try VictoriaMetricsProcess()
        let filled = try LineProtocolSpool()
        try filled.append(6)
        let uplink = try lineProtocolUplink(url: vm.writeURL)
        uplink.maximumUploadBytes = 1  // one batch per upload: each is acknowledged on its own
        let reports = filled.deliverAll(uplink)
        #expect(reports.count == 6)
        let counters = filled.spool.counters
        #expect(counters.delivered == Tally(readings: filled.readings, batches: 6))
        #expect(counters.buffered == Tally())
        #expect(counters.balances)
        #expect(uplink.deliverOnce(spool: filled.spool).batches.isEmpty)
        #expect(try vm.samples().count == filled.expected.count)
    }

    @Test("a batch whose frame is corrupt is dead-lettered without blocking the batches after it")
    func corruptBatchIsDeadLettered() throws {
        let vm = try VictoriaMetricsProcess()
        let filled = try LineProtocolSpool()
        try filled.append(2)
        let bad = try filled.append(1, corrupt: true)
        try filled.append(2)
        let deadLetters = vm.directory.appendingPathComponent("dead-letter.frames").path
        let uplink = try lineProtocolUplink(url: vm.writeURL, deadLetterPath: FilePath(deadLetters))
        let reports = filled.deliverAll(uplink)
        #expect(reports.flatMap(\.deadLettered) == bad)
        #expect(reports.allSatisfy { $0.action == .acknowledge }, "\(reports)")
        #expect(uplink.state == .delivering)
        let counters = filled.spool.counters
        #expect(counters.delivered == Tally(readings: filled.readings, batches: 4))
        #expect(counters.dropped[.rejected]?.batches == 1 && counters.buffered == Tally())
        #expect(counters.balances)
        #expect(try vm.samples().count == filled.expected.count)
        // The dead-letter file holds the frame as spooled, for `tramctl decode` or a later replay.
        #expect(FileManager.default.contents(atPath: deadLetters).map { Array($0) } == filled.frames[bad[0]])
    }

    @Test("at least once: a resend writes the same samples again; -dedup.minScrapeInterval=1ms collapses them")
    func resendsCollapseWithDedup() throws {
        for dedup in [false, true] {
            let vm = try VictoriaMetricsProcess(extra: dedup ? ["-dedup.minScrapeInterval=1ms"] : [])
            // Two sinks of one spool, both to the same VictoriaMetrics: every batch is sent twice, as after a lost answer.
            let filled = try LineProtocolSpool(sinks: ["first", "again"])
            try filled.append(3)
            for sink in ["first", "again"] {
                let reports = filled.deliverAll(try lineProtocolUplink(sink: sink, url: vm.writeURL))
                #expect(reports.allSatisfy { $0.action == .acknowledge }, "\(reports)")
            }
            let stored = try vm.samples()
            #expect(stored.count == filled.expected.count)
            for (key, value) in filled.expected {
                // Without deduplication VictoriaMetrics keeps both samples (docs/uplink.md).
                #expect(stored[key] == (dedup ? [value] : [value, value]), "\(key), dedup \(dedup)")
            }
        }
    }
}
