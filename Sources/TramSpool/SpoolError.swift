import SystemPackage

/// Why a spool could not open.
public enum SpoolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another process holds the spool directory.
    case inUse(directory: String, holder: String)
    case io(operation: String, path: String, Errno)

    public var description: String {
        switch self {
        case .inUse(let directory, let holder): "spool \(directory) is in use by \(holder)"
        case .io(let operation, let path, let errno): "cannot \(operation) \(path): \(errno)"
        }
    }
}
