import Synchronization
import Testing
import TramModbus
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// Collects events from I/O threads and lets a test wait for a condition with a deadline.
final class Recorder<Event: Sendable>: Sendable {
    private let events = Mutex<[Event]>([])

    func record(_ event: Event) { events.withLock { $0.append(event) } }

    var all: [Event] { events.withLock { $0 } }

    /// Polls until `condition` holds or `timeout` passes; returns whether it held.
    func wait(timeout: Duration = .seconds(5), until condition: ([Event]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(all)
    }
}

func monotonicMilliseconds() -> Double { Double(TramClock.system.monotonicNanoseconds()) / 1e6 }

func blockThread(milliseconds: Int) {
    var pause = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    nanosleep(&pause, nil)
}

@Suite("IOExecutor")
struct IOExecutorTests {
    @Test("jobs on one lane run in order and never overlap, even on a wide pool")
    func laneIsSerial() async {
        let executor = IOExecutor(threads: 4, name: "test-serial")
        defer { executor.shutdown() }
        let lane = IOExecutor.Lane(name: "one")
        let inside = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let order = Recorder<Int>()
        for i in 0..<200 {
            executor.submit(lane) {
                if inside.add(1, ordering: .sequentiallyConsistent).newValue > 1 { overlaps.add(1, ordering: .relaxed) }
                order.record(i)
                inside.subtract(1, ordering: .sequentiallyConsistent)
            }
        }
        #expect(await order.wait { $0.count == 200 })
        #expect(order.all == Array(0..<200))
        #expect(overlaps.load(ordering: .relaxed) == 0)
    }

    @Test("a blocked lane holds one thread; other lanes go on up to the pool's width")
    func blockedLaneDoesNotStallOthers() async {
        let executor = IOExecutor(threads: 2, name: "test-pool")
        defer { executor.shutdown() }
        let slow = IOExecutor.Lane(name: "slow"), fast = IOExecutor.Lane(name: "fast")
        let done = Recorder<(String, Double)>()
        let start = monotonicMilliseconds()
        executor.submit(slow) {
            blockThread(milliseconds: 400); done.record(("slow", monotonicMilliseconds() - start))
        }
        for _ in 0..<5 { executor.submit(fast) { done.record(("fast", monotonicMilliseconds() - start)) } }
        #expect(await done.wait { $0.count == 6 })
        let fastTimes = done.all.filter { $0.0 == "fast" }.map(\.1)
        let slowTime = done.all.first { $0.0 == "slow" }!.1
        // The fast lane's work all finishes while the slow lane's thread is still blocked.
        #expect(fastTimes.allSatisfy { $0 < slowTime }, "fast lane finished at \(fastTimes) ms, slow at \(slowTime) ms")
        #expect(slowTime >= 395)
    }

    @Test("with one thread, the same blocked lane does delay the other: the width is what isolates")
    func oneThreadSerialisesLanes() async {
        let executor = IOExecutor(threads: 1, name: "test-one")
        defer { executor.shutdown() }
        let slow = IOExecutor.Lane(name: "slow"), fast = IOExecutor.Lane(name: "fast")
        let done = Recorder<Double>()
        let start = monotonicMilliseconds()
        executor.submit(slow) { blockThread(milliseconds: 200) }
        executor.submit(fast) { done.record(monotonicMilliseconds() - start) }
        #expect(await done.wait { $0.count == 1 })
        #expect(done.all[0] >= 195)
    }

    @Test("timed jobs run at their deadline, in deadline order, and a blocked lane does not hold another lane's timer")
    func timers() async {
        let executor = IOExecutor(threads: 2, name: "test-timer")
        defer { executor.shutdown() }
        let a = IOExecutor.Lane(name: "a"), b = IOExecutor.Lane(name: "b")
        let fired = Recorder<(String, Double)>()
        let base = TramClock.system.monotonicNanoseconds()
        let start = monotonicMilliseconds()
        // Lane a blocks from 20 ms to 420 ms; lane b's timers at 100, 150 and 60 ms must still fire on time.
        executor.schedule(a, atMonotonicNanoseconds: base + 20_000_000) {
            blockThread(milliseconds: 400); fired.record(("a", monotonicMilliseconds() - start))
        }
        executor.schedule(b, atMonotonicNanoseconds: base + 100_000_000) {
            fired.record(("b100", monotonicMilliseconds() - start))
        }
        executor.schedule(b, atMonotonicNanoseconds: base + 150_000_000) {
            fired.record(("b150", monotonicMilliseconds() - start))
        }
        executor.schedule(b, atMonotonicNanoseconds: base + 60_000_000) {
            fired.record(("b60", monotonicMilliseconds() - start))
        }
        #expect(await fired.wait { $0.count == 4 })
        let events = fired.all
        #expect(events.map(\.0) == ["b60", "b100", "b150", "a"])
        for (name, at) in events where name.hasPrefix("b") {
            let due = Double(name.dropFirst())!
            // Never early; and while lane a's thread is still blocked (until about 420 ms), not after it.
            #expect(at >= due - 1 && at < 400, "\(name) fired at \(at) ms")
        }
    }
}
