#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TramConfig

/// Small file helpers over libc, so the config tests need no Foundation.
enum TestFiles {
    /// This test target's folder (where the test sources and `testcases/` live).
    static let testsDirectory = ConfigPath.directory(of: #filePath)
    /// The package root (…/Tests/TramConfigTests → …).
    static let packageRoot = ConfigPath.join(testsDirectory, "../..")

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes += chunk[..<count] }
            if count < chunk.count { return ferror(file) == 0 ? bytes : nil }
        }
    }

    static func readText(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    @discardableResult
    static func write(_ path: String, _ text: String) -> Bool {
        guard let file = fopen(path, "wb") else { return false }
        defer { fclose(file) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) } == bytes.count
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Names in a directory (no `.`/`..`, no hidden files), sorted.
    static func list(_ directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    /// Paths relative to `directory` of every file below it, sorted.
    static func filesRecursively(_ directory: String, prefix: String = "") -> [String] {
        var found: [String] = []
        for name in list(directory) {
            let path = directory + "/" + name
            if isDirectory(path) {
                found += filesRecursively(path, prefix: prefix + name + "/")
            } else {
                found.append(prefix + name)
            }
        }
        return found.sorted()
    }

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
