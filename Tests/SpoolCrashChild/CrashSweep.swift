import SystemPackage
import SpoolCrashWorkload
import TramSpool
import TramTestSupport
import TramCore
#if canImport(Glibc)
import Glibc
#endif

// The sweep mode: `tram-spool-crash-child sweep DIRECTORY SEGMENT_BYTES KILL_AT` opens the spool the
// test prepared, then ticks and closes it with a clock that raises SIGKILL at its KILL_AT-th reading.
// The spool reads its clock at fixed points inside its work (before a new segment, a dictionary
// copy, a sync), so sweeping KILL_AT over 1, 2, 3, ... kills the process at each of those points in
// turn: deterministic crash points, whatever order the spool does its writes in. It reports
// "C calls" and exits 0 once KILL_AT is past the last reading.

nonisolated(unsafe) private var clockReadings = 0
nonisolated(unsafe) private var killAt = Int.max
nonisolated(unsafe) private var armed = false

private func readClock() {
    guard armed else { return }
    clockReadings += 1
    if clockReadings == killAt { raise(SIGKILL) }
}

/// A clock at a fixed time just after the test's `ManualClock` start, counting its readings.
private let countingClock = TramClock(
    wallMilliseconds: {
        readClock(); return 1_764_000_500_000
    },
    monotonicMilliseconds: {
        readClock(); return 5_000_000
    })

func runSweep(_ arguments: [String]) -> Never {
    guard arguments.count == 5, let segmentBytes = Int(arguments[3]), let kill = Int(arguments[4]) else {
        report("E usage: tram-spool-crash-child sweep DIRECTORY SEGMENT_BYTES KILL_AT\n")
        exit(2)
    }
    let options = SpoolOptions(
        directory: FilePath(arguments[2]), maximumBytes: 1 << 30, maximumAgeMilliseconds: 86_400_000 * 365,
        syncIntervalMilliseconds: 1000, segmentBytes: segmentBytes)
    let spool: Spool
    do { spool = try Spool(options: options, clock: countingClock) } catch { fail("open: \(error)") }
    killAt = kill
    armed = true
    spool.tick()
    do { try spool.close() } catch { fail("close: \(error)") }
    armed = false
    report("C \(clockReadings)\n")
    exit(0)
}
