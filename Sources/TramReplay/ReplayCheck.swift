import TramCore
import TramSchema

extension ExceptionReplay {
    /// What a consumer holds for a point: a value or a quality, since which poll, from which batch.
    struct Held {
        var value: WireValue
        var sequence: UInt64
    }

    /// Rebuilds the consumer's view poll by poll from the delivered batches alone (their groups, in order, and the
    /// losses they name) and compares it with what was polled.
    static func check(
        _ trace: ReplayTrace, delivered: [(sequence: UInt64, polls: [Int], batch: DecodedBatch)], pollBatch: [UInt64],
        sentTimes: [[(time: Int64, ordinal: Int)]], expectSnapshot: Set<Int>, into report: inout Report
    ) {
        let points = trace.dictionary.points
        let firstAlias = SchemaMappingIndex(points)
        // What each delivered poll sent, by poll index; and every loss, as the consumer learns it.
        var groupOfPoll: [Int: DecodedGroup] = [:]
        var losses: [Range<UInt64>] = []
        for entry in delivered {
            for (group, poll) in zip(entry.batch.groups, entry.polls) { groupOfPoll[poll] = group }
            losses += entry.batch.droppedSequences
        }
        /// A hold from batch `from` is cut at batch `to` by a loss of a batch after `from`, up to `to` itself.
        func lossBetween(_ from: UInt64, _ to: UInt64) -> Bool {
            losses.contains { $0.lowerBound > from && $0.lowerBound <= to }
        }
        var held = [Held?](repeating: nil, count: points.count)
        var previousPolled = [WireValue?](repeating: nil, count: points.count)
        let deliveredBatches = Set(delivered.map(\.sequence))
        // A loss is named by a later batch; after the last delivered one nothing names it, and a consumer cannot
        // tell a lost batch from a late one (its holds then end at the heartbeat): those polls are not judged.
        let lastDelivered = delivered.map(\.sequence).max() ?? 0
        for (index, poll) in trace.polls.enumerated() {
            let first = firstAlias[poll.device] ?? 0
            let batch = pollBatch[index]
            if let group = groupOfPoll[index] {
                for offset in group.values.indices {
                    held[group.alias(at: offset)] = Held(value: group.values[offset], sequence: batch)
                }
            }
            // The device's first cycle after a loss sends every point, flagged a snapshot.
            if expectSnapshot.contains(index), deliveredBatches.contains(batch) {
                let group = groupOfPoll[index]
                if !(group?.snapshot == true && group?.values.count == poll.values.count) {
                    record(&report, index, poll.device, "the first cycle after a loss is not a snapshot")
                }
            }
            if batch > lastDelivered {
                report.unjudgedAtEnd += 1
                continue
            }
            for (offset, polled) in poll.values.enumerated() {
                let alias = first + offset
                let point = points[alias]
                defer { previousPolled[alias] = polled }
                let changed = previousPolled[alias].map { quality($0) != quality(polled) } ?? false
                if changed { report.qualityChanges += 1 }
                guard let consumer = held[alias], !lossBetween(consumer.sequence, batch) else {
                    if held[alias] != nil { report.heldNothingAfterLoss += 1 }
                    continue
                }
                if changed, quality(consumer.value) == quality(polled) { report.qualityChangesSeen += 1 }
                guard quality(consumer.value) == quality(polled) else {
                    record(
                        &report, index, point.name,
                        "holds quality \(quality(consumer.value)), polled \(quality(polled))")
                    continue
                }
                guard quality(polled) == 0 else { continue }
                compare(consumer.value, polled, point: point, poll: index, into: &report)
            }
        }
        // Between two sends, no gap beyond the heartbeat, unless the polls themselves were further apart (a heartbeat
        // shorter than the poll interval, which the config refuses, or a late poll).
        for (alias, sends) in sentTimes.enumerated() {
            guard let heartbeat = points[alias].heartbeatMilliseconds else { continue }
            for (a, b) in zip(sends, sends.dropFirst()) {
                let gap = b.time - a.time
                report.longestGapMilliseconds = max(report.longestGapMilliseconds, gap)
                if gap > Int64(heartbeat), b.ordinal > a.ordinal + 1 {
                    record(&report, -1, points[alias].name, "sends \(gap) ms apart, heartbeat \(heartbeat) ms")
                }
            }
        }
    }

    static func compare(
        _ held: WireValue, _ polled: WireValue, point: PointDescriptor, poll: Int, into report: inout Report
    ) {
        let deadband = point.deadband ?? 0
        guard case .some(let h) = engineering(held, point), case .some(let p) = engineering(polled, point) else {
            if held != polled { record(&report, poll, point.name, "holds \(held), polled \(polled)") }
            return
        }
        if h.isNaN || p.isNaN {
            if h.isNaN != p.isNaN { record(&report, poll, point.name, "holds \(h), polled \(p)") }
            return
        }
        let error = abs(h - p)
        report.maximumError = max(report.maximumError, error)
        if deadband > 0 { report.maximumErrorOverDeadband = max(report.maximumErrorOverDeadband, error / deadband) }
        if deadband == 0 ? held != polled : error > deadband {
            record(&report, poll, point.name, "holds \(h), polled \(p): off by \(error), deadband \(deadband)")
        }
    }

    static func engineering(_ value: WireValue, _ point: PointDescriptor) -> Double? {
        value.rawNumber.map { EngineeringValue.of($0, scale: point.scale, offset: point.offset) }
    }

    static func quality(_ value: WireValue) -> Int {
        guard case .missing(let quality) = value else { return 0 }
        if case .exception(let code) = quality { return 256 + Int(code) }
        return Int(quality.code)
    }

    static func record(_ report: inout Report, _ poll: Int, _ point: String, _ what: String) {
        report.violationCount += 1
        if report.violations.count < 20 { report.violations.append(Violation(poll: poll, point: point, what: what)) }
    }
}

/// Each device's first alias, from a dictionary whose devices' points are contiguous.
struct SchemaMappingIndex {
    private var first: [String: Int] = [:]
    init(_ points: [PointDescriptor]) {
        for (alias, point) in points.enumerated() where first[point.device] == nil {
            first[point.device] = alias
        }
    }
    subscript(device: String) -> Int? { first[device] }
}
