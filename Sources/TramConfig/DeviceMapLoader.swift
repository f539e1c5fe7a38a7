import TramYAML

/// Loads agent files and profiles from a ``ConfigSource`` and validates them,
/// collecting every problem in one pass.
public struct DeviceMapLoader {
    public let source: any ConfigSource

    public init(source: any ConfigSource) {
        self.source = source
    }

    /// What a load produced: the config if it is usable, and every diagnostic.
    public struct Result<Value> {
        public var value: Value?
        public var diagnostics: [Diagnostic]
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    }

    /// Loads an agent file and the profiles it references.
    /// - Parameter profilesDirectory: where to look for profiles when the file has no `profiles:` key.
    public func loadAgent(_ path: String, profilesDirectory: String? = nil) -> Result<AgentConfig> {
        let log = DiagnosticLog()
        guard let root = parse(path, log: log) else { return Result(value: nil, diagnostics: log.sorted) }
        let directory = ConfigPath.directory(of: path)
        var profilesRoot = profilesDirectory ?? ConfigPath.join(directory, "Devices")
        if case .mapping(let pairs) = root.kind,
            let pair = pairs.first(where: { $0.key.scalar == "profiles" }), let text = pair.value.scalar
        {
            profilesRoot = ConfigPath.join(directory, text)
        }
        var cache: [String: Profile?] = [:]
        let decoder = AgentDecoder(file: path, log: log) { reference, location in
            let file = ConfigPath.join(profilesRoot, reference.hasSuffix(".yaml") ? reference : reference + ".yaml")
            if let cached = cache[file] { return cached }
            guard source.contents(of: file) != nil else {
                let known = source.yamlFiles(under: profilesRoot).map { String($0.dropLast(5)) }
                log.error(
                    "profile '\(reference)' not found (looked for \(file))\(Suggestion.hint(for: reference, among: known))",
                    at: location)
                cache[file] = .some(nil)
                return nil
            }
            let profile = loadProfile(file, into: log)
            cache[file] = profile
            return profile
        }
        let config = decoder.decode(root)
        return Result(value: log.hasErrors ? nil : config, diagnostics: log.sorted)
    }

    /// Loads and validates one profile file.
    public func loadProfile(_ path: String) -> Result<Profile> {
        let log = DiagnosticLog()
        let profile = loadProfile(path, into: log)
        return Result(value: log.hasErrors ? nil : profile, diagnostics: log.sorted)
    }

    /// Whether a YAML file is a profile (has a `profile:` header) rather than an agent file.
    public func isProfile(_ path: String) -> Bool {
        guard let bytes = source.contents(of: path), let root = try? YAMLParser.parse(bytes),
            case .mapping(let pairs) = root.kind
        else { return false }
        return pairs.contains { $0.key.scalar == "profile" } && !pairs.contains { $0.key.scalar == "devices" }
    }

    private func loadProfile(_ path: String, into log: DiagnosticLog) -> Profile? {
        guard let root = parse(path, log: log) else { return nil }
        return ProfileDecoder(file: path, log: log).decode(root)
    }

    private func parse(_ path: String, log: DiagnosticLog) -> YAMLNode? {
        let start = SourceLocation(file: path, mark: SourceMark(line: 1, column: 1))
        guard let bytes = source.contents(of: path) else {
            log.error("cannot read the file" + (source.problem(reading: path).map { ": \($0)" } ?? ""), at: start)
            return nil
        }
        do {
            guard let root = try YAMLParser.parse(bytes) else {
                log.error("the file is empty", at: start)
                return nil
            }
            return root
        } catch {
            log.error("YAML syntax: \(error.message)", at: SourceLocation(file: path, mark: error.mark))
            return nil
        }
    }
}
