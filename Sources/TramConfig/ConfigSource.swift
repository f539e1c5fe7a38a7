/// Where config files come from. The config layer does no I/O itself: the
/// caller hands it a source (files on disk in tramctl and the agent, a
/// dictionary in tests and the fuzzer).
public protocol ConfigSource {
    /// The file's bytes, or nil if it cannot be read.
    func contents(of path: String) -> [UInt8]?
    /// Relative paths of the `.yaml` files below `directory`, for suggestions.
    func yamlFiles(under directory: String) -> [String]
    /// Why `contents(of:)` gave nil, in words a person can act on (no such file, permission, over the size limit).
    func problem(reading path: String) -> String?
}

extension ConfigSource {
    public func problem(reading path: String) -> String? { nil }
}

/// An in-memory source: path → text.
public struct InMemoryConfigSource: ConfigSource {
    public var files: [String: String]

    public init(_ files: [String: String]) { self.files = files }

    public func contents(of path: String) -> [UInt8]? { files[ConfigPath.normalize(path)].map { Array($0.utf8) } }

    public func yamlFiles(under directory: String) -> [String] {
        let prefix = ConfigPath.normalize(directory) + "/"
        return files.keys.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".yaml") }.map {
            String($0.dropFirst(prefix.count))
        }.sorted()
    }
}

/// Path arithmetic on `/`-separated strings, enough for config references.
public enum ConfigPath {
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public static func join(_ base: String, _ relative: String) -> String {
        if relative.hasPrefix("/") { return normalize(relative) }
        return normalize(base == "." ? relative : base + "/" + relative)
    }

    /// Removes `.` and `a/..` segments; keeps a leading `/` or leading `..`.
    public static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            if part == "..", absolute { continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
