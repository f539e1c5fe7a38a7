import TramSchema

/// One event in the spool's ledger: the durable record of everything that is not
/// batch data (epochs, sealed segments, acknowledgements, losses and deletions).
///
/// The ledger uses the segment file format (header, then CRC-framed records), so a
/// torn tail or a flipped bit there is handled exactly as in a segment.
enum LedgerEntry: Sendable, Equatable {
    /// A run of the spool began with this epoch and next sequence number.
    case opened(epoch: UInt64, nextSequence: UInt64)
    /// The spool was closed cleanly; the next run may continue the epoch.
    case closed(epoch: UInt64, nextSequence: UInt64)
    /// A segment will receive no more records; its summary spares a scan at start-up.
    case sealed(SegmentSummary)
    case acknowledged(sink: String, epoch: UInt64, sequences: ClosedRange<UInt64>)
    /// Batches still in a live segment that can no longer be delivered.
    case lost(cause: DropCause, epoch: UInt64, sequences: ClosedRange<UInt64>)
    /// A segment was deleted; its readings move into the running totals.
    case retired(segmentID: UInt64, delivered: Tally, dropped: [DropCause: Tally])
    /// Readings given up before they reached a segment (refused by drop-newest, or lost from the RAM ring).
    case dropped(cause: DropCause, Tally)

    func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        switch self {
        case .opened(let epoch, let next):
            bytes.append(1); bytes.appendVarint(epoch); bytes.appendVarint(next)
        case .closed(let epoch, let next):
            bytes.append(2); bytes.appendVarint(epoch); bytes.appendVarint(next)
        case .sealed(let s):
            bytes.append(3)
            for value in [
                s.id, UInt64(s.size), UInt64(max(0, s.createdMilliseconds)), UInt64(max(0, s.newestMilliseconds)),
                s.epoch, s.firstSequence, UInt64(s.readings.count),
            ] { bytes.appendVarint(value) }
            for r in s.readings { bytes.appendVarint(UInt64(r)) }
            bytes.appendVarint(UInt64(s.dictionaries.count))
            for d in s.dictionaries { bytes.appendVarint(d.schemaID); bytes.appendVarint(UInt64(d.offset)) }
            bytes.appendVarint(UInt64(s.schemasUsed.count))
            for schema in s.schemasUsed { bytes.appendVarint(schema) }
        case .acknowledged(let sink, let epoch, let range):
            bytes.append(4); bytes.appendString(sink); bytes.appendVarint(epoch)
            bytes.appendVarint(range.lowerBound); bytes.appendVarint(range.upperBound)
        case .lost(let cause, let epoch, let range):
            bytes.append(5); bytes.append(cause.rawValue); bytes.appendVarint(epoch)
            bytes.appendVarint(range.lowerBound); bytes.appendVarint(range.upperBound)
        case .retired(let id, let delivered, let dropped):
            bytes.append(6); bytes.appendVarint(id)
            bytes.appendVarint(UInt64(delivered.readings)); bytes.appendVarint(UInt64(delivered.batches))
            let causes = dropped.keys.sorted { $0.rawValue < $1.rawValue }
            bytes.appendVarint(UInt64(causes.count))
            for cause in causes {
                bytes.append(cause.rawValue)
                bytes.appendVarint(UInt64(dropped[cause]!.readings));
                bytes.appendVarint(UInt64(dropped[cause]!.batches))
            }
        case .dropped(let cause, let tally):
            bytes.append(7); bytes.append(cause.rawValue)
            bytes.appendVarint(UInt64(tally.readings)); bytes.appendVarint(UInt64(tally.batches))
        }
        return bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) -> LedgerEntry? {
        var r = WireReader(bytes)
        func count() throws(WireError) -> Int {
            let value = try r.uvarint()
            guard value <= UInt64(r.remaining) else { throw .invalid("count") }
            return Int(value)
        }
        func int() throws(WireError) -> Int {
            let value = try r.uvarint()
            guard value <= UInt64(Int.max) else { throw .invalid("count") }
            return Int(value)
        }
        func range() throws(WireError) -> ClosedRange<UInt64>? {
            let low = try r.uvarint(), high = try r.uvarint()
            return low <= high ? low...high : nil
        }
        func cause() throws(WireError) -> DropCause? { DropCause(rawValue: try r.byte()) }
        do {
            switch try r.byte() {
            case 1: return .opened(epoch: try r.uvarint(), nextSequence: try r.uvarint())
            case 2: return .closed(epoch: try r.uvarint(), nextSequence: try r.uvarint())
            case 3:
                var s = SegmentSummary(
                    id: try r.uvarint(), size: try int(), createdMilliseconds: Int64(try int()),
                    newestMilliseconds: Int64(try int()))
                s.epoch = try r.uvarint()
                s.firstSequence = try r.uvarint()
                let batches = try count()
                s.readings.reserveCapacity(batches)
                for _ in 0..<batches { s.readings.append(UInt32(clamping: try r.uvarint())) }
                for _ in 0..<(try count()) {
                    s.dictionaries.append(.init(schemaID: try r.uvarint(), offset: try int()))
                }
                for _ in 0..<(try count()) { s.schemasUsed.append(try r.uvarint()) }
                return .sealed(s)
            case 4:
                let sink = try r.string()
                let epoch = try r.uvarint()
                guard let range = try range() else { return nil }
                return .acknowledged(sink: sink, epoch: epoch, sequences: range)
            case 5:
                guard let cause = try cause() else { return nil }
                let epoch = try r.uvarint()
                guard let range = try range() else { return nil }
                return .lost(cause: cause, epoch: epoch, sequences: range)
            case 6:
                let id = try r.uvarint()
                let delivered = Tally(readings: try int(), batches: try int())
                var dropped: [DropCause: Tally] = [:]
                for _ in 0..<(try count()) {
                    guard let cause = try cause() else { return nil }
                    dropped[cause] = Tally(readings: try int(), batches: try int())
                }
                return .retired(segmentID: id, delivered: delivered, dropped: dropped)
            case 7:
                guard let cause = try cause() else { return nil }
                return .dropped(cause: cause, Tally(readings: try int(), batches: try int()))
            default:
                return nil
            }
        } catch {
            return nil
        }
    }
}
