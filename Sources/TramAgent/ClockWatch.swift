import TramCore
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import TramSchema

/// Says how far a reading's wall-clock time can be trusted: the `ClockFlags` each group carries on the wire.
///
/// Gateways often boot without NTP, and a time daemon that finds the network later *steps* the clock, by
/// hours or years. Readings stamped before and after such a step are not comparable, and a collector that is
/// not told files them in the wrong place silently (Telegraf #5335 skews until restart). Two things are watched:
///
/// - **Synchronised**: the kernel's own verdict (`adjtimex`, see `KernelClockStatus`), read at most once per
///   `statusCacheDuration`, because `flags()` runs once per poll cycle and `adjtimex` is a real syscall.
/// - **Stepped**: the offset between the wall clock and `CLOCK_MONOTONIC`. Time daemons discipline the kernel's
///   clock by frequency and slew, which moves both clocks together, so the offset holds still to within the
///   jitter of reading them; only a step (`settimeofday`, `clock_settime`, chrony's `makestep`, `ADJ_SETOFFSET`)
///   moves it. (A suspend moves it too, as `CLOCK_MONOTONIC` stops while suspended: reported as a forward step.)
///   Each check compares the offset with the previous check's; a change larger than `stepThreshold` (1 s by
///   default, so a leap second's exact 1 s is not a step) is logged once, with its size, and marks what follows.
///
/// **How long a step stays marked.** Groups are per device and devices poll at their own intervals, so the
/// flag must reach every device's next group, not just the first group encoded after the step. `stepped` is
/// therefore set on every group flagged during `markDuration` (5 minutes by default: longer than any poll interval
/// a gateway sensibly uses) after the step was seen; a further step restarts the window. Within the window the flag
/// reads "the clock stepped recently: do not order this group against earlier ones by time alone". A group stamped
/// just before the step but flagged just after carries it too, which errs on the safe side.
///
/// Every check reads both clocks (through the vDSO: no syscall) and takes a lock; safe from any thread.
public final class ClockWatch: Sendable {
    /// The clocks a watch reads; tests pass their own.
    public struct Clocks: Sendable {
        /// `CLOCK_REALTIME`, in nanoseconds since 1970.
        public var wallNanoseconds: @Sendable () -> Int64
        /// `CLOCK_MONOTONIC`, in nanoseconds.
        public var monotonicNanoseconds: @Sendable () -> Int64
        /// The kernel's synchronisation status.
        public var kernelStatus: @Sendable () -> KernelClockStatus

        public init(
            wallNanoseconds: @escaping @Sendable () -> Int64, monotonicNanoseconds: @escaping @Sendable () -> Int64,
            kernelStatus: @escaping @Sendable () -> KernelClockStatus
        ) {
            self.wallNanoseconds = wallNanoseconds
            self.monotonicNanoseconds = monotonicNanoseconds
            self.kernelStatus = kernelStatus
        }

        /// This machine's clocks and `adjtimex`.
        public static let system = Clocks(
            wallNanoseconds: { TramClock.system.wallNanoseconds() },
            monotonicNanoseconds: { Int64(clamping: TramClock.system.monotonicNanoseconds()) },
            kernelStatus: { KernelClockStatus.current() })
    }

    /// A step of the wall clock, as a check saw it.
    public struct Step: Sendable, Equatable {
        /// How far the wall clock moved against the monotonic clock: positive forward, negative backward.
        public var size: Duration
        /// `CLOCK_MONOTONIC` when the step was seen.
        public var seenAtMonotonicNanoseconds: Int64
    }

    public let stepThreshold: Duration
    public let markDuration: Duration
    public let statusCacheDuration: Duration
    private let clocks: Clocks
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        /// Wall minus monotonic at the previous check, nil before the first.
        var offsetNanoseconds: Int64?
        var lastStep: Step?
        /// Groups are flagged `stepped` while the monotonic clock is before this.
        var markedUntilNanoseconds = Int64.min
        var synchronised = false
        /// When `adjtimex` was last read, nil before the first.
        var statusReadAtNanoseconds: Int64?
    }

    /// - Parameters:
    ///   - stepThreshold: a larger change of the wall − monotonic offset between two checks is a step.
    ///   - markDuration: how long after a step groups carry `stepped`.
    ///   - statusCacheDuration: how long an `adjtimex` answer is reused.
    public init(
        stepThreshold: Duration = .seconds(1), markDuration: Duration = .seconds(300),
        statusCacheDuration: Duration = .seconds(1), clocks: Clocks = .system,
        logger: Logger = Logger(label: "tram.clock")
    ) {
        self.stepThreshold = stepThreshold
        self.markDuration = markDuration
        self.statusCacheDuration = statusCacheDuration
        self.clocks = clocks
        self.logger = logger
    }

    /// The flags for a group stamped now. Checks for a step on every call; reads `adjtimex` when its cached answer
    /// is older than `statusCacheDuration`. Call it once per poll cycle (and from a periodic tick if you want a step
    /// logged promptly while no device polls).
    public func flags() -> ClockFlags {
        let wall = clocks.wallNanoseconds()
        let monotonic = clocks.monotonicNanoseconds()
        let threshold = stepThreshold.nanoseconds
        let cache = statusCacheDuration.nanoseconds
        let mark = markDuration.nanoseconds

        var step: Step?
        var syncChange: Bool?
        let flags = state.withLock { state -> ClockFlags in
            let offset = wall &- monotonic
            if let previous = state.offsetNanoseconds, abs(offset &- previous) > threshold {
                step = Step(size: .nanoseconds(offset &- previous), seenAtMonotonicNanoseconds: monotonic)
                state.lastStep = step
                state.markedUntilNanoseconds = monotonic &+ mark
            }
            state.offsetNanoseconds = offset

            if state.statusReadAtNanoseconds.map({ monotonic &- $0 >= cache }) ?? true {
                let first = state.statusReadAtNanoseconds == nil
                let synchronised = clocks.kernelStatus().isSynchronised
                // Said once at start, and again only when it changes.
                if first || synchronised != state.synchronised { syncChange = synchronised }
                state.synchronised = synchronised
                state.statusReadAtNanoseconds = monotonic
            }

            var flags: ClockFlags = []
            if state.synchronised { flags.insert(.synchronised) }
            if monotonic < state.markedUntilNanoseconds { flags.insert(.stepped) }
            return flags
        }

        // Logged outside the lock, once per event.
        if let step {
            let size = Self.seconds(step.size)
            logger.warning(
                "wall clock stepped \(step.size > .zero ? "forward" : "backward") by \(size.magnitude) s; readings are marked stepped for \(Self.seconds(markDuration)) s",
                metadata: ["step_seconds": "\(size)"])
        }
        switch syncChange {
        case true?: logger.notice("clock synchronised (adjtimex): readings are marked synchronised")
        case false?:
            logger.warning(
                "clock not synchronised (adjtimex): readings are marked unsynchronised until a time daemon takes the clock in hand"
            )
        case nil: break
        }
        return flags
    }

    /// The most recent step seen, if any.
    public var lastStep: Step? { state.withLock { $0.lastStep } }

    /// Whole milliseconds as seconds, for messages (`-3600.25`).
    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.nanoseconds / 1_000_000) / 1000
    }
}
