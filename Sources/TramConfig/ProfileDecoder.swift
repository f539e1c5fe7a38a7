import TramYAML

/// Decodes a device profile file.
struct ProfileDecoder {
    static let keys = ["profile", "address_base", "defaults", "limits", "points"]
    static let headerKeys = ["vendor", "model", "source", "fits", "notes"]
    static let defaultKeys = ["table", "type", "order"]

    let file: String
    let log: DiagnosticLog

    func decode(_ root: YAMLNode) -> Profile? {
        guard let map = MappingReader(root, file: file, log: log, what: "a profile", allowedKeys: Self.keys) else {
            return nil
        }
        var vendor = "", model = "", source = "", fits = "", notes = ""
        if let header = map.require("profile", what: "a profile"),
            let info = MappingReader(
                header, file: file, log: log, what: "the profile header", allowedKeys: Self.headerKeys)
        {
            vendor = info.string("vendor") ?? ""
            model = info.string("model") ?? ""
            source = info.string("source") ?? ""
            fits = info.string("fits") ?? ""
            notes = info.string("notes") ?? ""
            if source.isEmpty {
                log.error(
                    "the profile header needs 'source': where its register facts came from (manual, open project)",
                    at: info.location)
            }
        }
        let addressBase = decodeAddressBase(map, what: "a profile")
        let defaults = decodeDefaults(map.value("defaults"), addressBase: addressBase ?? 0)
        let limits = LimitsDecoder(file: file, log: log).decode(map.value("limits"), over: .default)
        let points = decodePoints(map.require("points", what: "a profile"), defaults: defaults)
        PointSetValidator(log: log).validate(points, limits: limits)
        guard addressBase != nil else { return nil }
        return Profile(
            vendor: vendor, model: model, source: source, fits: fits, notes: notes, addressBase: addressBase!,
            limits: limits, points: points, location: map.location)
    }

    /// `address_base` is required wherever points are written: a wrong guess
    /// reads plausible but wrong values one register off.
    func decodeAddressBase(_ map: MappingReader, what: String) -> Int? {
        guard map.value("address_base") != nil else {
            log.error(
                "missing required key 'address_base' in \(what): 0 if addresses are PDU (wire) addresses, 1 if they are the manual's 1-based numbers",
                at: map.location)
            return nil
        }
        guard let base = map.integer("address_base", in: 0...1) else { return nil }
        return base
    }

    func decodeDefaults(_ node: YAMLNode?, addressBase: Int) -> PointDefaults {
        var defaults = PointDefaults(addressBase: addressBase)
        guard let node,
            let map = MappingReader(node, file: file, log: log, what: "defaults", allowedKeys: Self.defaultKeys)
        else { return defaults }
        defaults.table = map.choice("table", RegisterTable.spellings)
        if let (text, typeNode) = map.scalarText("type", expected: "a type name") {
            if let type = ValueType.fixedWidth(text) {
                defaults.type = type
            } else {
                log.error(
                    "default type must be a fixed-width type (\(ValueType.names.filter { $0 != "bit" && $0 != "string" }.joined(separator: ", "))), found '\(text)'",
                    at: map.location(of: typeNode))
            }
        }
        defaults.order = map.choice("order", WordOrder.spellings) ?? .abcd
        return defaults
    }

    func decodePoints(_ node: YAMLNode?, defaults: PointDefaults) -> [Point] {
        guard let node else { return [] }
        guard case .sequence(let items) = node.kind else {
            log.error(
                "'points' expects a list of points, found \(node.kindDescription)",
                at: SourceLocation(file: file, mark: node.mark))
            return []
        }
        let decoder = PointDecoder(file: file, log: log, defaults: defaults)
        return items.compactMap { decoder.decode($0) }
    }
}
