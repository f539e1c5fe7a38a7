import SystemPackage
import TramConfig
#if canImport(Glibc)
import Glibc
#endif

/// Config files from disk, read with swift-system.
public struct FileConfigSource: ConfigSource {
    /// Files larger than this are refused: no device map is this big, and a runaway file must not exhaust memory.
    public static let maximumSize = 16 << 20

    public init() {}

    public func contents(of path: String) -> [UInt8]? {
        guard let file = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec]) else {
            return nil
        }
        defer { try? file.close() }
        var bytes: [UInt8] = []
        // Sized by the file's length where it has one, so a 7 MB file is not copied up through doubling arrays
        // (8.7 MB at the peak for a 6.8 MB file); a pipe or /proc file grows as it is read.
        var info = stat()
        if fstat(file.rawValue, &info) == 0, info.st_size > 0 {
            bytes.reserveCapacity(min(Int(info.st_size), Self.maximumSize) + 1)
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            guard let count = try? chunk.withUnsafeMutableBytes({ try file.read(into: $0) }) else { return nil }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            if bytes.count > Self.maximumSize { return nil }
        }
    }

    public func problem(reading path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)).lowercased() }
        if (info.st_mode & S_IFMT) == S_IFDIR { return "it is a directory" }
        if Int(info.st_size) > Self.maximumSize {
            return
                "it is \(Self.mebibytes(Int(info.st_size))) MiB, over the \(Self.maximumSize >> 20) MiB limit for a config "
                + "file (100,000 inline points take about 10 MB; devices that share a profile take a few lines each)"
        }
        guard access(path, R_OK) == 0 else { return String(cString: strerror(errno)).lowercased() }
        return nil
    }

    static func mebibytes(_ bytes: Int) -> String {
        let tenths = (bytes * 10 + (1 << 19)) >> 20
        return "\(tenths / 10).\(tenths % 10)"
    }

    public func yamlFiles(under directory: String) -> [String] {
        var found: [String] = []
        collect(directory, prefix: "", into: &found, depth: 0)
        return found.sorted()
    }

    private func collect(_ directory: String, prefix: String, into found: inout [String], depth: Int) {
        guard depth < 4, let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let path = directory + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) {
                collect(path, prefix: prefix + name + "/", into: &found, depth: depth + 1)
            } else if name.hasSuffix(".yaml") {
                found.append(prefix + name)
            }
        }
    }
}
