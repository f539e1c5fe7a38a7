import Testing
import TramAgent
import TramBatch
import TramConfig
@testable import TramModbus
import TramSchema

/// What one configured point, and one device, cost in memory. A gateway holds a point's config, its dictionary
/// entry and two readings (the cycle being polled and the one handed out) for as long as it runs, so at 100,000
/// points every 8 bytes of stride is 0.8 MB. The budgets are the sizes these types were packed to (they were 328,
/// 136, 72 and 464 B): a field that grows one of them fails here, and says by how much.
@Suite struct PointFootprintTests {
    @Test func perPointAndPerDeviceTypesStayWithinTheirBudget() {
        let strides: [(String, Int, Int)] = [
            ("Point", MemoryLayout<Point>.stride, 104),
            ("PointReading", MemoryLayout<PointReading>.stride, 40),
            ("PointDescriptor", MemoryLayout<PointDescriptor>.stride, 96),
            ("DeviceConfig", MemoryLayout<DeviceConfig>.stride, 8),
        ]
        for (name, stride, budget) in strides {
            #expect(stride <= budget, "\(name) is \(stride) B, over its budget of \(budget) B")
        }
    }

    /// A reading's quality is stored in two bytes; every case must come back as it went in.
    @Test func everyQualitySurvivesPacking() {
        let all: [Quality] = [
            .good, .notAvailable, .exception(1), .exception(2), .exception(11), .exception(255), .timeout, .linkDown,
            .ioError, .unsupported, .unexpected, .pending, .disabled, .absent, .notReady,
        ]
        for quality in all {
            let reading = PointReading(point: 7, value: nil, quality: quality, timestamp: .zero)
            #expect(reading.quality == quality)
        }
        #expect(Set(all.map { $0.packed.tag }).count == all.count - 3, "three exceptions share the exception tag")
    }

    /// The narrow storage reads back what was stored, within its range, and clamps beyond it.
    @Test func narrowFieldsReadBackWhatWasStored() {
        var reading = PointReading(point: 29_999, value: .int(-5), quality: .good, exponent: -3, timestamp: .zero)
        #expect(reading.point == 29_999 && reading.exponent == -3)
        reading.exponent = 1000
        #expect(reading.exponent == 127)
        var descriptor = PointDescriptor(device: "d", name: "p", type: .uint16)
        #expect(descriptor.deadband == nil && descriptor.exponentAlias == nil && descriptor.intervalMilliseconds == nil)
        descriptor.deadband = 0
        descriptor.exponentAlias = 0
        descriptor.heartbeatMilliseconds = 15_000
        #expect(descriptor.deadband == 0 && descriptor.exponentAlias == 0 && descriptor.heartbeatMilliseconds == 15_000)
        #expect(descriptor != PointDescriptor(device: "d", name: "p", type: .uint16))
    }

    /// Points that set none of the rarely used fields share one box; setting one gives that point its own.
    @Test func pointDetailsAreCopiedOnWrite() {
        let plain = Point(name: "a", table: .holding, address: 0, type: .uint16)
        var described = plain
        described.description = "Voltage L1"
        #expect(plain.description == "" && described.description == "Voltage L1")
        #expect(plain != described)
        described.description = ""
        #expect(plain == described)
    }
}
