#if canImport(Glibc)
import Glibc
#endif

/// Where the control socket listens: a Unix stream socket at a path. The agent binds it and tramctl connects to it,
/// with this one address.
public enum ControlSocketAddress {
    /// `path` as a `sockaddr_un`, cut to the 107 bytes it holds (a longer path cannot be bound).
    public static func make(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(107).enumerated() { raw[index] = byte }
        }
        return address
    }
}
