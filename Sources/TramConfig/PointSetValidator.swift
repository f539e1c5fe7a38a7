/// Checks a device's points as a set: names, overlaps, scale registers, and
/// whether each point can be read at all under the device's limits.
struct PointSetValidator {
    let log: DiagnosticLog

    func validate(_ points: [Point], limits: RequestLimits) {
        checkNames(points)
        checkOverlaps(points)
        checkScaleRegisters(points, limits: limits)
        checkWidths(points, limits: limits)
    }

    private func checkNames(_ points: [Point]) {
        var seen: [String: Point] = [:]
        for point in points {
            if let first = seen[point.name] {
                log.error(
                    "duplicate point name '\(point.name)' (first defined at line \(first.location.mark.line))",
                    at: point.location)
            } else {
                seen[point.name] = point
            }
        }
    }

    /// Two points overlap when they share a register. Bit points share their
    /// register with the word they decode, and only clash with the same bit.
    private func checkOverlaps(_ points: [Point]) {
        for table in RegisterTable.allCases {
            let words = points.filter { $0.table == table && !Self.isBitOfRegister($0) }.sorted {
                ($0.address, $0.location.mark) < ($1.address, $1.location.mark)
            }
            // Compare each point with the earlier one that reaches furthest: a long value can cover several that follow.
            var reach: Point?
            for next in words {
                if let previous = reach, next.address <= previous.lastAddress {
                    log.error(
                        "point '\(next.name)' (\(table.rawValue) \(Self.span(next))) overlaps '\(previous.name)' (\(Self.span(previous))) defined at line \(previous.location.mark.line)",
                        at: next.location)
                }
                if reach == nil || next.lastAddress > reach!.lastAddress { reach = next }
            }
            var bits: [String: Point] = [:]
            for point in points where point.table == table {
                guard case .bit(let bit) = point.type else { continue }
                let key = "\(point.address).\(bit)"
                if let first = bits[key] {
                    log.error(
                        "point '\(point.name)' reads the same bit \(bit) of register \(point.address) as '\(first.name)' (line \(first.location.mark.line))",
                        at: point.location)
                } else {
                    bits[key] = point
                }
            }
        }
    }

    private func checkScaleRegisters(_ points: [Point], limits: RequestLimits) {
        let byName = Dictionary(points.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for point in points {
            guard let scaleName = point.scaleFrom else { continue }
            guard let scale = byName[scaleName] else {
                log.error(
                    "scale_from names '\(scaleName)', which is not a point of this device\(Suggestion.hint(for: scaleName, among: byName.keys.sorted()))",
                    at: point.location)
                continue
            }
            if scale.type != .int16 {
                log.error(
                    "scale_from '\(scaleName)' must be an int16 point (a power-of-ten exponent), but it is \(scale.type)",
                    at: point.location)
            }
            if scale.table != point.table {
                log.error(
                    "scale_from '\(scaleName)' is in table \(scale.table.rawValue) but '\(point.name)' is in \(point.table.rawValue): they must be read in one request",
                    at: point.location)
            } else {
                let span = max(point.lastAddress, scale.lastAddress) - min(point.address, scale.address) + 1
                if span > limits.maxRegisters {
                    log.error(
                        "'\(point.name)' and its scale_from '\(scaleName)' span \(span) registers, more than one request may read (max_registers \(limits.maxRegisters))",
                        at: point.location)
                }
            }
        }
    }

    private func checkWidths(_ points: [Point], limits: RequestLimits) {
        for point in points where !point.table.holdsBits {
            let needed = limits.evenCount ? point.width + point.width % 2 : point.width
            if needed > limits.maxRegisters {
                log.error(
                    "'\(point.name)' needs \(needed) registers in one request, but the device's max_registers is \(limits.maxRegisters)",
                    at: point.location)
            }
        }
    }

    static func isBitOfRegister(_ point: Point) -> Bool {
        if case .bit = point.type { return true }
        return false
    }

    static func span(_ point: Point) -> String {
        point.width == 1 ? "address \(point.address)" : "addresses \(point.address)-\(point.lastAddress)"
    }
}
