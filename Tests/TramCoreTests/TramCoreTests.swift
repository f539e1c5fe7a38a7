import Testing
import TramCore

@Suite("Backoff")
struct BackoffTests {
    @Test("no jitter: exactly initial × 2^failures, capped; reset starts over")
    func noJitter() {
        var backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(2), jitter: .none)
        let delays = (0..<6).map { _ in backoff.next(unit: 0.7) }
        #expect(delays == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(2), .seconds(2)])
        #expect(backoff.failures == 6)
        backoff.reset()
        #expect(backoff.next(unit: 0.7) == .milliseconds(250))
    }

    @Test("proportional jitter stays within ±fraction of the exponential delay, at both ends of the draw")
    func proportional() {
        var low = Backoff.reconnect, high = Backoff.reconnect
        for failures in 0..<10 {
            let ceiling = min(250_000 * (1 << failures), 30_000_000)
            let a = low.next(unit: 0).microseconds, b = high.next(unit: 0.999_999).microseconds
            #expect(a >= Int64(ceiling) * 8 / 10 - 1 && a <= Int64(ceiling) * 8 / 10, "failure \(failures)")
            #expect(b < Int64(ceiling) * 12 / 10 && b >= Int64(ceiling) * 12 / 10 - 100, "failure \(failures)")
        }
    }

    @Test("half fixed: in [delay / 2, delay), never sooner than Retry-After")
    func halfFixed() {
        var backoff = Backoff.delivery
        #expect(backoff.next(retryAfterSeconds: nil, unit: 0) == 250)
        #expect(backoff.next(retryAfterSeconds: nil, unit: 0.5) == 750)
        #expect(backoff.next(retryAfterSeconds: 9, unit: 0.999_999) == 9_000)
    }
}

@Suite("Text search without _StringProcessing")
struct StringSearchTests {
    @Test(
        "first byte range and contains, against the standard library's answers",
        arguments: [
            ("tcp://host:502", "://"), ("rtu:///dev/ttyUSB0", "://"), ("no scheme", "://"), ("", "x"), ("abc", ""),
            ("http://vm:8428/write?db=x&precision=ms", "precision=ms"), ("aaab", "aab"), ("précision=ms", "ms"),
            ("tlsv13 alert certificate required", "alert certificate required"), ("ab", "abc"),
        ])
    func matches(_ text: String, _ needle: String) {
        let found = text.firstByteRange(of: needle)
        #expect(
            found.map { String(text[$0]) }
                == (needle.isEmpty ? "" : text.firstRange(of: needle).map { String(text[$0]) }))
        #expect(found?.lowerBound == (needle.isEmpty ? text.startIndex : text.firstRange(of: needle)?.lowerBound))
        #expect(text.containsBytes(of: needle) == (needle.isEmpty || text.contains(needle)))
    }
}

@Suite("Duration units")
struct DurationUnitTests {
    @Test("milliseconds, microseconds and nanoseconds truncate; nanoseconds saturate instead of trapping")
    func units() {
        #expect(Duration.milliseconds(1500).milliseconds == 1500 && Duration.microseconds(2_500).milliseconds == 2)
        #expect(Duration.seconds(3).microseconds == 3_000_000 && Duration.seconds(1.5).seconds == 1.5)
        #expect(Duration.seconds(Int64.max / 10).nanoseconds == .max)
        #expect(Duration.seconds(-(Int64.max / 10)).nanoseconds == .min)
        #expect(Duration.milliseconds(250).shortDescription == "250ms" && Duration.seconds(2).shortDescription == "2s")
    }
}

@Suite("TramClock")
struct TramClockTests {
    @Test("an injected clock is what every reading says; milliseconds are whole")
    func injected() {
        let clock = TramClock(wallMilliseconds: { 1_764_000_000_123 }, monotonicMilliseconds: { 42 })
        #expect(clock.wallMilliseconds() == 1_764_000_000_123 && clock.monotonicMilliseconds() == 42)
        #expect(clock.now() == Timestamp(wallMilliseconds: 1_764_000_000_123, monotonicNanoseconds: 42_000_000))
    }

    @Test("the system clock's monotonic time never goes back")
    func monotonic() {
        var last = TramClock.system.monotonicNanoseconds()
        for _ in 0..<10_000 {
            let now = TramClock.system.monotonicNanoseconds()
            #expect(now >= last)
            last = now
        }
    }
}
