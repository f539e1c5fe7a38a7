import TramYAML

/// Profile-wide defaults for points, and the numbering their addresses use.
struct PointDefaults {
    var addressBase: Int
    var table: RegisterTable?
    var type: ValueType?
    var order: WordOrder = .abcd
}

/// Decodes one point mapping, reporting every problem it finds.
struct PointDecoder {
    static let keys =
        [
            "name", "table", "address", "type", "order", "bit", "length", "scale", "offset", "scale_from",
            "unit", "optional", "not_available", "expect", "description", "kind", "range", "report",
        ] + WriteRuleDecoder.keys

    let file: String
    let log: DiagnosticLog
    let defaults: PointDefaults

    func decode(_ node: YAMLNode) -> Point? {
        guard let map = MappingReader(node, file: file, log: log, what: "a point", allowedKeys: Self.keys) else {
            return nil
        }
        let name = map.require("name", what: "a point") != nil ? map.string("name") : nil
        if let name, !Naming.isValid(name) {
            log.error(
                "point name '\(name)' may hold only letters, digits, '_', '-' and '.'",
                at: map.location(of: map.value("name")!))
        }
        let table = map.choice("table", RegisterTable.spellings) ?? (map.value("table") != nil ? nil : defaults.table)
        if table == nil, map.value("table") == nil {
            log.error(
                "point '\(name ?? "?")' has no 'table' (coil, discrete_input, input or holding) and the profile sets no default",
                at: map.location)
        }
        let type = decodeType(map, table: table)
        let order = map.choice("order", WordOrder.spellings) ?? defaults.order
        let address = decodeAddress(map, width: type?.registerCount ?? 1)

        let scale = map.number("scale") ?? 1
        let offset = map.number("offset") ?? 0
        if let type, !(type.isInteger || type.isFloat), map.has("scale") || map.has("offset") || map.has("scale_from") {
            log.error(
                "scale, offset and scale_from apply to numbers, not to type \(type)",
                at: map.location(of: map.value("scale") ?? map.value("offset") ?? map.value("scale_from") ?? map.node))
        }
        if scale == 0, map.has("scale") {
            log.error(
                "'scale' of 0 would turn every reading into the offset", at: map.location(of: map.value("scale")!))
        }
        let notAvailable = type.map { decodeSentinels(map, type: $0) } ?? []
        let kind = map.choice("kind", Point.Kind.spellings) ?? .gauge
        if kind == .counter, let type, !(type.isInteger || type.isFloat) {
            log.error("'kind: counter' applies to numbers, not to type \(type)", at: map.location(ofKey: "kind"))
        }

        var expected: UInt64?
        if let type, let (text, node) = map.scalarText("expect", expected: "the value this register always holds") {
            if type.isInteger, case .bits(let bits)? = Self.sentinel(text, type: type) {
                expected = bits
            } else {
                log.error(
                    "'expect' takes a whole \(type) value, found '\(text)'\(type.isInteger ? "" : " (only integer points can have one)")",
                    at: map.location(of: node))
            }
        }
        guard let name, let table, let type, let address else { return nil }
        var point = Point(
            name: name, table: table, address: address, type: type, order: order, scale: scale, offset: offset,
            scaleFrom: map.string("scale_from"), unit: map.string("unit") ?? "",
            isOptional: map.bool("optional") ?? false,
            notAvailable: notAvailable, description: map.string("description") ?? "", kind: kind,
            location: map.location)
        point.expected = expected
        let report = ReportDecoder(file: file, log: log)
        point.range = report.decodeRange(map)
        if point.range != nil, !(type.isInteger || type.isFloat) {
            log.error("'range' applies to numbers, not to type \(type)", at: map.location(ofKey: "range"))
        }
        point.report = report.decodePoint(map.value("report"), type: type, range: point.range)
        point.write = WriteRuleDecoder(file: file, log: log).decode(map, table: table, type: type)
        if point.write != nil, expected != nil {
            log.error(
                "a point with 'expect' identifies the device and cannot be 'writable'",
                at: map.location(ofKey: "writable"))
        }
        return point
    }

    private func decodeType(_ map: MappingReader, table: RegisterTable?) -> ValueType? {
        var type: ValueType?
        var typeNode = map.node
        if let (text, node) = map.scalarText("type", expected: "a type name") {
            typeNode = node
            type = parseTypeName(text, map: map, node: node)
        } else if map.value("type") == nil {
            type = defaults.type
            if let table, table.holdsBits { type = .bool }
            if type == nil { log.error("point has no 'type' and the profile sets no default", at: map.location) }
        }
        // Judged by the type as written, so that a bad length or bit number is not also called misplaced.
        let written = map.value("type")?.scalar ?? ""
        if map.has("length"), written != "string", !written.hasPrefix("string(") {
            log.error("'length' applies only to type string", at: map.location(ofKey: "length"))
        }
        if map.has("bit"), written != "bit" {
            log.error("'bit' applies only to type bit", at: map.location(ofKey: "bit"))
        }
        guard let type, let table else { return type }
        switch (type, table.holdsBits) {
        case (.bool, false):
            log.error(
                "type bool is for the coil and discrete_input tables; for one bit of a \(table.rawValue) register use type bit with 'bit: N'",
                at: map.location(of: typeNode))
            return nil
        case (.bool, true):
            return type
        case (_, true):
            log.error(
                "table \(table.rawValue) holds single bits, so its points have type bool, not \(type)",
                at: map.location(of: typeNode))
            return nil
        default:
            return type
        }
    }

    private func parseTypeName(_ text: String, map: MappingReader, node: YAMLNode) -> ValueType? {
        if let fixed = ValueType.fixedWidth(text) { return fixed }
        if text == "string" || (text.hasPrefix("string(") && text.hasSuffix(")")) {
            var registers = map.integer("length", in: 1...125)
            if text != "string" {
                guard let inline = Int(text.dropFirst(7).dropLast()), (1...125).contains(inline) else {
                    log.error(
                        "type '\(text)' expects string(N) with N registers from 1 to 125", at: map.location(of: node))
                    return nil
                }
                registers = inline
            }
            guard let registers else {
                if map.value("length") == nil {
                    log.error(
                        "type string needs 'length' (in registers) or the shorthand string(N)",
                        at: map.location(of: node))
                }
                return nil
            }
            return .string(registers: registers)
        }
        if text == "bit" {
            guard map.value("bit") != nil else {
                log.error("type bit needs 'bit: N' (0 = least significant .. 15)", at: map.location(of: node))
                return nil
            }
            return map.integer("bit", in: 0...15).map { .bit($0) }
        }
        log.error(
            "unknown type '\(text)'; expected one of \(ValueType.names.joined(separator: ", "))\(Suggestion.hint(for: text, among: ValueType.names))",
            at: map.location(of: node))
        return nil
    }

    private func decodeAddress(_ map: MappingReader, width: Int) -> Int? {
        guard map.require("address", what: "a point") != nil,
            let written = map.integer("address", in: 0...0x1_0000)
        else { return nil }
        let node = map.value("address")!
        let pdu = written - defaults.addressBase
        if pdu < 0 {
            log.error(
                "address \(written) does not exist with address_base 1 (manual numbering starts at 1)",
                at: map.location(of: node))
            return nil
        }
        if pdu + width - 1 > 0xFFFF {
            log.error(
                "address \(written) with \(width) register(s) runs past the last Modbus address 65535 (PDU)",
                at: map.location(of: node))
            return nil
        }
        return pdu
    }

    private func decodeSentinels(_ map: MappingReader, type: ValueType) -> [Sentinel] {
        guard let node = map.value("not_available") else { return [] }
        let items: [YAMLNode]
        switch node.kind {
        case .sequence(let list): items = list
        case .scalar: items = [node]
        case .mapping:
            log.error("'not_available' expects a value or a list of values", at: map.location(of: node))
            return []
        }
        return items.compactMap { item in
            guard let text = item.scalar, let sentinel = Self.sentinel(text, type: type) else {
                log.error(
                    "'not_available' value '\(item.scalar ?? "?")' is not a \(type) value", at: map.location(of: item))
                return nil
            }
            return sentinel
        }
    }

    /// The sentinel's bit pattern in the type's width; nil if it cannot be one of the type's values.
    static func sentinel(_ text: String, type: ValueType) -> Sentinel? {
        let bits = type.registerCount * 16
        let mask: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
        switch type {
        case .float32, .float64:
            guard let value = ScalarSyntax.number(text) else { return nil }
            if value.isNaN { return .nan }
            return .bits(type == .float32 ? UInt64(Float(value).bitPattern) : value.bitPattern)
        case .int16, .uint16, .int32, .uint32, .int64, .uint64:
            if let unsigned = ScalarSyntax.unsigned(text), !text.hasPrefix("-") {
                return unsigned & ~mask == 0 ? .bits(unsigned) : nil
            }
            guard let value = ScalarSyntax.integer(text) else { return nil }
            guard type.isSigned || value >= 0 else { return nil }
            if bits < 64 {
                let limit = Int64(1) << Int64(bits - 1)
                guard value >= -limit, value < limit * 2 else { return nil }
            }
            return .bits(UInt64(bitPattern: value) & mask)
        default:
            return nil
        }
    }
}

enum Naming {
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x5F || byte == 0x2D || byte == 0x2E
            }
    }
}
