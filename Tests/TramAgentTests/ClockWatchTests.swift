import Logging
import Synchronization
import Testing
import TramSchema
@testable import TramAgent

/// Clocks a test moves by hand: wall and monotonic time, and what `adjtimex` would say.
private final class HandClocks: Sendable {
    private struct State {
        var wall: Int64 = 1_700_000_000 * 1_000_000_000
        var monotonic: Int64 = 5_000 * 1_000_000_000
        var status = KernelClockStatus.synchronised
        var statusReads = 0
    }
    private let state = Mutex(State())

    var clocks: ClockWatch.Clocks {
        ClockWatch.Clocks(
            wallNanoseconds: { self.state.withLock { $0.wall } },
            monotonicNanoseconds: { self.state.withLock { $0.monotonic } },
            kernelStatus: {
                self.state.withLock {
                    $0.statusReads += 1; return $0.status
                }
            })
    }

    /// Time passes: both clocks advance, the wall clock by `drift` more (a daemon slewing it, or jitter).
    func pass(milliseconds: Int64, driftNanoseconds: Int64 = 0) {
        state.withLock {
            $0.monotonic += milliseconds * 1_000_000
            $0.wall += milliseconds * 1_000_000 + driftNanoseconds
        }
    }

    /// Someone sets the wall clock (a time daemon's step, `date -s`): the monotonic clock does not move.
    func stepWall(seconds: Int64) { state.withLock { $0.wall += seconds * 1_000_000_000 } }
    func setStatus(_ status: KernelClockStatus) { state.withLock { $0.status = status } }
    var statusReads: Int { state.withLock { $0.statusReads } }
}

/// Log lines a watch wrote, as "level message".
private final class RecordedLogs: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var warnings: [String] { all.filter { $0.hasPrefix("warning") } }

    var logger: Logger {
        Logger(label: "test.clock") { _ in Handler(logs: self) }
    }

    private struct Handler: LogHandler {
        let logs: RecordedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            logs.lines.withLock { $0.append("\(event.level) \(event.message)") }
        }
    }
}

@Suite("ClockWatch")
struct ClockWatchTests {
    @Test("adjtimex's answer: synchronised unless TIME_ERROR, STA_UNSYNC or a failed call")
    func kernelStatusParsing() {
        // Values from <sys/timex.h>: TIME_OK 0, TIME_INS 1, TIME_ERROR 5; STA_PLL 0x1, STA_INS 0x10, STA_UNSYNC 0x40.
        #expect(KernelClockStatus(state: 0, status: 0x1).isSynchronised)
        #expect(
            KernelClockStatus(state: 1, status: 0x1 | 0x10).isSynchronised,
            "a pending leap second is still synchronised")
        #expect(!KernelClockStatus(state: 0, status: 0x1 | 0x40).isSynchronised)
        #expect(!KernelClockStatus(state: 5, status: 0x1).isSynchronised)
        #expect(!KernelClockStatus(state: 5, status: 0x40).isSynchronised)
        #expect(!KernelClockStatus(state: -1, status: 0).isSynchronised, "adjtimex refused (seccomp): not trusted")
        #expect(KernelClockStatus.synchronised.isSynchronised && !KernelClockStatus.unsynchronised.isSynchronised)

        // This machine's kernel answers a read-only query, with a state adjtimex can return.
        let current = KernelClockStatus.current()
        #expect((0...5).contains(current.state))
        #expect(current.isSynchronised == (current.state != 5 && current.status & 0x40 == 0))
    }

    @Test("synchronised follows adjtimex, read at most once per second however often flags() is called")
    func synchronisedIsCached() {
        let hand = HandClocks()
        let logs = RecordedLogs()
        let watch = ClockWatch(clocks: hand.clocks, logger: logs.logger)
        for _ in 0..<100 {
            #expect(watch.flags() == .synchronised)
            hand.pass(milliseconds: 5)
        }
        #expect(hand.statusReads == 1)
        let synchronisedNotices = {
            logs.all.filter { $0.hasPrefix("notice") && $0.contains("clock synchronised") }.count
        }
        #expect(synchronisedNotices() == 1, "the state at start is logged")

        hand.setStatus(.unsynchronised)
        hand.pass(milliseconds: 499)
        #expect(watch.flags() == .synchronised, "still the cached answer, 999 ms old")
        hand.pass(milliseconds: 1)
        #expect(watch.flags() == [])
        #expect(hand.statusReads == 2)
        #expect(logs.warnings.count == 1 && logs.warnings[0].contains("not synchronised"))

        hand.setStatus(.synchronised)
        hand.pass(milliseconds: 1000)
        #expect(watch.flags() == .synchronised)
        #expect(synchronisedNotices() == 2)
        #expect(logs.warnings.count == 1, "each change is logged once")
    }

    @Test("a step forward is flagged and logged once, with its size")
    func stepForward() throws {
        let hand = HandClocks()
        let logs = RecordedLogs()
        let watch = ClockWatch(clocks: hand.clocks, logger: logs.logger)
        #expect(watch.flags() == .synchronised)
        hand.pass(milliseconds: 1000)
        #expect(watch.flags() == .synchronised)

        hand.pass(milliseconds: 1000)
        hand.stepWall(seconds: 3600)  // booted in the past; NTP arrived
        #expect(watch.flags() == [.synchronised, .stepped])
        let step = try #require(watch.lastStep)
        #expect(step.size == .seconds(3600))
        hand.pass(milliseconds: 1000)
        #expect(watch.flags().contains(.stepped), "the groups after the step carry it too")

        #expect(logs.warnings.count == 1)
        #expect(logs.warnings.first?.contains("stepped forward by 3600.0 s") == true)
    }

    @Test("a step backward is flagged with a negative size")
    func stepBackward() throws {
        let hand = HandClocks()
        let logs = RecordedLogs()
        let watch = ClockWatch(clocks: hand.clocks, logger: logs.logger)
        hand.setStatus(.unsynchronised)
        _ = watch.flags()
        hand.pass(milliseconds: 250)
        hand.stepWall(seconds: -7200)
        #expect(watch.flags() == .stepped)
        #expect(try #require(watch.lastStep).size == .seconds(-7200))
        #expect(logs.warnings.last?.contains("stepped backward by 7200.0 s") == true)
    }

    @Test("no false step from slewing, drift and jitter, nor from a leap second's exact second")
    func noFalseStep() {
        let hand = HandClocks()
        let logs = RecordedLogs()
        let watch = ClockWatch(clocks: hand.clocks, logger: logs.logger)
        var generator = SystemRandomNumberGenerator()
        // An hour of once-a-second checks: 500 ppm of slew (the kernel's limit) plus up to ±20 ms of jitter each.
        for _ in 0..<3600 {
            hand.pass(
                milliseconds: 1000,
                driftNanoseconds: 500_000 + Int64.random(in: -20_000_000...20_000_000, using: &generator))
            #expect(!watch.flags().contains(.stepped))
        }
        // A long quiet spell between checks, then the offset a little way off: still no step.
        hand.pass(milliseconds: 600_000, driftNanoseconds: 300_000_000)
        #expect(!watch.flags().contains(.stepped))
        // A leap second moves the wall clock by exactly the threshold, which is not more than it.
        hand.pass(milliseconds: 1000)
        hand.stepWall(seconds: -1)
        #expect(!watch.flags().contains(.stepped))
        #expect(watch.lastStep == nil)
        #expect(logs.warnings.isEmpty)
    }

    @Test("the mark clears once markDuration has passed after the step, and a new step restarts it")
    func markClears() throws {
        let hand = HandClocks()
        let watch = ClockWatch(markDuration: .seconds(300), clocks: hand.clocks, logger: RecordedLogs().logger)
        _ = watch.flags()
        hand.pass(milliseconds: 1000)
        hand.stepWall(seconds: 90)
        #expect(watch.flags().contains(.stepped))
        let seen = try #require(watch.lastStep).seenAtMonotonicNanoseconds

        // Checks every 10 s: marked for 300 s after the step was seen, not a moment longer.
        for _ in 1..<30 {
            hand.pass(milliseconds: 10_000)
            #expect(watch.flags().contains(.stepped))
        }
        hand.pass(milliseconds: 9_999)
        #expect(watch.flags().contains(.stepped))
        hand.pass(milliseconds: 1)
        #expect(watch.flags() == .synchronised)
        #expect(watch.lastStep?.seenAtMonotonicNanoseconds == seen, "the last step is still on record")

        // A second step marks again, for a full window from itself.
        hand.stepWall(seconds: -30)
        #expect(watch.flags().contains(.stepped))
        #expect(watch.lastStep?.size == .seconds(-30))
        hand.pass(milliseconds: 299_999)
        #expect(watch.flags().contains(.stepped))
        hand.pass(milliseconds: 1)
        #expect(!watch.flags().contains(.stepped))
    }

    @Test("the real clocks: a watch on this machine flags no step and agrees with adjtimex")
    func systemClocks() {
        let watch = ClockWatch(logger: RecordedLogs().logger)
        let synchronised = KernelClockStatus.current().isSynchronised
        for _ in 0..<1000 {
            let flags = watch.flags()
            #expect(!flags.contains(.stepped))
            #expect(flags.contains(.synchronised) == synchronised)
        }
    }
}
