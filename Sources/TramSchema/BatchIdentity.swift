/// Which batch this is: unique per gateway for the life of its spool. Batch frames carry it (epoch, sequence), the
/// spool keys its records and acknowledgements by it, and the collector dedupes by it.
public struct BatchIdentity: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var epoch: UInt64
    public var sequence: UInt64

    public init(epoch: UInt64, sequence: UInt64) {
        self.epoch = epoch
        self.sequence = sequence
    }

    public static func < (a: Self, b: Self) -> Bool { (a.epoch, a.sequence) < (b.epoch, b.sequence) }
    public var description: String { "\(epoch)/\(sequence)" }
}
