import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The bearer token lives in a file (`/etc/tram/token`), never in the agent's config or its logs.
public enum TokenFile {
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case unreadable(path: String, Errno)
        case empty(path: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let errno): "cannot read the uplink token file \(path): \(errno)"
            case .empty(let path): "the uplink token file \(path) is empty"
            }
        }
    }

    /// Reads the token (surrounding whitespace and a trailing newline trimmed). Warns, without the token,
    /// when the file can be read by users other than its owner and group: a secret should be 0600 or 0640.
    public static func read(_ path: String, logger: Logger) throws(Problem) -> String {
        let file: FileDescriptor
        do { file = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec]) } catch {
            throw .unreadable(path: path, error as? Errno ?? .ioError)
        }
        defer { try? file.close() }
        var info = stat()
        if fstat(file.rawValue, &info) == 0, info.st_mode & S_IROTH != 0 || info.st_mode & S_IWOTH != 0 {
            logger.warning(
                "the uplink token file can be read by every user on this gateway; make it 0600 or 0640",
                metadata: ["path": "\(path)", "mode": "\(String(info.st_mode & 0o777, radix: 8))"])
        }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count: Int
        do { count = try bytes.withUnsafeMutableBytes { try file.read(into: $0) } } catch {
            throw .unreadable(path: path, error as? Errno ?? .ioError)
        }
        let token = String(decoding: bytes[..<count], as: UTF8.self).trimmingWhitespace
        guard !token.isEmpty else { throw .empty(path: path) }
        return token
    }
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        var text = String(String.UnicodeScalarView(scalars))
        while let last = text.last, last == " " || last == "\n" || last == "\r" || last == "\t" { text.removeLast() }
        return text
    }
}
