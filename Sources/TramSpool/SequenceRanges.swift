/// A set of sequence numbers kept as sorted, disjoint, non-adjacent closed ranges.
///
/// Acks arrive out of order (live-first replay, two sinks), so delivery state is a
/// set of ranges rather than one cursor. In order delivery keeps it at one range.
public struct SequenceRanges: Sendable, Equatable {
    public private(set) var ranges: [ClosedRange<UInt64>] = []

    public init() {}

    public init(_ ranges: [ClosedRange<UInt64>]) {
        for range in ranges { insert(range) }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// How many numbers the set holds.
    public var count: UInt64 { ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound + 1) } }

    /// Index of the first range whose upper bound is >= value.
    private func firstIndex(reaching value: UInt64) -> Int {
        var low = 0, high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    public func contains(_ value: UInt64) -> Bool {
        let index = firstIndex(reaching: value)
        return index < ranges.count && ranges[index].lowerBound <= value
    }

    /// True when every number in `range` is in the set.
    public func covers(_ range: ClosedRange<UInt64>) -> Bool {
        let index = firstIndex(reaching: range.lowerBound)
        return index < ranges.count && ranges[index].lowerBound <= range.lowerBound
            && ranges[index].upperBound >= range.upperBound
    }

    /// Adds `range`, merging with ranges it overlaps or touches.
    public mutating func insert(_ range: ClosedRange<UInt64>) {
        var lower = range.lowerBound, upper = range.upperBound
        let start = firstIndex(reaching: lower == 0 ? 0 : lower - 1)
        var end = start
        // Ranges from `start` on merge while they begin no later than one past `upper`.
        while end < ranges.count, upper == .max || ranges[end].lowerBound <= upper + 1 {
            lower = min(lower, ranges[end].lowerBound)
            upper = max(upper, ranges[end].upperBound)
            end += 1
        }
        ranges.replaceSubrange(start..<end, with: CollectionOfOne(lower...upper))
    }

    public mutating func insert(_ value: UInt64) { insert(value...value) }

    /// Drops every number below `floor` (ranges of retired segments no longer need remembering).
    public mutating func removeAll(below floor: UInt64) {
        while let first = ranges.first, first.upperBound < floor { ranges.removeFirst() }
        if let first = ranges.first, first.lowerBound < floor { ranges[0] = floor...first.upperBound }
    }
}
