import Logging
import Synchronization
import SystemPackage
import TramSchema
import TramSpool
import TramTestSupport
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// A clock the test moves by hand, so sync intervals and ages need no sleeping.
final class ManualClock: Sendable {
    private let wall = Atomic<Int64>(1_764_000_000_000)
    private let monotonic = Atomic<Int64>(1_000)

    var spoolClock: TramClock {
        TramClock(
            wallMilliseconds: { self.wall.load(ordering: .relaxed) },
            monotonicMilliseconds: { self.monotonic.load(ordering: .relaxed) })
    }

    func advance(milliseconds: Int64) {
        wall.add(milliseconds, ordering: .relaxed)
        monotonic.add(milliseconds, ordering: .relaxed)
    }
}

/// A batch frame whose bytes follow from its identity, so any copy can be checked.
func testFrame(_ identity: BatchIdentity, length: Int) -> [UInt8] {
    var random = SeededRandom(seed: identity.epoch &* 1_000_003 &+ identity.sequence &+ UInt64(length))
    return (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
}

/// Names and sizes of the files in a directory.
func fileSizes(_ directory: FilePath) -> [String: Int] {
    var sizes: [String: Int] = [:]
    guard let dir = opendir(directory.string) else { return sizes }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != ".", name != ".." else { continue }
        var info = stat()
        if stat(directory.appending(name).string, &info) == 0 { sizes[name] = Int(info.st_size) }
    }
    return sizes
}

/// The spool logs every recovery it makes; tests that cause hundreds keep it quiet.
let quietLogger: Logger = {
    var logger = Logger(label: "tram.spool.test")
    logger.logLevel = .critical
    return logger
}()
