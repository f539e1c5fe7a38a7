import CAllocationCounter
import CZlib
import Foundation
import SwiftProtobuf
import TramCompression
import TramSchema

/// Bytes, time and allocations per reading for Tram's wire format and the alternatives, on one trace, in one run.
///
/// A reading is a value a device gave: a trace's device cycles hold only those, so every format carries the same
/// readings and bytes per reading is what a plant's link pays for each. A batch is `batchSeconds` of wall time
/// (`windows`), its cycles in time order, one group (one Sparkplug payload) per device cycle.
enum WireBenchmark {
    struct Result {
        var format: String
        var batchSeconds: Int
        var readings = 0
        var batches = 0
        var rawBytes = 0
        var gzipBytes = 0
        var zstdBytes = 0
        var encodeNanoseconds: UInt64 = 0
        var decodeNanoseconds: UInt64 = 0
        var allocations: UInt64 = 0
        /// Time to compress the frames (Tram only): zstd through FrameCompressor, and gzip.
        var zstdNanoseconds: UInt64 = 0
        var gzipNanoseconds: UInt64 = 0
    }

    static func run(_ trace: Trace, batchSeconds: [Int]) {
        let partial = trace.partialTicks
        print(
            "trace: \(trace.names.count) points on \(trace.devices.count) device\(trace.devices.count == 1 ? "" : "s"), "
                + "\(trace.ticks.count) device cycles (\(partial) with only some of their device's points), "
                + "\(trace.readings) readings")
        // The filled trace is built once, outside the timings; readings are still counted on the real ones.
        let filled = partial > 0 ? trace.filled : nil
        print("format        batch  B/reading raw  gzip   zstd   encode ns/rd  decode ns/rd  allocs/batch")
        for seconds in batchSeconds {
            // TRAM_WIRE_FORMATS=tram,influx limits the run (for profiling one format).
            let only = ProcessInfo.processInfo.environment["TRAM_WIRE_FORMATS"]?.split(separator: ",").map(String.init)
            var formats: [(String, (Trace, Int) -> Result)] = [("tram", { tram($0, $1) })]
            if let filled {
                formats.append(("tram-missing", { _, seconds in tram(filled, seconds, format: "tram-missing") }))
            }
            formats += [
                ("influx", influx), ("json", json),
                ("sparkplug", { sparkplug($0, $1) }), ("sparkplug+ts", { sparkplug($0, $1, metricTimestamps: true) }),
            ]
            for (name, measure) in formats where only?.contains(name) ?? true {
                let result = measure(trace, seconds)
                let n = Double(max(1, result.readings))
                print(
                    result.format.padding(14) + "\(seconds)s".padding(7) + fmt(Double(result.rawBytes) / n).padding(15)
                        + fmt(Double(result.gzipBytes) / n).padding(7) + fmt(Double(result.zstdBytes) / n).padding(7)
                        + fmt(Double(result.encodeNanoseconds) / n, 1).padding(14)
                        + fmt(Double(result.decodeNanoseconds) / n, 1).padding(14)
                        + fmt(Double(result.allocations) / Double(max(1, result.batches)), 1))
                if result.zstdNanoseconds > 0 {
                    print(
                        "         compressing tram frames: zstd \(fmt(Double(result.zstdNanoseconds) / n, 1)) ns/rd, gzip \(fmt(Double(result.gzipNanoseconds) / n, 1)) ns/rd"
                    )
                }
            }
        }
        if partial > 0 {
            print(
                "(tram: a cycle with every point of its device is a range group, one with only some a sparse group (v2);"
            )
            print(" tram-missing: every cycle a range group over its device's points, the absent ones marked missing.)")
        }
        print(
            "(sparkplug: Sparkplug B DDATA, one payload per device cycle, metrics by alias with no name or timestamp, swift-protobuf;"
        )
        print(" sparkplug+ts: the same with each metric's timestamp, which Sparkplug 3.0 requires in DDATA.)")
    }

    static func fmt(_ value: Double, _ decimals: Int = 2) -> String {
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        return String((value * factor).rounded() / factor)
    }

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// The batches: `seconds` of wall time each, on a grid that starts half a second before the first cycle, so that
    /// a device's polls and their jitter of a few ms never straddle a boundary (the standard trace: `seconds` polls
    /// a batch). A stretch with no cycles makes no batch.
    static func windows(_ trace: Trace, _ seconds: Int) -> [ArraySlice<Tick>] {
        guard let first = trace.ticks.first?.timeMilliseconds else { return [] }
        let span = Int64(seconds) * 1000
        var result: [ArraySlice<Tick>] = []
        var start = 0
        var window = Int64.min
        for (index, tick) in trace.ticks.enumerated() {
            let this = (tick.timeMilliseconds - first + 500) / span
            if this != window {
                if index > start { result.append(trace.ticks[start..<index]) }
                start = index
                window = this
            }
        }
        result.append(trace.ticks[start...])
        return result
    }

    /// The readings of a window: its values that are not missing.
    static func readings(_ window: ArraySlice<Tick>) -> Int { window.reduce(0) { $0 + $1.readings } }

    /// The values of a window, one line, JSON object or metric each.
    static func values(_ window: ArraySlice<Tick>) -> Int { window.reduce(0) { $0 + $1.values.count } }

    /// Books one encoded batch: the encode time and allocations since `start`, then its sizes raw and compressed.
    static func encoded(
        _ bytes: UnsafeRawBufferPointer, readings: Int, start: UInt64, allocationsBefore: UInt64,
        into result: inout Result
    ) {
        result.encodeNanoseconds += now() - start
        result.allocations += tram_allocations_on_this_thread() - allocationsBefore
        result.batches += 1
        result.readings += readings
        compress(bytes, into: &result)
    }

    static func compress(_ bytes: UnsafeRawBufferPointer, into result: inout Result) {
        result.rawBytes += bytes.count
        result.gzipBytes += gzip(bytes)
        result.zstdBytes += zstd(bytes)
    }

    // MARK: Tram

    /// One group per device cycle: a range group when the cycle has its device's points from `firstAlias` on, a sparse
    /// group (version 2) when it lists its aliases.
    static func tram(_ trace: Trace, _ seconds: Int, format: String = "tram") -> Result {
        var result = Result(format: format, batchSeconds: seconds)
        let dictionary = trace.dictionary
        let id = dictionary.schemaID
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        let compressor = FrameCompressor(capacity: buffer.count)
        var sequence: UInt64 = 0
        for window in windows(trace, seconds) {
            let allocationsBefore = tram_allocations_on_this_thread()
            let start = now()
            encoder.begin(epoch: 1, sequence: sequence, baseTimeMilliseconds: window.first!.timeMilliseconds)
            for tick in window {
                do {
                    try tick.values.withUnsafeBufferPointer { values throws(WireError) in
                        if let aliases = tick.aliases {
                            try aliases.withUnsafeBufferPointer { aliases throws(WireError) in
                                try encoder.append(
                                    timeMilliseconds: tick.timeMilliseconds, clock: .synchronised, aliases: aliases,
                                    values: values)
                            }
                        } else {
                            try encoder.append(
                                timeMilliseconds: tick.timeMilliseconds, clock: .synchronised,
                                firstAlias: tick.firstAlias, values: values)
                        }
                    }
                } catch {
                    fatalError("Tram encoding failed: \(error)")
                }
            }
            guard let frame = try? encoder.seal() else { fatalError("encoder buffer too small") }
            let readings = Self.readings(window)
            encoded(frame, readings: readings, start: start, allocationsBefore: allocationsBefore, into: &result)
            sequence += 1
            let zstdStart = now()
            _ = try? compressor.compress(frame)
            result.zstdNanoseconds += now() - zstdStart
            let gzipStart = now()
            _ = gzip(frame)
            result.gzipNanoseconds += now() - gzipStart
            let decodeStart = now()
            let decoded = try? FrameDecoder.decode(frame, dictionary: { $0 == id ? dictionary : nil })
            result.decodeNanoseconds += now() - decodeStart
            guard case .batch(let batch)? = decoded?.frame else { fatalError("Tram frame failed to decode") }
            if result.batches == 1 { checkTram(batch, window) }
        }
        return result
    }

    /// Outside the timings: the first batch decodes back to the window's cycles, alias for alias and value for value.
    static func checkTram(_ batch: DecodedBatch, _ window: ArraySlice<Tick>) {
        precondition(batch.groups.count == window.count, "Tram batch decoded to \(batch.groups.count) groups")
        for (group, tick) in zip(batch.groups, window) {
            let aliases = group.aliases ?? Array(group.firstAlias..<group.firstAlias + group.values.count)
            precondition(
                group.timeMilliseconds == tick.timeMilliseconds && group.values == tick.values
                    && aliases == tick.values.indices.map(tick.alias(at:)),
                "Tram group at \(tick.timeMilliseconds) differs")
        }
    }

    // MARK: Influx line protocol, one line per reading

    static func influx(_ trace: Trace, _ seconds: Int) -> Result {
        var result = Result(format: "influx", batchSeconds: seconds)
        for window in windows(trace, seconds) {
            let allocationsBefore = tram_allocations_on_this_thread()
            let start = now()
            var text = ""
            for tick in window {
                let device = trace.devices[tick.device].name
                for (index, value) in tick.values.enumerated() {
                    text += "tram,gateway=gw-bench,device=\(device),point=\(trace.names[tick.alias(at: index)]) value="
                    switch value {
                    case .int(let v): text += "\(v)i"
                    case .uint(let v): text += "\(v)u"
                    case .float32(let bits): text += "\(Float(bitPattern: bits))"
                    case .float64(let bits): text += "\(Double(bitPattern: bits))"
                    case .bool(let b): text += b ? "true" : "false"
                    case .string(let s): text += "\"\(s)\""
                    case .missing: text += "0i,quality=1i"
                    }
                    text += " \(tick.timeMilliseconds)\n"
                }
            }
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes {
                encoded(
                    $0, readings: readings(window), start: start, allocationsBefore: allocationsBefore, into: &result)
            }
            let decodeStart = now()
            var parsed = 0
            for line in bytes.split(separator: 0x0A) {
                let parts = line.split(separator: 0x20)
                if parts.count == 3, parts[1].starts(with: Array("value=".utf8)) { parsed += 1 }
            }
            result.decodeNanoseconds += now() - decodeStart
            precondition(parsed == values(window))
        }
        return result
    }

    // MARK: JSON, one object per reading (JSONEncoder)

    struct JSONReading: Codable {
        var ts: Int64
        var device: String
        var point: String
        var value: Double
    }

    static func json(_ trace: Trace, _ seconds: Int) -> Result {
        var result = Result(format: "json", batchSeconds: seconds)
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        for window in windows(trace, seconds) {
            let allocationsBefore = tram_allocations_on_this_thread()
            let start = now()
            var readings: [JSONReading] = []
            for tick in window {
                let device = trace.devices[tick.device].name
                for (index, value) in tick.values.enumerated() {
                    let number: Double
                    switch value {
                    case .int(let v): number = Double(v)
                    case .uint(let v): number = Double(v)
                    case .float32(let bits): number = Double(Float(bitPattern: bits))
                    case .float64(let bits): number = Double(bitPattern: bits)
                    case .bool(let b): number = b ? 1 : 0
                    default: number = 0
                    }
                    readings.append(
                        JSONReading(
                            ts: tick.timeMilliseconds, device: device, point: trace.names[tick.alias(at: index)],
                            value: number))
                }
            }
            let data = (try? encoder.encode(readings)) ?? Data()
            data.withUnsafeBytes {
                encoded(
                    $0, readings: Self.readings(window), start: start, allocationsBefore: allocationsBefore,
                    into: &result)
            }
            let decodeStart = now()
            let decoded = try? decoder.decode([JSONReading].self, from: data)
            result.decodeNanoseconds += now() - decodeStart
            precondition(decoded?.count == readings.count)
        }
        return result
    }

    // MARK: Sparkplug B DDATA with aliases (swift-protobuf, Tahu's sparkplug_b.proto)

    typealias SparkplugPayload = Org_Eclipse_Tahu_Protobuf_Payload
    typealias SparkplugDataType = Org_Eclipse_Tahu_Protobuf_DataType

    /// One DDATA payload per device cycle: the payload's timestamp is the cycle's, `seq` counts payloads modulo 256, and
    /// each reading is a metric with its alias (the point's index), no name, its datatype and its value in the oneof field
    /// the Sparkplug 3.0 spec gives for that datatype. The per-metric timestamp is left out unless `metricTimestamps`.
    /// A batch is the payloads one after another, each preceded by its length as a varint.
    static func sparkplug(_ trace: Trace, _ seconds: Int, metricTimestamps: Bool = false) -> Result {
        var result = Result(format: metricTimestamps ? "sparkplug+ts" : "sparkplug", batchSeconds: seconds)
        let datatypes = trace.types.map { UInt32(sparkplugDataType($0).rawValue) }
        var sequence: UInt64 = 0
        for window in windows(trace, seconds) {
            let allocationsBefore = tram_allocations_on_this_thread()
            let start = now()
            var batch: [UInt8] = []
            for tick in window {
                var payload = SparkplugPayload()
                payload.timestamp = UInt64(tick.timeMilliseconds)
                payload.seq = sequence & 0xFF
                sequence += 1
                payload.metrics.reserveCapacity(tick.values.count)
                for (index, value) in tick.values.enumerated() {
                    let alias = tick.alias(at: index)
                    var metric = SparkplugPayload.Metric()
                    metric.alias = UInt64(alias)
                    metric.datatype = datatypes[alias]
                    if metricTimestamps { metric.timestamp = UInt64(tick.timeMilliseconds) }
                    setSparkplugValue(&metric, value, trace.types[alias])
                    payload.metrics.append(metric)
                }
                guard let bytes: [UInt8] = try? payload.serializedBytes() else {
                    fatalError("Sparkplug payload failed to encode")
                }
                appendVarint(UInt64(bytes.count), to: &batch)
                batch.append(contentsOf: bytes)
            }
            batch.withUnsafeBytes {
                encoded(
                    $0, readings: readings(window), start: start, allocationsBefore: allocationsBefore, into: &result)
            }
            let decodeStart = now()
            var metrics = 0
            batch.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let length = Int(readVarint(bytes, &offset))
                    let view = ByteView(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]))
                    guard let payload = try? SparkplugPayload(serializedBytes: view) else {
                        fatalError("Sparkplug payload failed to decode")
                    }
                    metrics += payload.metrics.count
                    offset += length
                }
            }
            result.decodeNanoseconds += now() - decodeStart
            precondition(metrics == values(window), "Sparkplug batch decoded to \(metrics) metrics")
            if result.batches == 1 { checkSparkplug(batch, window, trace, metricTimestamps) }
        }
        return result
    }

    /// Outside the timings: the first batch decodes back to the trace's cycles, value for value.
    static func checkSparkplug(_ batch: [UInt8], _ window: ArraySlice<Tick>, _ trace: Trace, _ metricTimestamps: Bool) {
        batch.withUnsafeBytes { bytes in
            var offset = 0
            for tick in window {
                let length = Int(readVarint(bytes, &offset))
                let payload = try! SparkplugPayload(
                    serializedBytes: ByteView(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])))
                offset += length
                precondition(
                    payload.timestamp == UInt64(tick.timeMilliseconds) && payload.metrics.count == tick.values.count)
                for (index, value) in tick.values.enumerated() {
                    let alias = tick.alias(at: index)
                    let metric = payload.metrics[index]
                    var expected = SparkplugPayload.Metric()
                    expected.alias = UInt64(alias)
                    expected.datatype = UInt32(sparkplugDataType(trace.types[alias]).rawValue)
                    if metricTimestamps { expected.timestamp = UInt64(tick.timeMilliseconds) }
                    setSparkplugValue(&expected, value, trace.types[alias])
                    precondition(
                        metric == expected && !metric.hasName && metric.hasTimestamp == metricTimestamps,
                        "Sparkplug metric \(alias) differs")
                }
            }
        }
    }

    /// Sparkplug 3.0, "Datatype Details": 8- to 32-bit integers travel as uint32 (int_value; signed ones as their two's
    /// complement), 64-bit ones as uint64 (long_value), Float as float. A missing reading is `is_null` with no value.
    static func sparkplugDataType(_ type: WireType) -> SparkplugDataType {
        switch type {
        case .bool: .boolean
        case .int16: .int16
        case .uint16: .uint16
        case .int32: .int32
        case .uint32: .uint32
        case .int64: .int64
        case .uint64: .uint64
        case .float32: .float
        case .float64: .double
        case .string: .string
        }
    }

    static func setSparkplugValue(_ metric: inout SparkplugPayload.Metric, _ value: WireValue, _ type: WireType) {
        let wide = type == .int64 || type == .uint64
        switch value {
        case .int(let v):
            if wide {
                metric.longValue = UInt64(bitPattern: v)
            } else {
                metric.intValue = UInt32(bitPattern: Int32(truncatingIfNeeded: v))
            }
        case .uint(let v): if wide { metric.longValue = v } else { metric.intValue = UInt32(truncatingIfNeeded: v) }
        case .float32(let bits): metric.floatValue = Float(bitPattern: bits)
        case .float64(let bits): metric.doubleValue = Double(bitPattern: bits)
        case .bool(let b): metric.booleanValue = b
        case .string(let s): metric.stringValue = s
        case .missing: metric.isNull = true
        }
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    static func readVarint(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    /// A read-only view of bytes that swift-protobuf parses in place, so that decoding a payload copies nothing.
    struct ByteView: SwiftProtobufContiguousBytes {
        var bytes: UnsafeRawBufferPointer
        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
        init(repeating: UInt8, count: Int) { fatalError("ByteView is read-only") }
        init<S: Sequence>(_ sequence: S) where S.Element == UInt8 { fatalError("ByteView is read-only") }
        var count: Int { bytes.count }
        func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(bytes) }
        mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
            fatalError("ByteView is read-only")
        }
    }

    // MARK: Compression

    /// gzip (zlib, level 6, gzip wrapper): compressed size.
    static func gzip(_ input: UnsafeRawBufferPointer) -> Int {
        var stream = z_stream()
        guard
            deflateInit2_(
                &stream, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
                == Z_OK
        else { return -1 }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(input.count)
        return output.withUnsafeMutableBufferPointer { out in
            stream.next_out = out.baseAddress
            stream.avail_out = UInt32(bound)
            guard deflate(&stream, Z_FINISH) == Z_STREAM_END else { return -1 }
            return Int(stream.total_out)
        }
    }

    /// zstd, level 3: compressed size.
    static func zstd(_ input: UnsafeRawBufferPointer) -> Int {
        Zstd.compress(input).count
    }
}
