import TramBuiltinPoints
import Testing
import TramConfig
import TramCore
import TramModbus

@testable import TramModem

/// How ModemManager's values become the modem device's points (the D-Bus side runs against python-dbusmock in
/// Tests/integration/test_builtin_devices.py).
@Suite("Modem mapping")
struct ModemMappingTests {
    static let masks: [(UInt64, AccessTechnology)] = [
        (0, .none), (0x0A, .gsm), (0x20, .umts), (0x200, .umts), (0x4000, .lte), (0x10000, .lte),
        (0xC000, .nrNonStandalone), (0x8000, .nrStandalone), (0x4020, .lte),
    ]

    @Test("access technology masks summarised as a generation", arguments: masks)
    func technology(mask: UInt64, expected: AccessTechnology) {
        #expect(AccessTechnology(mask: mask) == expected)
    }

    @Test("operator codes: five or six digits, kept apart as numbers")
    func operatorCodes() {
        #expect(ModemReader.operatorCode("45204") == 45204)
        #expect(ModemReader.operatorCode("310410") == 310410)
        #expect(ModemReader.operatorCode("4520") == nil)
        #expect(ModemReader.operatorCode("45a04") == nil)
        #expect(ModemReader.operatorCode("") == nil)
    }

    @Test("the 3GPP location string: MCC,MNC,LAC,CI,TAC with the last three in hex")
    func cells() {
        #expect(
            ModemReader.cell("452,04,0,1A2B3C4,7D1")
                == ModemSnapshot.Cell(lac: nil, tac: 0x7D1, cellID: 0x1A2B3C4))
        #expect(ModemReader.cell("452,04,3E8,2F,0") == ModemSnapshot.Cell(lac: 0x3E8, tac: nil, cellID: 0x2F))
        #expect(ModemReader.cell("452,04,3E8,2F") == ModemSnapshot.Cell(lac: 0x3E8, tac: nil, cellID: 0x2F))
        #expect(ModemReader.cell("452,04,zz,2F,1") == ModemSnapshot.Cell(lac: nil, tac: 1, cellID: 0x2F))
        // A 5G NR cell id has 36 bits; a field that does not parse leaves the others.
        #expect(
            ModemReader.cell("452,04,0,ABCDEF123,1A2B")
                == ModemSnapshot.Cell(lac: nil, tac: 0x1A2B, cellID: 0xA_BCDE_F123))
        #expect(ModemReader.cell("452,04,zz,zz,zz") == nil)
        #expect(ModemReader.cell("garbage") == nil)
    }

    static func snapshot(
        registration: ModemSnapshot.Part<UInt64> = .value(1), rate: ModemSnapshot.Part<UInt64> = .value(30),
        lte: ModemSnapshot.Part<ModemSnapshot.Signal> = .value(.init(values: ["rsrp": -95.5, "snr": 12.25])),
        nr: ModemSnapshot.Part<ModemSnapshot.Signal> = .notAvailable,
        cell: ModemSnapshot.Part<ModemSnapshot.Cell> = .disabled
    ) -> ModemSnapshot {
        ModemSnapshot(
            path: "/org/freedesktop/ModemManager1/Modem/0", state: 11, accessTechnologies: 1 << 14, signalQuality: 67,
            registration: registration, operatorCode: .value(45204), operatorName: .value("Viettel"),
            signalRate: rate, lte: lte, nr: nr, cell: cell, refusal: nil)
    }

    static func fill(_ snapshot: ModemSnapshot) -> [String: PointReading] {
        let device = BuiltinDevice.modem(pollInterval: .seconds(30))
        var points = (0..<device.points.count).map {
            PointReading(
                point: $0, value: nil, quality: .absent,
                timestamp: Timestamp(wallMilliseconds: 1, monotonicNanoseconds: 1))
        }
        ModemPointSlots(device).fill(&points, from: snapshot)
        return Dictionary(uniqueKeysWithValues: points.map { (device.points[$0.point].name, $0) })
    }

    @Test("an LTE modem: values exactly as given, missing keys not_available, NR not_available")
    func lteModem() {
        let points = Self.fill(Self.snapshot())
        #expect(points["lte_rsrp"]?.value == .float64(-95.5) && points["lte_rsrp"]?.quality == .good)
        #expect(points["lte_snr"]?.value == .float64(12.25))
        #expect(points["lte_rsrq"]?.quality == .notAvailable)
        #expect(points["nr_rsrp"]?.quality == .notAvailable)
        #expect(points["technology"]?.value == .uint(4))
        #expect(points["operator_code"]?.value == .uint(45204))
        #expect(points["operator_name"]?.value == .string("Viettel"))
        #expect(points["signal_quality"]?.value == .uint(67))
        #expect(points["state"]?.value == .int(11))
        #expect(points["cell_id"]?.quality == .disabled)
        #expect(points.values.allSatisfy { $0.quality != .absent }, "every point is decided")
    }

    @Test("signal polling off: the signal points say disabled, the rest is read")
    func pollingOff() {
        let points = Self.fill(Self.snapshot(rate: .value(0), lte: .disabled, nr: .disabled))
        for name in ["lte_rsrp", "lte_rsrq", "lte_snr", "lte_rssi", "lte_error_rate", "nr_rsrp", "nr_snr"] {
            #expect(points[name]?.quality == .disabled, "\(name)")
        }
        #expect(points["signal_rate"]?.value == .uint(0))
        #expect(points["operator_name"]?.quality == .good)
    }

    @Test("a serving cell fills its points; a missing LAC on LTE is not_available")
    func cell() {
        let points = Self.fill(Self.snapshot(cell: .value(.init(lac: nil, tac: 0x7D1, cellID: 0x1A2B3C4))))
        #expect(points["cell_tac"]?.value == .uint(0x7D1))
        #expect(points["cell_id"]?.value == .uint(0x1A2B3C4))
        #expect(points["cell_lac"]?.quality == .notAvailable)
    }
}
