import TramYAML

/// Reads one YAML mapping against the keys it may hold, reporting as it goes.
///
/// Unknown keys get a typo suggestion, duplicates are reported, and every typed
/// getter says at the value's own `line:column` what it expected. Getters return
/// nil after reporting, so decoding carries on and finds every other problem too.
struct MappingReader {
    let node: YAMLNode
    let file: String
    let log: DiagnosticLog
    private var values: [String: YAMLPair] = [:]

    /// Returns nil (after reporting) when `node` is not a mapping.
    init?(_ node: YAMLNode, file: String, log: DiagnosticLog, what: String, allowedKeys: [String]) {
        self.node = node
        self.file = file
        self.log = log
        guard case .mapping(let pairs) = node.kind else {
            log.error(
                "expected \(what) as a mapping of keys, found \(node.kindDescription)",
                at: SourceLocation(file: file, mark: node.mark))
            return nil
        }
        for pair in pairs {
            guard let key = pair.key.scalar else {
                log.error(
                    "expected a plain key in \(what), found \(pair.key.kindDescription)", at: location(of: pair.key))
                continue
            }
            if values[key] != nil {
                log.error("duplicate key '\(key)' in \(what)", at: location(of: pair.key))
                continue
            }
            if !allowedKeys.contains(key) {
                log.error(
                    "unknown key '\(key)' in \(what)\(Suggestion.hint(for: key, among: allowedKeys))",
                    at: location(of: pair.key))
                continue
            }
            values[key] = pair
        }
    }

    func location(of node: YAMLNode) -> SourceLocation { SourceLocation(file: file, mark: node.mark) }

    var location: SourceLocation { location(of: node) }

    /// Where a key's value is, or the key itself when the value is empty (`key:` or `key: ~`).
    func location(ofKey key: String) -> SourceLocation {
        guard let pair = values[key] else { return location }
        return location(of: pair.value.isNull ? pair.key : pair.value)
    }

    func has(_ key: String) -> Bool { values[key] != nil }

    func value(_ key: String) -> YAMLNode? {
        guard let pair = values[key], !pair.value.isNull else { return nil }
        return pair.value
    }

    /// Reports a missing required key at the mapping itself.
    func require(_ key: String, what: String) -> YAMLNode? {
        if let node = value(key) { return node }
        log.error("missing required key '\(key)' in \(what)", at: location)
        return nil
    }

    func scalarText(_ key: String, expected: String) -> (text: String, node: YAMLNode)? {
        guard let node = value(key) else { return nil }
        guard let text = node.scalar else {
            log.error("'\(key)' expects \(expected), found \(node.kindDescription)", at: location(of: node))
            return nil
        }
        return (text, node)
    }

    func string(_ key: String) -> String? {
        scalarText(key, expected: "text")?.text
    }

    func integer(_ key: String, in range: ClosedRange<Int64>) -> Int? {
        guard let (text, node) = scalarText(key, expected: "a whole number") else { return nil }
        guard let value = ScalarSyntax.integer(text) else {
            log.error("'\(key)' expects a whole number, found '\(text)'", at: location(of: node))
            return nil
        }
        guard range.contains(value) else {
            log.error(
                "'\(key)' is \(text), out of range \(range.lowerBound)...\(range.upperBound)", at: location(of: node))
            return nil
        }
        return Int(value)
    }

    func number(_ key: String) -> Double? {
        guard let (text, node) = scalarText(key, expected: "a number") else { return nil }
        guard let value = ScalarSyntax.number(text), value.isFinite else {
            log.error("'\(key)' expects a finite number, found '\(text)'", at: location(of: node))
            return nil
        }
        return value
    }

    func bool(_ key: String) -> Bool? {
        guard let (text, node) = scalarText(key, expected: "true or false") else { return nil }
        guard let value = ScalarSyntax.bool(text) else {
            log.error("'\(key)' expects true or false, found '\(text)'", at: location(of: node))
            return nil
        }
        return value
    }

    func duration(_ key: String, atLeast minimum: Duration = .zero) -> Duration? {
        guard let (text, node) = scalarText(key, expected: "a duration such as 500ms or 2s") else { return nil }
        guard let value = ScalarSyntax.duration(text) else {
            log.error(
                "'\(key)' expects a duration with a unit (us, ms, s, m, h, d) such as 500ms, 2s or 7d, found '\(text)'",
                at: location(of: node))
            return nil
        }
        guard value >= minimum else {
            log.error("'\(key)' must be at least \(minimum.shortDescription), found '\(text)'", at: location(of: node))
            return nil
        }
        return value
    }

    /// A size in bytes: `1GiB`, `512MiB`, `64KiB`, `2GB`, or a plain number of bytes.
    func byteSize(_ key: String, atLeast minimum: Int) -> Int? {
        guard let (text, node) = scalarText(key, expected: "a size such as 512MiB or 1GiB") else { return nil }
        guard let value = ScalarSyntax.byteSize(text) else {
            log.error("'\(key)' expects a size such as 64KiB, 512MiB or 1GiB, found '\(text)'", at: location(of: node))
            return nil
        }
        guard value >= minimum else {
            log.error("'\(key)' must be at least \(minimum) bytes, found '\(text)'", at: location(of: node))
            return nil
        }
        return value
    }

    /// One of a fixed set of words, with a suggestion for a near miss.
    func choice<T>(_ key: String, _ options: [(String, T)]) -> T? {
        guard let (text, node) = scalarText(key, expected: "one of \(options.map(\.0).joined(separator: ", "))") else {
            return nil
        }
        if let match = options.first(where: { $0.0 == text })
            ?? options.first(where: { $0.0.lowercased() == text.lowercased() })
        {
            return match.1
        }
        let names = options.map(\.0)
        log.error(
            "'\(key)' is '\(text)'; expected one of \(names.joined(separator: ", "))\(Suggestion.hint(for: text, among: names))",
            at: location(of: node))
        return nil
    }

    func list(_ key: String) -> [YAMLNode]? {
        guard let node = value(key) else { return nil }
        guard case .sequence(let items) = node.kind else {
            log.error("'\(key)' expects a list, found \(node.kindDescription)", at: location(of: node))
            return nil
        }
        return items
    }
}
