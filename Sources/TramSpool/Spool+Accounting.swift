import TramSchema

/// What `tramctl spool` and the agent's metrics show.
public struct SpoolStatus: Sendable {
    public var counters: SpoolCounters
    public var epoch: UInt64
    public var nextSequence: UInt64
    public var segments: Int
    public var diskBytes: Int
    public var maximumBytes: Int
    /// Wall-clock ms of the oldest batch still held, if any.
    public var oldestBufferedMilliseconds: Int64?
    /// Batches waiting in RAM because the disk is full.
    public var heldInMemory: Int
    public var keptFiles: [String]
    public var startedUnclean: Bool
}

extension Spool {
    /// The books, derived from the segment summaries, acknowledged ranges and the ledger's totals.
    public var counters: SpoolCounters {
        var counters = SpoolCounters()
        counters.delivered = retiredDelivered
        counters.dropped = retiredDropped
        for segment in segments {
            guard let range = segment.sequenceRange else { continue }
            let allAcknowledged = options.sinks.allSatisfy { acknowledged[$0]?[segment.epoch]?.covers(range) == true }
            let anyLost = lost.values.contains { $0[segment.epoch].map { !$0.isEmpty } ?? false }
            for (index, readings) in segment.readings.enumerated() {
                let sequence = segment.firstSequence + UInt64(index)
                let tally = Tally(readings: Int(readings), batches: 1)
                // Delivered first: damage found after every sink acknowledged a batch loses nothing.
                if allAcknowledged
                    || options.sinks.allSatisfy({ acknowledged[$0]?[segment.epoch]?.contains(sequence) == true })
                {
                    counters.delivered += tally
                } else if anyLost, let cause = lostCause(BatchIdentity(epoch: segment.epoch, sequence: sequence)) {
                    counters.dropped[cause, default: Tally()] += tally
                } else {
                    counters.buffered += tally
                }
            }
        }
        for entry in ring.pending where entry.header.kind == .batch {
            counters.buffered += Tally(readings: entry.header.readings, batches: 1)
        }
        counters.appended = counters.delivered + counters.buffered + counters.droppedTotal
        return counters
    }

    public var status: SpoolStatus {
        let oldest = segments.first { segment in
            guard let range = segment.sequenceRange else { return false }
            return !options.sinks.allSatisfy { acknowledged[$0]?[segment.epoch]?.covers(range) == true }
        }
        return SpoolStatus(
            counters: counters, epoch: epoch, nextSequence: nextSequence, segments: segments.count,
            diskBytes: diskBytes, maximumBytes: options.maximumBytes,
            oldestBufferedMilliseconds: oldest.map(\.createdMilliseconds) ?? ring.first?.header.createdMilliseconds,
            heldInMemory: ring.pending.count, keptFiles: keptFiles, startedUnclean: startedUnclean)
    }
}
