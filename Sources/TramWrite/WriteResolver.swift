import TramConfig

/// Finds what a write names: a device's point in a config (the agent's running one, or the file `tramctl` was
/// given), or an address spelled on the command line. Refuses unknown names with a "did you mean".
public enum WriteResolver {
    /// A point of a device, with the device (its link, unit, pause and timeout).
    public static func point(_ name: String, of deviceName: String, in config: AgentConfig, functionCode: Int? = nil)
        -> Result<(WriteTarget, DeviceConfig), WriteRefusal>
    {
        guard let device = config.devices.first(where: { $0.name == deviceName }) else {
            return .failure(
                WriteRefusal(
                    .notOwned,
                    "no device '\(deviceName)' in the config"
                        + Suggestion.hint(for: deviceName, among: config.devices.map(\.name))))
        }
        guard let point = device.points.first(where: { $0.name == name }) else {
            return .failure(
                WriteRefusal(
                    .unknown,
                    "device '\(deviceName)' has no point '\(name)'"
                        + Suggestion.hint(for: name, among: device.points.map(\.name))))
        }
        if point.scaleFrom != nil {
            return .failure(
                WriteRefusal(
                    .notWritable,
                    "\(deviceName).\(name) is scaled by '\(point.scaleFrom!)', a register the device may change: "
                        + "write it by address (--force) with the raw value"))
        }
        return .success(
            (WriteTarget(point: point, device: deviceName, unit: device.unit, functionCode: functionCode), device))
    }

    /// An address: `table` holding or coil, `type` a fixed-width name, `string(N)` or `bit(N)`, `order` ABCD….
    public static func address(
        unit: Int, table: String, address: Int, type: String, order: String, functionCode: Int? = nil
    ) -> Result<WriteTarget, WriteRefusal> {
        guard let table = RegisterTable(rawValue: table) else {
            return .failure(WriteRefusal(.badValue, "table '\(table)' is not one of coil, holding (the writable ones)"))
        }
        guard (0...0xFFFF).contains(address) else {
            return .failure(WriteRefusal(.badValue, "address \(address) is not a Modbus address (0 to 65535)"))
        }
        let valueType: ValueType
        if table == .coil {
            valueType = .bool
        } else if let fixed = ValueType.fixedWidth(type), fixed != .bool {
            valueType = fixed
        } else if let size = sized(type, "string("), (1...123).contains(size) {
            valueType = .string(registers: size)
        } else if let bit = sized(type, "bit("), (0...15).contains(bit) {
            valueType = .bit(bit)
        } else {
            return .failure(
                WriteRefusal(
                    .badValue,
                    "type '\(type)' is not one of int16, uint16, int32, uint32, int64, uint64, float32, float64, "
                        + "string(N), bit(N)"))
        }
        guard let wordOrder = WordOrder(rawValue: order.uppercased()) else {
            return .failure(WriteRefusal(.badValue, "order '\(order)' is not one of ABCD, CDAB, BADC, DCBA"))
        }
        return .success(
            WriteTarget(
                unit: unit, table: table, address: address, type: valueType, order: wordOrder,
                functionCode: functionCode))
    }

    static func sized(_ text: String, _ prefix: String) -> Int? {
        guard text.hasPrefix(prefix), text.hasSuffix(")") else { return nil }
        return Int(text.dropFirst(prefix.count).dropLast())
    }
}
