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
    /// Points a client wrote: they keep the written value instead of the simulated one, as a device's setting does.
    private var held = Set<Int>()

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
        for (index, point) in points.enumerated() where !held.contains(index) {
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

    /// Judges a write request as a device would, before libmodbus applies it: every register or coil it touches
    /// must belong to a point the profile marks `writable: true` (else exception 02, illegal data address), and
    /// each written point's value must be within its `min`/`max`/`values` (else 03, illegal data value). Nil:
    /// accept it, and the points it writes hold their new values from now on. `pdu` starts at the function code.
    func judgeWrite(_ pdu: UnsafeBufferPointer<UInt8>) -> UInt32? {
        guard let function = pdu.first, [5, 6, 15, 16, 22].contains(function), pdu.count >= 5 else { return nil }
        let address = Int(pdu[1]) << 8 | Int(pdu[2])
        let table: RegisterTable = function == 5 || function == 15 ? .coil : .holding
        var count = 1
        var words: [UInt16] = []
        switch function {
        case 6: words = [UInt16(pdu[3]) << 8 | UInt16(pdu[4])]
        case 5: words = [pdu[3] == 0xFF ? 1 : 0]
        case 16:
            count = Int(pdu[3]) << 8 | Int(pdu[4])
            guard pdu.count >= 6 + 2 * count else { return UInt32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
            words = (0..<count).map { UInt16(pdu[6 + 2 * $0]) << 8 | UInt16(pdu[7 + 2 * $0]) }
        case 15:
            count = Int(pdu[3]) << 8 | Int(pdu[4])
            guard pdu.count >= 6 + (count + 7) / 8 else { return UInt32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
            words = (0..<count).map { UInt16(pdu[6 + $0 / 8] >> UInt8($0 % 8) & 1) }
        default: break  // 22: the register's bits; judged by its points' writability only
        }
        let touched = address..<address + count
        let writable = points.indices.filter { points[$0].table == table && points[$0].write != nil }
        let uncovered = touched.contains { register in
            !writable.contains { points[$0].address...points[$0].lastAddress ~= register }
        }
        if uncovered { return UInt32(MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS) }
        var written: [Int] = []
        for index in writable where touched.overlaps(points[index].address...points[index].lastAddress) {
            written.append(index)
            let point = points[index]
            guard function != 22, let rule = point.write, touched.contains(point.address),
                touched.contains(point.lastAddress)
            else { continue }
            let value = words.withUnsafeBufferPointer { RegisterCodec.decode(point, registers: $0, base: address) }
            guard let number = Engineering.value(value, scale: point.scale, offset: point.offset) else { continue }
            if let low = rule.minimum, number < low { return UInt32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
            if let high = rule.maximum, number > high { return UInt32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE) }
            if let values = rule.values, !values.contains(number) {
                return UInt32(MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE)
            }
        }
        held.formUnion(written)
        return nil
    }
}
