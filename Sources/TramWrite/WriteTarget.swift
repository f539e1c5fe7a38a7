import TramConfig
import TramModbus

/// Where a write goes and how its value is laid out: a point of a device map (`writable: true`), or an address
/// given on the command line (`--force`), which has no rule and no scaling.
public struct WriteTarget: Sendable, Equatable {
    public var unit: Int
    public var table: RegisterTable
    /// PDU (0-based) address.
    public var address: Int
    public var type: ValueType
    public var order: WordOrder
    public var scale: Double
    public var offset: Double
    /// The point's write rule; nil for a write by address.
    public var rule: WriteRule?
    /// `device.point` for a write by map; nil by address.
    public var pointName: String?
    public var unitOfMeasure: String
    /// A function code asked for on the command line (`--fc 16`), over the rule's.
    public var functionCode: Int?

    public init(
        unit: Int, table: RegisterTable, address: Int, type: ValueType, order: WordOrder = .abcd, scale: Double = 1,
        offset: Double = 0, rule: WriteRule? = nil, pointName: String? = nil, unitOfMeasure: String = "",
        functionCode: Int? = nil
    ) {
        self.unit = unit
        self.table = table
        self.address = address
        self.type = type
        self.order = order
        self.scale = scale
        self.offset = offset
        self.rule = rule
        self.pointName = pointName
        self.unitOfMeasure = unitOfMeasure
        self.functionCode = functionCode
    }

    /// A device map's point, on its device's unit.
    public init(point: Point, device: String, unit: Int, functionCode: Int? = nil) {
        self.init(
            unit: unit, table: point.table, address: point.address, type: point.type, order: point.order,
            scale: point.scale, offset: point.offset, rule: point.write, pointName: "\(device).\(point.name)",
            unitOfMeasure: point.unit, functionCode: functionCode)
    }

    /// Registers (or coils) the value spans.
    public var count: Int { type.registerCount }
}

extension WriteTarget {
    /// Registers (or coils as 0/1) read from the target, as its engineering value: `47.3 °C`, `1`, `'TRAM'`.
    public func engineeringText(_ words: [UInt16]) -> String {
        guard words.count == count else { return words.map(WritePlan.hex).joined(separator: " ") }
        let point = Point(
            name: pointName ?? "value", table: table, address: 0, type: type, order: order, scale: scale,
            offset: offset, unit: unitOfMeasure)
        let value = words.withUnsafeBufferPointer { RegisterCodec.decode(point, registers: $0, base: 0) }
        let unit = unitOfMeasure.isEmpty ? "" : " \(unitOfMeasure)"
        switch value {
        case .string(let text): return "'\(text)'"
        case .bool(let flag): return flag ? "1" : "0"
        default:
            guard let number = Engineering.value(value, scale: scale, offset: offset, exponent: 0) else { return "?" }
            let whole = number == number.rounded() && abs(number) < 1e15
            return (type == .float32 && !whole ? "\(Float(number))" : WritePlanner.show(number)) + unit
        }
    }
}
