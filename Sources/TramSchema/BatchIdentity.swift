/// Which batch a frame carries: its gateway's spool epoch and the batch's sequence within it.
///
/// Unique per gateway for the life of its spool. Defined here, beside the wire format, because every end speaks of
/// it: the spool files batches under it, the uplink names them in `Tram-Batches`, and the collector dedupes and
/// answers by it.
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
