import TramCompression
import TramReplay
import TramSchema

/// The console benchmark's plant: gateways of three devices with ten points each, one reading a minute per point,
/// sent in ten-minute batches like an agent with `batch.max-age: 10m`. Each gateway is its own state machine (random
/// walks and counters), so the batches can be made as they are posted and never all held in memory (a week of 200
/// gateways is 200,000 frames).
///
/// A few gateways misbehave, so that the problems page has work: every 50th stops sending 40 minutes before the end
/// (silent), every 20th has its third device time out for the last 6 hours (offline), and every 10th has one point of
/// its second device answer exception 2 for the last day (degraded).
struct ConsolePlant {
    static let devices = ["press", "oven", "meter"]
    static let pointsPerDevice = 10
    static let batchMilliseconds: Int64 = 600_000
    static let stepMilliseconds: Int64 = 60_000

    /// The dictionary of gateway `index`: per device 7 float32 gauges, a uint16 state and two uint32 counters.
    static func dictionary(gateway index: Int) -> SchemaDictionary {
        var points: [PointDescriptor] = []
        for device in devices {
            for p in 0..<pointsPerDevice {
                let (name, type, unit, kind): (String, WireType, String, PointKind) =
                    switch p {
                    case 0..<7: ("value_\(p)", .float32, "°C", .gauge)
                    case 7: ("state", .uint16, "", .gauge)
                    default: ("energy_\(p - 7)", .uint32, "kWh", .counter)
                    }
                points.append(
                    PointDescriptor(
                        device: device, name: name, unit: unit, type: type, kind: kind,
                        intervalMilliseconds: UInt64(stepMilliseconds)))
            }
        }
        return SchemaDictionary(
            gateway: name(index), points: points, batchMaximumAgeMilliseconds: UInt64(batchMilliseconds))
    }

    static func name(_ index: Int) -> String { "plant-\(index)" }
    static func site(_ index: Int, sites: Int) -> String { "park-\(index % sites)" }

    /// One gateway's readings, batch by batch. Unchecked: each gateway belongs to one posting thread only.
    final class Gateway: @unchecked Sendable {
        let index: Int
        let dictionary: SchemaDictionary
        private let buffer: UnsafeMutableRawBufferPointer
        private let encoder: BatchEncoder
        private let compressor: FrameCompressor
        private var random: SplitMix64
        private var walks: [Int]
        private var counters: [UInt64]
        private var values: [WireValue]

        init(index: Int) {
            self.index = index
            dictionary = ConsolePlant.dictionary(gateway: index)
            buffer = .allocate(byteCount: 1 << 16, alignment: 8)
            encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
            compressor = FrameCompressor(capacity: 1 << 16)
            random = SplitMix64(state: UInt64(index) &* 0x9E37_79B9 &+ 1)
            walks = [Int](repeating: 2_000, count: dictionary.points.count)
            counters = [UInt64](repeating: 0, count: dictionary.points.count)
            values = [WireValue](repeating: .missing(.notAvailable), count: dictionary.points.count)
        }

        deinit { buffer.deallocate() }

        /// Whether the gateway sends the batch starting at `start` (a silent one stops 40 minutes before `end`).
        func sends(batchAt start: Int64, end: Int64) -> Bool {
            !(index % 50 == 7 && start >= end - 4 * ConsolePlant.batchMilliseconds)
        }

        /// The compressed batch `sequence`, starting at `start`, of a run whose data ends at `end`.
        func batch(sequence: Int, start: Int64, end: Int64) throws -> [UInt8] {
            encoder.begin(epoch: 1, sequence: UInt64(sequence), baseTimeMilliseconds: start)
            var time = start
            while time < start + ConsolePlant.batchMilliseconds {
                for alias in values.indices {
                    values[alias] = value(alias: alias, time: time, end: end)
                }
                try values.withUnsafeBufferPointer {
                    try encoder.append(timeMilliseconds: time, clock: .synchronised, firstAlias: 0, values: $0)
                }
                time += ConsolePlant.stepMilliseconds
            }
            return Array(try compressor.compress(try encoder.seal()))
        }

        private func value(alias: Int, time: Int64, end: Int64) -> WireValue {
            let device = alias / ConsolePlant.pointsPerDevice, point = alias % ConsolePlant.pointsPerDevice
            if device == 2 && index % 20 == 3 && time >= end - 6 * 3_600_000 { return .missing(.timeout) }
            if device == 1 && point == 4 && index % 10 == 1 && time >= end - 86_400_000 {
                return .missing(.exception(2))
            }
            switch point {
            case 0..<7:
                walks[alias] += Int(random.next() % 21) - 10
                return .float32(bits: Float(Double(walks[alias]) / 100).bitPattern)
            case 7:
                return .uint(UInt64((time / 3_600_000) % 3))
            default:
                counters[alias] += random.next() % 11
                return .uint(counters[alias])
            }
        }
    }
}
