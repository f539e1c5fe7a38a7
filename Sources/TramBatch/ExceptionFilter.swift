import TramCore
import TramSchema

/// Report by exception: decides, reading by reading, which are sent and which tell a consumer nothing new.
///
/// The rules are the dictionary's own (`PointDescriptor.deadband`, `heartbeatMilliseconds`), so what the agent does
/// is exactly what every consumer is told it does. For a point with a rule, a reading is sent when
///
/// - the point was never sent, or a snapshot of its device is due (start, a device back online, a loss);
/// - its quality differs from the last one sent (good → timeout → good), with the value that goes with it;
/// - its heartbeat is due: at the last poll that keeps the gap under the heartbeat, assuming the next poll comes
///   within 1¼ poll intervals, in monotonic time (a wall-clock step neither fires nor delays it);
/// - it is good and its engineering value moved more than the deadband from the last value **sent** (never the last
///   polled: slow drift still crosses it), or, with a deadband of 0 and for booleans, bit fields and strings, it
///   changed at all. NaN to a number and back is a change.
///
/// Two steps, so that a group that does not fit in its batch (and is encoded again in the next) is not taken for
/// sent: ``decide(alias:value:exponent:atMilliseconds:)`` reads the state, ``commit(alias:value:exponent:atMilliseconds:)``
/// records a send once it is encoded. Its state is preallocated per alias, so neither allocates.
/// Not thread-safe: one owner, the writer thread.
public final class ExceptionFilter {
    /// What a reading is compared with.
    public enum Reference: Sendable {
        /// The last value sent: the rule. A consumer's value is then never further than the deadband from the truth.
        case lastSent
        /// The last value polled: **wrong**, kept only so the replay check can show it breaks the bound (a slow
        /// drift of less than the deadband a poll is never sent, however far it goes).
        case lastPolled
    }

    public let reference: Reference
    /// Per alias: NaN when every poll is sent (no rule), else the deadband in engineering units.
    private let deadbands: UnsafeMutablePointer<Double>
    /// Per alias: heartbeat minus 1¼ poll intervals (ms), the age at which a send is due; .max when none.
    private let dueAfter: UnsafeMutablePointer<Int64>
    private let scales: UnsafeMutablePointer<Double>
    private let offsets: UnsafeMutablePointer<Double>
    private let numeric: UnsafeMutablePointer<Bool>
    /// Per alias, the last send: its quality (``neverSent`` before the first), raw bits, engineering value, time.
    private let sentQuality: UnsafeMutablePointer<UInt16>
    private let sentBits: UnsafeMutablePointer<UInt64>
    private let sentValue: UnsafeMutablePointer<Double>
    private let sentAt: UnsafeMutablePointer<Int64>
    private var sentStrings: [String]
    /// Aliases with state: every alias when some point has a rule, none otherwise. The state is 83 B an alias, 8 MB
    /// at 100,000 points, which a gateway that reports every poll should not pay.
    private let count: Int
    /// Whether any point has a rule.
    public let isActive: Bool

    static let neverSent: UInt16 = .max

    public init(dictionary: SchemaDictionary, reference: Reference = .lastSent) {
        self.reference = reference
        let points = dictionary.points
        isActive = points.contains { $0.reportsByException }
        count = isActive ? points.count : 0
        let capacity = max(1, count)
        deadbands = .allocate(capacity: capacity)
        dueAfter = .allocate(capacity: capacity)
        scales = .allocate(capacity: capacity)
        offsets = .allocate(capacity: capacity)
        numeric = .allocate(capacity: capacity)
        sentQuality = .allocate(capacity: capacity)
        sentBits = .allocate(capacity: capacity)
        sentValue = .allocate(capacity: capacity)
        sentAt = .allocate(capacity: capacity)
        sentStrings = Array(repeating: "", count: count)
        deadbands.initialize(repeating: .nan, count: capacity)
        for (alias, point) in points.prefix(count).enumerated() {
            let rule = point.reportsByException
            deadbands[alias] = rule ? point.deadband ?? 0 : .nan
            dueAfter[alias] = Self.dueAfter(
                heartbeat: point.heartbeatMilliseconds, interval: point.intervalMilliseconds)
            scales[alias] = point.scale
            offsets[alias] = point.offset
            numeric[alias] = point.type != .bool && point.type != .string
        }
        sentQuality.initialize(repeating: Self.neverSent, count: capacity)
        sentBits.initialize(repeating: 0, count: capacity)
        sentValue.initialize(repeating: 0, count: capacity)
        sentAt.initialize(repeating: 0, count: capacity)
    }

    deinit {
        for pointer in [deadbands, scales, offsets, sentValue] { pointer.deallocate() }
        dueAfter.deallocate(); sentAt.deallocate(); sentBits.deallocate()
        numeric.deallocate(); sentQuality.deallocate()
    }

    /// The age of the last send at which the next one is due: the heartbeat less 1¼ poll intervals, so that the
    /// poll after this one would already be too late. A heartbeat shorter than that sends every poll.
    static func dueAfter(heartbeat: UInt64?, interval: UInt64?) -> Int64 {
        guard let heartbeat, heartbeat > 0 else { return .max }
        let margin = Int64(clamping: (interval ?? 0) * 5 / 4)
        return Int64(clamping: heartbeat) - margin
    }

    /// Whether `alias` has a rule (its readings may be held back).
    public func reportsByException(alias: Int) -> Bool { alias < count && !deadbands[alias].isNaN }

    /// Whether this reading of `alias` is sent. `exponent` is its SunSpec scale factor (0 without one);
    /// `now` monotonic milliseconds, the poll's.
    @inline(__always)
    public func decide(alias: Int, value: WireValue, exponent: Int, atMilliseconds now: Int64) -> Bool {
        let deadband = deadbands[alias]
        if deadband.isNaN { return true }
        let quality = Self.quality(value)
        let last = sentQuality[alias]
        if last == Self.neverSent || quality != last { return true }
        if now &- sentAt[alias] > dueAfter[alias] { return true }
        guard quality == 0 else { return false }  // the same missing quality, already sent
        if case .string(let text) = value { return text != sentStrings[alias] }
        let bits = Self.bits(value)
        guard deadband > 0, numeric[alias] else { return bits != sentBits[alias] }
        let engineering = engineeringValue(alias: alias, value: value, exponent: exponent)
        let previous = sentValue[alias]
        if engineering.isNaN || previous.isNaN { return engineering.isNaN != previous.isNaN }
        return abs(engineering - previous) > deadband
    }

    /// Records that this reading of `alias` was sent (encoded into a batch).
    @inline(__always)
    public func commit(alias: Int, value: WireValue, exponent: Int, atMilliseconds now: Int64) {
        guard !deadbands[alias].isNaN else { return }
        let quality = Self.quality(value)
        sentQuality[alias] = quality
        sentAt[alias] = now
        guard quality == 0 else { return }
        if case .string(let text) = value {
            sentStrings[alias] = text
            return
        }
        sentBits[alias] = Self.bits(value)
        if numeric[alias] { sentValue[alias] = engineeringValue(alias: alias, value: value, exponent: exponent) }
    }

    /// With ``Reference/lastPolled`` only: records a reading that was not sent as the comparison's reference.
    public func commitPolled(alias: Int, value: WireValue, exponent: Int) {
        guard reference == .lastPolled, alias < count, !deadbands[alias].isNaN, Self.quality(value) == 0 else { return }
        if case .string(let text) = value { sentStrings[alias] = text; return }
        sentBits[alias] = Self.bits(value)
        if numeric[alias] { sentValue[alias] = engineeringValue(alias: alias, value: value, exponent: exponent) }
    }

    /// Forgets what was sent for `aliases`, so their next readings are all sent: a snapshot.
    public func forget(_ aliases: Range<Int>) {
        for alias in aliases where alias < count { sentQuality[alias] = Self.neverSent }
    }

    /// Whether `alias` has been sent since it was last forgotten.
    public func hasSent(alias: Int) -> Bool { alias < count && sentQuality[alias] != Self.neverSent }

    private func engineeringValue(alias: Int, value: WireValue, exponent: Int) -> Double {
        guard let raw = value.rawNumber else { return .nan }
        return EngineeringValue.of(raw, scale: scales[alias], offset: offsets[alias], exponent: Int64(exponent))
    }

    /// 0 good, else the wire code with an exception's detail above it: a different exception code is a change.
    @inline(__always)
    static func quality(_ value: WireValue) -> UInt16 {
        guard case .missing(let quality) = value else { return 0 }
        if case .exception(let code) = quality { return UInt16(quality.code) | UInt16(code) << 8 }
        return UInt16(quality.code)
    }

    @inline(__always)
    static func bits(_ value: WireValue) -> UInt64 {
        switch value {
        case .bool(let b): b ? 1 : 0
        case .int(let v): UInt64(bitPattern: v)
        case .uint(let v): v
        case .float32(let bits): UInt64(bits)
        case .float64(let bits): bits
        case .string, .missing: 0
        }
    }
}
