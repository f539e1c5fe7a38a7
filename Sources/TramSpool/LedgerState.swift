/// The spool's durable state, rebuilt by replaying the ledger's entries in order.
struct LedgerState {
    var epoch: UInt64?
    var nextSequence: UInt64 = 0
    /// True only when the last entry is a clean close.
    var closedCleanly = false
    var sealed: [UInt64: SegmentSummary] = [:]
    var retiredIDs: Set<UInt64> = []
    var acknowledged: [String: [UInt64: SequenceRanges]] = [:]
    var lost: [DropCause: [UInt64: SequenceRanges]] = [:]
    var retiredDelivered = Tally()
    var retiredDropped: [DropCause: Tally] = [:]

    mutating func apply(_ entry: LedgerEntry) {
        closedCleanly = false
        switch entry {
        case .opened(let epoch, let next):
            self.epoch = epoch
            nextSequence = next
        case .closed(let epoch, let next):
            self.epoch = epoch
            nextSequence = next
            closedCleanly = true
        case .sealed(let summary):
            sealed[summary.id] = summary
        case .acknowledged(let sink, let epoch, let range):
            acknowledged[sink, default: [:]][epoch, default: SequenceRanges()].insert(range)
        case .lost(let cause, let epoch, let range):
            lost[cause, default: [:]][epoch, default: SequenceRanges()].insert(range)
        case .retired(let id, let delivered, let dropped):
            retiredIDs.insert(id)
            sealed[id] = nil
            retiredDelivered += delivered
            for (cause, tally) in dropped { retiredDropped[cause, default: Tally()] += tally }
        case .dropped(let cause, let tally):
            retiredDropped[cause, default: Tally()] += tally
        }
    }
}
