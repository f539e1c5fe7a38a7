import SystemPackage
import Testing
import TramSpool
#if canImport(Glibc)
import Glibc
#endif

/// Deterministic crash points, where the `kill -9` loop only finds a narrow window by luck.
///
/// The child (`tram-spool-crash-child sweep`) ticks and closes a spool the test prepared, with a clock
/// that raises SIGKILL at its n-th reading; the test runs it for n = 1, 2, 3, ... until it finishes,
/// and after each kill reopens the spool and checks that nothing was lost. The spool reads its clock
/// inside its work (before a dictionary copy, a new segment, a sync), so every such point is hit,
/// whatever order the implementation writes in.
@Suite("Spool crash points")
struct SpoolCrashPointTests {
    static let segmentBytes = 1500

    /// 40 batches after a dictionary; every batch of the first segment (which holds the dictionary)
    /// acknowledged, so the next tick retires that segment and must copy the dictionary forward.
    /// The same seed each time gives the same files.
    static func prepare() throws -> Backlog {
        let backlog = Backlog(seed: 10_000, segmentBytes: segmentBytes)
        var spool: Spool? = try backlog.open()
        backlog.append(spool!, count: 40)
        backlog.acknowledge(spool!, backlog.records(backlog.segmentNames.first!).compactMap(\.identity), percent: 100)
        try spool!.close()
        spool = nil
        return backlog
    }

    @Test(
        "killed at each point of a tick that retires the dictionary's segment: the dictionary and every batch survive")
    func retireSweep() throws {
        guard let child = ChildProcess.locateProduct("tram-spool-crash-child") else {
            Issue.record(
                "tram-spool-crash-child not found next to the test binary; build it with `swift build --build-tests`")
            return
        }
        for killAt in 1...200 {
            let backlog = try Self.prepare()
            let process = try ChildProcess(
                child, ["sweep", backlog.directory.string, "\(Self.segmentBytes)", "\(killAt)"])
            process.waitForExit()
            let finished = process.exitCode == 0
            #expect(
                finished || process.terminatingSignal == SIGKILL,
                "kill point \(killAt): the child failed: \(process.lines)")
            let spool = try backlog.open()
            #expect(
                backlog.segmentNames.first != "0000000000000001.seg" || !finished,
                "the tick did not retire the first segment")
            backlog.expectReplay(
                spool, lost: [], cause: .corrupt, finished ? "after the tick" : "killed at clock reading \(killAt)")
            if finished {
                #expect(killAt > 2, "the tick read the clock only \(killAt - 1) times: too few points to be a sweep")
                return
            }
        }
        Issue.record("the child never finished its tick")
    }
}
