#if canImport(Glibc)
import Glibc
#endif

/// Who is on the other end of a control-socket connection: the kernel's `SO_PEERCRED` (the client's pid, uid and
/// gid when it connected; it cannot lie about them), and what that user may do.
public struct ControlPeer: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// The credentials of a connected Unix socket; nil if the kernel gives none.
    static func of(socket: Int32) -> ControlPeer? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc does not export it without _GNU_SOURCE).
        var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return ControlPeer(pid: credentials.0, uid: credentials.1, gid: credentials.2)
    }

    public var isRoot: Bool { uid == 0 }

    /// The user's name, or its number when it has none.
    public var userName: String {
        guard let entry = getpwuid(uid_t(uid)), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    /// Whether the client process is in `group` (its primary group or a supplementary one, from
    /// `/proc/<pid>/status`; the user's groups from the group database when that is gone).
    public func isMember(of group: String) -> Bool {
        guard let entry = getgrnam(group) else { return false }
        let wanted = UInt32(entry.pointee.gr_gid)
        if gid == wanted { return true }
        if let groups = Self.supplementaryGroups(pid: pid) { return groups.contains(wanted) }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        let name = userName
        guard getgrouplist(name, gid_t(gid), &groups, &count) >= 0 else { return false }
        return groups.prefix(Int(count)).contains(gid_t(wanted))
    }

    /// The `Groups:` line of `/proc/<pid>/status`.
    static func supplementaryGroups(pid: Int32) -> [UInt32]? {
        guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            guard text.hasPrefix("Groups:") else { continue }
            return text.dropFirst(7).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap {
                UInt32($0)
            }
        }
        return nil
    }
}
