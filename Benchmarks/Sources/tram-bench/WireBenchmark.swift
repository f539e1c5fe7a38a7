import CAllocationCounter
import CZlib
import CZstd
import Foundation
import TramSchema

/// Bytes, time and allocations per reading for Tram's wire format and the alternatives, on one trace, in one run.
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
    }

    static func run(_ trace: Trace, batchSeconds: [Int]) {
        print("trace: \(trace.names.count) points, \(trace.ticks.count) polls, \(trace.readings) readings")
        print("format   batch  B/reading raw  gzip   zstd   encode ns/rd  decode ns/rd  allocs/batch")
        for seconds in batchSeconds {
            // TRAM_WIRE_FORMATS=tram,influx limits the run (for profiling one format).
            let only = ProcessInfo.processInfo.environment["TRAM_WIRE_FORMATS"]?.split(separator: ",").map(String.init)
            let formats: [(String, (Trace, Int) -> Result)] = [("tram", tram), ("influx", influx), ("json", json)]
            for (name, measure) in formats where only?.contains(name) ?? true {
                let result = measure(trace, seconds)
                let n = Double(max(1, result.readings))
                print(result.format.padding(9) + "\(seconds)s".padding(7) + fmt(Double(result.rawBytes) / n).padding(15)
                      + fmt(Double(result.gzipBytes) / n).padding(7) + fmt(Double(result.zstdBytes) / n).padding(7)
                      + fmt(Double(result.encodeNanoseconds) / n, 1).padding(14) + fmt(Double(result.decodeNanoseconds) / n, 1).padding(14)
                      + fmt(Double(result.allocations) / Double(max(1, result.batches)), 1))
            }
        }
        print("(Sparkplug B with aliases: not measured yet; see issue 3's notes.)")
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

    static func windows(_ trace: Trace, _ seconds: Int) -> [ArraySlice<Tick>] {
        stride(from: 0, to: trace.ticks.count, by: seconds).map { trace.ticks[$0..<min($0 + seconds, trace.ticks.count)] }
    }

    static func compress(_ bytes: UnsafeRawBufferPointer, into result: inout Result) {
        result.rawBytes += bytes.count
        result.gzipBytes += gzip(bytes)
        result.zstdBytes += zstd(bytes)
    }

    // MARK: Tram

    static func tram(_ trace: Trace, _ seconds: Int) -> Result {
        var result = Result(format: "tram", batchSeconds: seconds)
        let dictionary = trace.dictionary
        let id = dictionary.schemaID
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        var sequence: UInt64 = 0
        for window in windows(trace, seconds) {
            let allocationsBefore = tram_allocations_on_this_thread()
            let start = now()
            encoder.begin(epoch: 1, sequence: sequence, baseTimeMilliseconds: window.first!.timeMilliseconds)
            for tick in window {
                tick.values.withUnsafeBufferPointer { values in
                    try? encoder.append(timeMilliseconds: tick.timeMilliseconds, clock: .synchronised, firstAlias: 0, values: values)
                }
            }
            guard let frame = try? encoder.seal() else { fatalError("encoder buffer too small") }
            result.encodeNanoseconds += now() - start
            result.allocations += tram_allocations_on_this_thread() - allocationsBefore
            sequence += 1
            result.batches += 1
            result.readings += window.count * trace.names.count
            compress(frame, into: &result)
            let decodeStart = now()
            let decoded = try? FrameDecoder.decode(frame, dictionary: { $0 == id ? dictionary : nil })
            result.decodeNanoseconds += now() - decodeStart
            precondition(decoded != nil, "Tram frame failed to decode")
        }
        return result
    }

    // MARK: Influx line protocol, one line per reading

    static func influx(_ trace: Trace, _ seconds: Int) -> Result {
        var result = Result(format: "influx", batchSeconds: seconds)
        for window in windows(trace, seconds) {
            let allocationsBefore = tram_allocations_on_this_thread()
            let start = now()
            var text = ""
            for tick in window {
                for (alias, value) in tick.values.enumerated() {
                    text += "tram,gateway=gw-bench,device=line1,point=\(trace.names[alias]) value="
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
            result.encodeNanoseconds += now() - start
            result.allocations += tram_allocations_on_this_thread() - allocationsBefore
            result.batches += 1
            result.readings += window.count * trace.names.count
            bytes.withUnsafeBytes { compress($0, into: &result) }
            let decodeStart = now()
            var parsed = 0
            for line in bytes.split(separator: 0x0A) {
                let parts = line.split(separator: 0x20)
                if parts.count == 3, parts[1].starts(with: Array("value=".utf8)) { parsed += 1 }
            }
            result.decodeNanoseconds += now() - decodeStart
            precondition(parsed == window.count * trace.names.count)
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
                for (alias, value) in tick.values.enumerated() {
                    let number: Double
                    switch value {
                    case .int(let v): number = Double(v)
                    case .uint(let v): number = Double(v)
                    case .float32(let bits): number = Double(Float(bitPattern: bits))
                    case .float64(let bits): number = Double(bitPattern: bits)
                    case .bool(let b): number = b ? 1 : 0
                    default: number = 0
                    }
                    readings.append(JSONReading(ts: tick.timeMilliseconds, device: "line1", point: trace.names[alias], value: number))
                }
            }
            let data = (try? encoder.encode(readings)) ?? Data()
            result.encodeNanoseconds += now() - start
            result.allocations += tram_allocations_on_this_thread() - allocationsBefore
            result.batches += 1
            result.readings += readings.count
            data.withUnsafeBytes { compress($0, into: &result) }
            let decodeStart = now()
            let decoded = try? decoder.decode([JSONReading].self, from: data)
            result.decodeNanoseconds += now() - decodeStart
            precondition(decoded?.count == readings.count)
        }
        return result
    }

    // MARK: Compression

    /// gzip (zlib, level 6, gzip wrapper): compressed size.
    static func gzip(_ input: UnsafeRawBufferPointer) -> Int {
        var stream = z_stream()
        guard deflateInit2_(&stream, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return -1 }
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
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let size = output.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress, bound, input.baseAddress, input.count, 3) }
        return ZSTD_isError(size) != 0 ? -1 : size
    }
}
