import TramSchema

/// What the spool keeps in memory about one segment: enough for accounting, bounds,
/// deletion and dictionary lookup without reading the file.
///
/// A segment's batches all belong to one epoch and have consecutive sequence numbers
/// (the spool rolls to a new segment otherwise), so four bytes a batch suffice.
struct SegmentSummary: Sendable, Equatable {
    struct DictionaryRecord: Sendable, Equatable {
        var schemaID: UInt64
        /// Offset of the record (its sync word) in the segment.
        var offset: Int
    }

    var id: UInt64
    /// Bytes of valid data, header included.
    var size: Int
    var createdMilliseconds: Int64
    var newestMilliseconds: Int64
    var epoch: UInt64 = 0
    var firstSequence: UInt64 = 0
    /// Readings in each batch, in sequence order.
    var readings: [UInt32] = []
    var dictionaries: [DictionaryRecord] = []
    /// Schemas the segment's batches refer to.
    var schemasUsed: [UInt64] = []

    var batchCount: Int { readings.count }
    var lastSequence: UInt64 { firstSequence + UInt64(readings.count) - 1 }
    var sequenceRange: ClosedRange<UInt64>? { readings.isEmpty ? nil : firstSequence...lastSequence }

    func readings(of sequence: UInt64) -> Int? {
        guard sequence >= firstSequence, sequence - firstSequence < UInt64(readings.count) else { return nil }
        return Int(readings[Int(sequence - firstSequence)])
    }

    /// Whether a batch with `identity` may be added: same epoch, next sequence.
    func accepts(_ identity: BatchIdentity) -> Bool {
        readings.isEmpty || (identity.epoch == epoch && identity.sequence == lastSequence + 1)
    }

    mutating func add(_ header: RecordHeader, offset: Int, recordSize: Int) {
        switch header.kind {
        case .batch:
            if readings.isEmpty {
                epoch = header.identity.epoch
                firstSequence = header.identity.sequence
            }
            readings.append(UInt32(clamping: header.readings))
            // An index loop: `contains` and `for … in` make an iterator that allocates in debug builds,
            // and appending a batch allocates nothing.
            var known = false
            for index in schemasUsed.indices where schemasUsed[index] == header.schemaID { known = true }
            if !known { schemasUsed.append(header.schemaID) }
        case .dictionary:
            dictionaries.append(DictionaryRecord(schemaID: header.schemaID, offset: offset))
        }
        newestMilliseconds = max(newestMilliseconds, header.createdMilliseconds)
        size = offset + recordSize
    }
}
