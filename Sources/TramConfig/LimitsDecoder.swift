import TramYAML

/// Decodes a `limits:` mapping on top of a base, key by key.
struct LimitsDecoder {
    static let keys = ["max_registers", "max_bits", "even_count", "max_gap", "pause"]

    let file: String
    let log: DiagnosticLog

    func decode(_ node: YAMLNode?, over base: RequestLimits) -> RequestLimits {
        guard let node, !node.isNull,
            let map = MappingReader(node, file: file, log: log, what: "limits", allowedKeys: Self.keys)
        else { return base }
        var limits = base
        limits.maxRegisters =
            map.integer("max_registers", in: 1...Int64(RequestLimits.modbusMaxRegisters)) ?? base.maxRegisters
        limits.maxBits = map.integer("max_bits", in: 1...Int64(RequestLimits.modbusMaxBits)) ?? base.maxBits
        limits.evenCount = map.bool("even_count") ?? base.evenCount
        limits.maxGap = map.integer("max_gap", in: 0...Int64(RequestLimits.modbusMaxRegisters)) ?? base.maxGap
        limits.pause = map.duration("pause") ?? base.pause
        if limits.evenCount, limits.maxRegisters == 1 {
            log.error("even_count with max_registers 1 leaves no request the device accepts", at: map.location)
        }
        return limits
    }
}
