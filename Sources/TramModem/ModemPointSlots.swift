import TramBuiltinPoints
import TramModbus

/// Where each field of a snapshot goes in the fixed point set: indices looked up by name once, from the one table
/// (`BuiltinDevice.modemPoints`), so the order lives in one place.
struct ModemPointSlots {
    let state, accessTechnologies, technology, signalQuality, registration, operatorCode, operatorName, signalRate: Int
    let cellLAC, cellTAC, cellID: Int
    /// ModemManager's dictionary key → point index, for each signal dictionary.
    let lte: [(key: String, index: Int)]
    let nr: [(key: String, index: Int)]

    init(_ device: BuiltinDevice) {
        func at(_ name: String) -> Int {
            guard let index = device.index(of: name) else { preconditionFailure("modem point \(name) is not defined") }
            return index
        }
        state = at("state")
        accessTechnologies = at("access_technologies")
        technology = at("technology")
        signalQuality = at("signal_quality")
        registration = at("registration_state")
        operatorCode = at("operator_code")
        operatorName = at("operator_name")
        signalRate = at("signal_rate")
        cellLAC = at("cell_lac")
        cellTAC = at("cell_tac")
        cellID = at("cell_id")
        // Spelled out, not derived with String.replacing: that pulls in libswift_StringProcessing's pages (192 KiB
        // of RSS measured by Benchmarks/builtin-devices.py) for two renames.
        lte = [
            ("rsrp", at("lte_rsrp")), ("rsrq", at("lte_rsrq")), ("snr", at("lte_snr")), ("rssi", at("lte_rssi")),
            ("error-rate", at("lte_error_rate")),
        ]
        nr = [
            ("rsrp", at("nr_rsrp")), ("rsrq", at("nr_rsrq")), ("snr", at("nr_snr")),
            ("error-rate", at("nr_error_rate")),
        ]
    }

    func fill(_ points: inout [PointReading], from snapshot: ModemSnapshot) {
        func good(_ index: Int, _ value: RawValue) {
            points[index].value = value
            points[index].quality = .good
        }
        func set<T>(_ index: Int, _ part: ModemSnapshot.Part<T>, _ value: (T) -> RawValue?) {
            switch part {
            case .value(let v):
                if let raw = value(v) { good(index, raw) } else { points[index].quality = .notAvailable }
            case .disabled: points[index].quality = .disabled
            case .notReady: points[index].quality = .notReady
            case .notAvailable: points[index].quality = .notAvailable
            }
        }
        good(state, .int(snapshot.state))
        good(accessTechnologies, .uint(snapshot.accessTechnologies))
        good(technology, .uint(UInt64(snapshot.technology.rawValue)))
        good(signalQuality, .uint(min(snapshot.signalQuality, 100)))
        set(registration, snapshot.registration) { .uint($0) }
        set(operatorCode, snapshot.operatorCode) { .uint(UInt64($0)) }
        set(operatorName, snapshot.operatorName) { .string($0) }
        set(signalRate, snapshot.signalRate) { .uint($0) }
        for (part, keys) in [(snapshot.lte, lte), (snapshot.nr, nr)] {
            for (key, index) in keys { set(index, part) { $0.values[key].map(RawValue.float64) } }
        }
        set(cellLAC, snapshot.cell) { $0.lac.map { .uint(UInt64($0)) } }
        set(cellTAC, snapshot.cell) { $0.tac.map { .uint(UInt64($0)) } }
        set(cellID, snapshot.cell) { $0.cellID.map(RawValue.uint) }
    }
}
