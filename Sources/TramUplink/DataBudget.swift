import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A daily data budget for a metered link: the bytes used in the current UTC day, kept in a small file so a
/// restart does not hand out the day's budget twice.
///
/// The file is rewritten after every upload but not synced: a power cut can forget the last few uploads'
/// bytes, an undercount of seconds of traffic, which is cheaper than a flash write per upload.
public struct DataBudget: Sendable {
    /// Bytes a day (nil: unlimited; usage is still counted and reported).
    public let limitBytes: Int?
    /// Days since 1970-01-01, UTC.
    public private(set) var day: Int64
    public private(set) var usedBytes: Int
    private let file: FilePath?

    static let millisecondsPerDay: Int64 = 86_400_000

    public init(limitBytes: Int?, file: FilePath?, nowMilliseconds: Int64) {
        self.limitBytes = limitBytes
        self.file = file
        day = nowMilliseconds / Self.millisecondsPerDay
        usedBytes = 0
        if let file, let saved = Self.load(file), saved.day == day { usedBytes = saved.used }
    }

    /// Adds bytes spent (failed requests count too: the link bills them).
    public mutating func record(bytes: Int, nowMilliseconds: Int64) {
        roll(to: nowMilliseconds)
        guard bytes > 0 else { return }
        usedBytes += bytes
        save()
    }

    /// Nil while budget is left; otherwise how long until the next UTC day starts.
    public mutating func millisecondsUntilAvailable(nowMilliseconds: Int64) -> Int64? {
        roll(to: nowMilliseconds)
        guard let limitBytes, usedBytes >= limitBytes else { return nil }
        return (day + 1) * Self.millisecondsPerDay - nowMilliseconds
    }

    private mutating func roll(to nowMilliseconds: Int64) {
        let today = nowMilliseconds / Self.millisecondsPerDay
        // A clock stepped backwards a day keeps counting into the later day rather than granting a fresh budget.
        guard today > day else { return }
        day = today
        usedBytes = 0
        save()
    }

    private func save() {
        guard let file else { return }
        let text = Array("\(day) \(usedBytes)\n".utf8)
        guard
            let fd = try? FileDescriptor.open(
                file, .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead])
        else { return }
        _ = try? fd.writeAll(text)
        try? fd.close()
    }

    private static func load(_ file: FilePath) -> (day: Int64, used: Int)? {
        guard let fd = try? FileDescriptor.open(file, .readOnly, options: [.closeOnExec]) else { return nil }
        defer { try? fd.close() }
        var bytes = [UInt8](repeating: 0, count: 64)
        guard let count = try? bytes.withUnsafeMutableBytes({ try fd.read(into: $0) }) else { return nil }
        let fields = String(decoding: bytes[..<count], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let day = Int64(fields[0]), let used = Int(fields[1]), used >= 0 else { return nil }
        return (day, used)
    }
}
