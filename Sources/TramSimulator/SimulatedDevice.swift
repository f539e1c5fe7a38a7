import CModbus
import TramConfig
import TramModbus

/// One device's register tables, served by libmodbus and refreshed with changing values.
///
/// Each table spans from its lowest to its highest point, so reads outside
/// the profile's range get exception 02 as from a real device.
public final class SimulatedDevice {
    public let unit: Int
    public let points: [Point]
    let mapping: UnsafeMutablePointer<modbus_mapping_t>
    private let exponents: [Int]

    public init?(unit: Int, points: [Point]) {
        self.unit = unit
        self.points = points
        func range(_ table: RegisterTable) -> (start: UInt32, count: UInt32) {
            let inTable = points.filter { $0.table == table }
            guard let first = inTable.map(\.address).min(), let last = inTable.map(\.lastAddress).max() else {
                return (0, 0)
            }
            return (UInt32(first), UInt32(last - first + 1))
        }
        let coils = range(.coil), discrete = range(.discreteInput), holding = range(.holding), input = range(.input)
        guard
            let mapping = modbus_mapping_new_start_address(
                coils.start, coils.count, discrete.start, discrete.count, holding.start, holding.count, input.start,
                input.count)
        else { return nil }
        self.mapping = mapping
        // Scale-factor registers hold -1 or -2 so scaled points show decimals.
        exponents = points.map { point in point.scaleFrom == nil ? 0 : -1 }
        refresh(at: 0)
    }

    deinit { modbus_mapping_free(mapping) }

    /// Writes every point's value for `time` seconds into the tables.
    public func refresh(at time: Double) {
        let byName = Dictionary(points.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let scaleRegisters = Set(points.compactMap(\.scaleFrom))
        for (index, point) in points.enumerated() {
            if scaleRegisters.contains(point.name) {
                write(point, [UInt16(bitPattern: -1)])
                continue
            }
            if case .bit = point.type { continue }
            if let expected = point.expected {
                write(
                    point,
                    RegisterCodec.encode(bits: expected, registerCount: point.type.registerCount, order: point.order))
                continue
            }
            let exponent = point.scaleFrom.flatMap { byName[$0] } != nil ? exponents[index] : 0
            write(point, SimulatedValues.registers(for: point, exponent: exponent, at: time))
        }
    }

    /// Sets a point's registers directly (tests and fault drills).
    public func write(_ point: Point, _ words: [UInt16]) {
        let m = mapping.pointee
        for (i, word) in words.enumerated() {
            let address = point.address + i
            switch point.table {
            case .coil: m.tab_bits[address - Int(m.start_bits)] = word == 0 ? 0 : 1
            case .discreteInput: m.tab_input_bits[address - Int(m.start_input_bits)] = word == 0 ? 0 : 1
            case .holding: m.tab_registers[address - Int(m.start_registers)] = word
            case .input: m.tab_input_registers[address - Int(m.start_input_registers)] = word
            }
        }
    }
}
