/// A point's newest reading (by reading time) as `point_latest` holds it, with what the next reading needs.
struct PointLatest: Equatable {
    var time: Int64
    var value: Double?
    var rawInt: Int64?
    var rawText: String?
    var type: UInt8
    var quality: UInt8
    var exception: UInt8?
    var clock: UInt8
    /// The time of the first reading of the current run of `quality`.
    var qualitySince: Int64
    /// The newest rollup value along the chain (kept across readings without one).
    var increaseBase: Double?
}

/// What one ingest request adds to the rollups, `point_latest` and the gateway's clock state, built in memory while its
/// readings are inserted and written once at the end of the transaction (one upsert per bucket and per point), so
/// the cost is per bucket, not per reading. The rules are ``RollupRules``'.
///
/// The hot path is a few comparisons a reading: each point the request touches has a slot (found once per alias and
/// batch, through ``slot(for:previous:)``) holding its newest reading and its open minute and hour buckets, the ones
/// its last reading went to (minute, hour and day). A reading or a hold in another bucket closes the open one into `closed` and opens that
/// one (taking it back out of `closed` if it was there), so a key is never both open and closed.
struct IngestAggregate {
    struct Slot {
        var point: Int64
        /// The point's newest reading (nil: it has none yet), and whether this request moved it.
        var latest: PointLatest?
        var moved = false
        var minute = Open()
        var hour = Open()
        var day = Open()
        /// A state point (the modem's `technology`): its holds are also kept per value (`state_time`).
        var tracksState = false
    }

    struct Open {
        var start = Int64.min
        var isOpen = false
        var bucket = RollupBucket()
    }

    private(set) var slots: [Slot] = []
    private var slotOfPoint: [Int64: Int] = [:]
    private var closed: [RollupKey: RollupBucket] = [:]
    /// Every group's time and synchronised bit, for the gateway's clock state.
    private(set) var clocks: [(time: Int64, synchronised: Bool)] = []
    /// The modem's signal readings per (point, width, bucket, operator, 1 dB bin) (`signal_bins`).
    private(set) var signals: [SignalKey: Int64] = [:]
    /// State points' held time per (point, width, bucket, value) (`state_time`).
    private(set) var states: [StateKey: Int64] = [:]
    /// The gateway's loss windows, by start: a hold never crosses one (``HoldRule``). Loaded at the request's first
    /// batch and again after a batch that reported a loss.
    var losses: [LossWindow] = []
    var lossesLoaded = false
    /// Each modem's operator as the request has it so far, by its `operator_code` point (loaded once from
    /// `point_latest`, then moved by each good reading of the point).
    var operators: [Int64: Int64] = [:]

    struct SignalKey: Hashable, Comparable {
        var point: Int64
        var width: Int64
        var bucket: Int64
        var operatorCode: Int64
        var bin: Int64

        static func < (a: SignalKey, b: SignalKey) -> Bool {
            (a.point, a.width, a.bucket, a.operatorCode, a.bin) < (b.point, b.width, b.bucket, b.operatorCode, b.bin)
        }
    }

    struct StateKey: Hashable, Comparable {
        var point: Int64
        var width: Int64
        var bucket: Int64
        var value: Int64

        static func < (a: StateKey, b: StateKey) -> Bool {
            (a.point, a.width, a.bucket, a.value) < (b.point, b.width, b.bucket, b.value)
        }
    }

    /// The slot of `point`, loading its `point_latest` row through `previous` the first time the request meets it.
    mutating func slot(for point: Int64, tracksState: Bool = false, previous: (Int64) throws -> PointLatest?) rethrows
        -> Int
    {
        if let slot = slotOfPoint[point] { return slot }
        slots.append(Slot(point: point, latest: try previous(point), tracksState: tracksState))
        slotOfPoint[point] = slots.count - 1
        return slots.count - 1
    }

    /// Adds one stored reading of the point in `slot`.
    @inline(__always)
    mutating func add(
        slot index: Int, time: Int64, engineering: Double?, rawInt: Int64?, rawText: String?, type: UInt8,
        quality: UInt8, exception: UInt8?, clock: UInt8, holdLimit: Int64
    ) {
        let value = RollupRules.value(engineering: engineering, rawInt: rawInt, type: type)
        let good = quality == 0
        var increase = 0.0
        var next = PointLatest(
            time: time, value: engineering, rawInt: rawInt, rawText: rawText, type: type, quality: quality,
            exception: exception, clock: clock, qualitySince: time, increaseBase: value)
        var inOrder = true
        if let latest = slots[index].latest {
            if time < latest.time {
                // Out of order: counted below, but it neither ends a hold nor moves the point's newest reading.
                inOrder = false
            } else {
                if latest.quality == 0 {
                    let end = HoldRule.end(from: latest.time, next: time, limit: holdLimit, losses: losses)
                    hold(index, from: latest.time, to: end)
                    if slots[index].tracksState, let state = latest.value.flatMap(Self.stateValue) {
                        holdState(point: slots[index].point, value: state, from: latest.time, to: end)
                    }
                }
                if latest.quality == quality { next.qualitySince = latest.qualitySince }
                if let base = latest.increaseBase {
                    if let value {
                        increase = RollupRules.increase(from: base, to: value)
                    } else {
                        next.increaseBase = base
                    }
                }
            }
        }
        open(index, width: RollupRules.minuteMilliseconds, at: time) {
            $0.add(time: time, good: good, value: value)
            $0.increase += increase
        }
        open(index, width: RollupRules.hourMilliseconds, at: time) {
            $0.add(time: time, good: good, value: value)
            $0.increase += increase
        }
        open(index, width: RollupRules.dayMilliseconds, at: time) {
            $0.add(time: time, good: good, value: value)
            $0.increase += increase
        }
        if inOrder {
            slots[index].latest = next
            slots[index].moved = true
        }
    }

    /// Counts one good signal reading of a binned point in its hour and UTC day.
    mutating func addSignal(point: Int64, time: Int64, operatorCode: Int64, bin: Int64) {
        for width in SignalBins.widths {
            signals[
                SignalKey(
                    point: point, width: width, bucket: RollupRules.bucket(time, width: width),
                    operatorCode: operatorCode, bin: bin),
                default: 0] += 1
        }
    }

    /// A state's value as stored (`state_time.value`): a whole finite number, else none.
    static func stateValue(_ value: Double) -> Int64? { StoredValue.wholeNumber(value) }

    private mutating func holdState(point: Int64, value: Int64, from start: Int64, to end: Int64) {
        guard end > start else { return }
        for width in SignalBins.widths {
            RollupRules.split(from: start, to: end, width: width) { bucket, milliseconds in
                states[StateKey(point: point, width: width, bucket: bucket, value: value), default: 0] += milliseconds
            }
        }
    }

    /// Notes a group's clock flags (bit 0: synchronised).
    mutating func addGroup(time: Int64, clock: UInt8) {
        clocks.append((time, clock & 1 != 0))
    }

    /// The gateway's clock state after this request: the newest group's synchronised bit, and the time of the
    /// oldest group of the run of that value that ends at the newest (nil when the request had no group).
    var clock: (synchronised: Bool, since: Int64)? {
        guard !clocks.isEmpty else { return nil }
        // Stable by time: of two groups at the same time, the later one counts as the newer.
        let ordered = clocks.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
        let newest = ordered.last!.element.synchronised
        var since = ordered.last!.element.time
        for entry in ordered.reversed() {
            guard entry.element.synchronised == newest else { break }
            since = entry.element.time
        }
        return (newest, since)
    }

    /// Every bucket the request touched, the open ones closed.
    mutating func buckets() -> [RollupKey: RollupBucket] {
        for index in slots.indices {
            for width in RollupRules.widths { close(index, width: width) }
        }
        return closed
    }

    private mutating func hold(_ index: Int, from start: Int64, to end: Int64) {
        guard end > start else { return }
        for width in RollupRules.widths {
            RollupRules.split(from: start, to: end, width: width) { bucket, milliseconds in
                open(index, width: width, at: bucket) { $0.goodMilliseconds += milliseconds }
            }
        }
    }

    /// Runs `body` on the slot's open bucket of `width` holding `time`, opening it first if another is open.
    @inline(__always)
    private mutating func open(_ index: Int, width: Int64, at time: Int64, _ body: (inout RollupBucket) -> Void) {
        let start = RollupRules.bucket(time, width: width)
        let field = Self.field(width)
        if !slots[index][keyPath: field].isOpen || slots[index][keyPath: field].start != start {
            slots[index][keyPath: field] = reopen(index, width: width, start: start)
        }
        body(&slots[index][keyPath: field].bucket)
    }

    /// The slot's open bucket of `width`.
    @inline(__always)
    private static func field(_ width: Int64) -> WritableKeyPath<Slot, Open> {
        switch width {
        case RollupRules.minuteMilliseconds: \.minute
        case RollupRules.hourMilliseconds: \.hour
        default: \.day
        }
    }

    /// Closes the slot's open bucket of `width` and returns the one starting at `start` (out of `closed`, or new).
    private mutating func reopen(_ index: Int, width: Int64, start: Int64) -> Open {
        close(index, width: width)
        let key = RollupKey(point: slots[index].point, width: width, bucket: start)
        return Open(start: start, isOpen: true, bucket: closed.removeValue(forKey: key) ?? RollupBucket())
    }

    private mutating func close(_ index: Int, width: Int64) {
        let field = Self.field(width)
        guard slots[index][keyPath: field].isOpen else { return }
        closed[RollupKey(point: slots[index].point, width: width, bucket: slots[index][keyPath: field].start)] =
            slots[index][keyPath: field].bucket
        slots[index][keyPath: field].isOpen = false
    }
}
