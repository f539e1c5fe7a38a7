import TramYAML

/// Decodes a point's write keys (`writable`, `min`, `max`, `values`, `readback`, `write_function`, `write_note`) into
/// its ``WriteRule``, reporting every problem in one pass.
struct WriteRuleDecoder {
    static let keys = ["writable", "min", "max", "values", "readback", "write_function", "write_note"]

    let file: String
    let log: DiagnosticLog

    func decode(_ map: MappingReader, table: RegisterTable, type: ValueType) -> WriteRule? {
        let writable = map.bool("writable") ?? false
        let others = Self.keys.dropFirst().filter { map.has($0) }
        guard writable else {
            if let key = others.first {
                log.error(
                    "'\(key)' applies to a point marked 'writable: true'; without it the point is read-only",
                    at: map.location(ofKey: key))
            }
            return nil
        }
        if table == .input || table == .discreteInput {
            log.error(
                "the \(table.rawValue) table is read-only in Modbus: only holding registers and coils can be written",
                at: map.location(ofKey: "writable"))
            return nil
        }
        var rule = WriteRule()
        let numeric = type.isInteger || type.isFloat
        for key in ["min", "max", "values"] where map.has(key) && !numeric {
            log.error("'\(key)' applies to numbers, not to type \(type)", at: map.location(ofKey: key))
        }
        if numeric {
            rule.minimum = map.number("min")
            rule.maximum = map.number("max")
            if let low = rule.minimum, let high = rule.maximum, low > high {
                log.error("'min' \(Self.show(low)) is above 'max' \(Self.show(high))", at: map.location(ofKey: "min"))
            }
            if let items = map.list("values") {
                var values: [Double] = []
                for item in items {
                    guard let text = item.scalar, let value = ScalarSyntax.number(text), value.isFinite else {
                        log.error(
                            "'values' lists the engineering values a write may take, such as [0, 1, 2]; "
                                + "found '\(item.scalar ?? "a list or mapping")'", at: map.location(of: item))
                        continue
                    }
                    values.append(value)
                }
                if values.isEmpty, !items.isEmpty || map.has("values") {
                    log.error("'values' is empty: no value could be written", at: map.location(ofKey: "values"))
                }
                rule.values = values
            }
        }
        rule.readback = map.choice("readback", WriteRule.Readback.spellings) ?? .expect
        if let code = map.integer("write_function", in: 1...127) {
            let allowed = table == .coil ? [5, 15] : isBit(type) ? [6, 16, 22] : [6, 16]
            if !allowed.contains(code) {
                log.error(
                    "'write_function' \(code) does not write a \(table.rawValue) \(isBit(type) ? "bit" : "point"); "
                        + "expected \(allowed.map(String.init).joined(separator: " or "))",
                    at: map.location(ofKey: "write_function"))
            } else if code == 6, type.registerCount > 1 {
                log.error(
                    "'write_function' 6 writes one register, and a \(type) takes \(type.registerCount); "
                        + "it is written with 16", at: map.location(ofKey: "write_function"))
            } else {
                rule.functionCode = code
            }
        }
        rule.note = map.string("write_note") ?? ""
        return rule
    }

    static func show(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private func isBit(_ type: ValueType) -> Bool {
        if case .bit = type { return true }
        return false
    }
}
