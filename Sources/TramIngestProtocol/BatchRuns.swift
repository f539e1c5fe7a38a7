import TramSchema

/// Consecutive batches of one epoch: `epoch/first-last` in the `Tram-Batches` header.
public struct BatchRun: Sendable, Hashable, CustomStringConvertible {
    public var epoch: UInt64
    public var first: UInt64
    public var last: UInt64

    public init(epoch: UInt64, first: UInt64, last: UInt64) {
        self.epoch = epoch
        self.first = first
        self.last = last
    }

    public var description: String { "\(epoch)/\(first)-\(last)" }
}

/// The `Tram-Batches` header's value: the batches of an upload as sorted runs, `7/3-4,7/6-6`.
///
/// Runs rather than a list, so a header for a hundred consecutive batches stays one short token.
public enum BatchRuns {
    /// The runs of `identities`, in order.
    public static func runs(_ identities: [BatchIdentity]) -> [BatchRun] {
        var runs: [BatchRun] = []
        for id in identities.sorted() {
            if let last = runs.last, last.epoch == id.epoch, last.last &+ 1 == id.sequence {
                runs[runs.count - 1].last = id.sequence
                continue
            }
            runs.append(BatchRun(epoch: id.epoch, first: id.sequence, last: id.sequence))
        }
        return runs
    }

    /// The header's text for `identities`.
    public static func encode(_ identities: [BatchIdentity]) -> String {
        runs(identities).map(\.description).joined(separator: ",")
    }

    /// The runs a header names; nil when it is not `epoch/first-last[,…]` with first ≤ last.
    /// Runs, not identities: a hostile `0/0-18446744073709551615` must not become a list.
    public static func decode(_ text: String) -> [BatchRun]? {
        guard !text.isEmpty else { return [] }
        var runs: [BatchRun] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let halves = part.split(separator: "/", omittingEmptySubsequences: false)
            guard halves.count == 2, let epoch = UInt64(halves[0]) else { return nil }
            let bounds = halves[1].split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 2, let first = UInt64(bounds[0]), let last = UInt64(bounds[1]), first <= last else {
                return nil
            }
            runs.append(BatchRun(epoch: epoch, first: first, last: last))
        }
        return runs
    }
}
