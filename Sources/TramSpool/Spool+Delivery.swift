import SystemPackage
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// A batch handed to a sink for delivery.
public struct SpoolBatch: Sendable, Equatable {
    public var identity: BatchIdentity
    public var readings: Int
    public var schemaID: UInt64
    public var createdMilliseconds: Int64
    /// The sealed frame exactly as appended (compressed if it was sealed compressed).
    public var frame: [UInt8]
}

extension Spool {
    /// The next batches `sink` has not acknowledged and does not have in flight, up to `limit`
    /// batches and about `maximumBytes` (always at least one). Released batches come first;
    /// then live and backlog batches in the configured replay order.
    public func nextBatches(for sink: String, limit: Int = 64, maximumBytes: Int = 1 << 20) -> [SpoolBatch] {
        guard var state = sinks[sink] else { return [] }
        defer { sinks[sink] = state }
        var batches: [SpoolBatch] = []
        var bytes = 0
        func take(_ batch: SpoolBatch, at position: Position) {
            state.inFlight[batch.identity] = position
            batches.append(batch)
            bytes += batch.frame.count
        }
        while batches.count < limit, bytes < maximumBytes, !state.retry.isEmpty {
            let position = state.retry.removeFirst()
            if let (batch, _) = readEligible(at: position, sink: sink, state: state, limit: nil) {
                take(batch, at: position)
            }
        }
        var liveDone = false, backlogDone = false
        while batches.count < limit, bytes < maximumBytes, !(liveDone && backlogDone) {
            let useLive: Bool
            switch options.replay {
            case .liveFirst: useLive = !liveDone
            case .interleaved: useLive = backlogDone || (!liveDone && state.liveTurn)
            }
            state.liveTurn.toggle()
            if useLive {
                guard let (batch, position) = nextEligible(from: &state.live, sink: sink, state: state, limit: nil)
                else { liveDone = true; continue }
                take(batch, at: position)
            } else {
                guard
                    let (batch, position) = nextEligible(
                        from: &state.backlog, sink: sink, state: state, limit: state.liveStart)
                else {
                    backlogDone = true; continue
                }
                take(batch, at: position)
            }
        }
        return batches
    }

    /// Records that `sink` holds these batches: durable at the next sync, and at once
    /// against a process crash (the ledger entry is written immediately).
    public func acknowledge(sink: String, _ identities: [BatchIdentity]) {
        guard options.sinks.contains(sink) else { return }
        for identity in identities { sinks[sink]?.inFlight[identity] = nil }
        for (epoch, range) in Self.runs(of: identities) {
            acknowledged[sink, default: [:]][epoch, default: SequenceRanges()].insert(range)
            ledger.append(.acknowledged(sink: sink, epoch: epoch, sequences: range))
        }
    }

    /// Gives up a batch a receiver refused as malformed (after the caller wrote it to a dead-letter file):
    /// counted `rejected`, never offered again to any sink, in this run or the next.
    public func setAside(sink: String, _ identity: BatchIdentity) {
        sinks[sink]?.inFlight[identity] = nil
        markLost(identity, cause: .rejected)
    }

    /// Returns batches whose upload failed, to be offered again before anything else.
    public func release(sink: String, _ identities: [BatchIdentity]) {
        guard var state = sinks[sink] else { return }
        for identity in identities {
            if let position = state.inFlight.removeValue(forKey: identity) { state.retry.append(position) }
        }
        state.retry.sort()
        sinks[sink] = state
    }

    /// The newest stored dictionary frame for a schema, for a sink that asks for it.
    public func dictionary(schemaID: UInt64) -> [UInt8]? {
        for segment in segments.reversed() {
            if let record = segment.dictionaries.last(where: { $0.schemaID == schemaID }) {
                return readDictionary(at: record.offset, segmentID: segment.id)
            }
        }
        return ring.pending.last { $0.header.kind == .dictionary && $0.header.schemaID == schemaID }?.frame
    }

    func readDictionary(at offset: Int, segmentID: UInt64) -> [UInt8]? {
        guard case .record(let header, let frame, _)? = readRecord(segmentID: segmentID, offset: offset),
            header.kind == .dictionary
        else { return nil }
        return frame
    }

    static func runs(of identities: [BatchIdentity]) -> [(UInt64, ClosedRange<UInt64>)] {
        var runs: [(UInt64, ClosedRange<UInt64>)] = []
        for identity in identities.sorted() {
            if let last = runs.last, last.0 == identity.epoch, last.1.upperBound &+ 1 == identity.sequence {
                runs[runs.count - 1].1 = last.1.lowerBound...identity.sequence
            } else if let last = runs.last, last.0 == identity.epoch, last.1.contains(identity.sequence) {
                continue
            } else {
                runs.append((identity.epoch, identity.sequence...identity.sequence))
            }
        }
        return runs
    }

    private func isEligible(_ header: RecordHeader, sink: String, state: SinkState) -> Bool {
        header.kind == .batch
            && acknowledged[sink]?[header.identity.epoch]?.contains(header.identity.sequence) != true
            && state.inFlight[header.identity] == nil
            && lostCause(header.identity) == nil
    }

    private func readEligible(at position: Position, sink: String, state: SinkState, limit: Position?) -> (
        SpoolBatch, Position
    )? {
        switch readRecord(segmentID: position.segmentID, offset: position.offset) {
        case .record(let header, let frame, _)?:
            guard isEligible(header, sink: sink, state: state) else { return nil }
            return (
                SpoolBatch(
                    identity: header.identity, readings: header.readings, schemaID: header.schemaID,
                    createdMilliseconds: header.createdMilliseconds, frame: frame), position
            )
        case .damaged?:
            // Damaged since it was first read: count it, never leave it silently buffered.
            if let index = index(ofSegment: position.segmentID) {
                let segment = segments[index]
                let end = active != nil && index == segments.count - 1 ? active!.writer.size : segment.size
                _ = skipDamage(in: segment, from: position.offset, end: end)
            }
            return nil
        case nil:
            return nil
        }
    }

    /// Walks `cursor` forward to the next eligible batch (stopping at `limit`).
    private func nextEligible(from cursor: inout Position, sink: String, state: SinkState, limit: Position?) -> (
        SpoolBatch, Position
    )? {
        while true {
            if let limit, cursor >= limit { return nil }
            // Skip segments deleted since the cursor was placed.
            guard let index = segments.firstIndex(where: { $0.id >= cursor.segmentID }) else { return nil }
            let segment = segments[index]
            if segment.id != cursor.segmentID { cursor = Position(segmentID: segment.id, offset: 0) }
            if cursor.offset < SegmentFormat.headerSize { cursor.offset = SegmentFormat.headerSize }
            let isActive = active != nil && index == segments.count - 1
            let end = isActive ? active!.writer.size : segment.size
            if cursor.offset >= end {
                if isActive || index == segments.count - 1 { return nil }
                cursor = Position(segmentID: segments[index + 1].id, offset: 0)
                continue
            }
            let position = cursor
            switch readRecord(segmentID: segment.id, offset: cursor.offset) {
            case .record(let header, let frame, let next)?:
                cursor.offset = next
                guard isEligible(header, sink: sink, state: state) else { continue }
                if let limit, position >= limit { return nil }
                return (
                    SpoolBatch(
                        identity: header.identity, readings: header.readings, schemaID: header.schemaID,
                        createdMilliseconds: header.createdMilliseconds, frame: frame), position
                )
            case .damaged?, nil:
                cursor.offset = skipDamage(in: segment, from: cursor.offset, end: end)
            }
        }
    }

    enum ReadResult {
        case record(RecordHeader, frame: [UInt8], next: Int)
        case damaged
    }

    /// Reads and checks the record at `offset`. Nil when the segment cannot be opened.
    func readRecord(segmentID: UInt64, offset: Int) -> ReadResult? {
        guard let file = readFile(segmentID) else { return nil }
        var head = [UInt8](repeating: 0, count: SegmentFormat.recordHeaderSize)
        guard pread(file.rawValue, &head, head.count, off_t(offset)) == head.count else { return .damaged }
        let (sync, length, crc) = head.withUnsafeBytes {
            (
                UInt32(truncatingIfNeeded: SegmentFormat.read($0, 0, 4)), Int(SegmentFormat.read($0, 4, 4)),
                UInt32(truncatingIfNeeded: SegmentFormat.read($0, 8, 4))
            )
        }
        guard sync == SegmentFormat.recordSync, length <= SegmentFormat.maximumRecord else { return .damaged }
        var payload = [UInt8](repeating: 0, count: length)
        guard pread(file.rawValue, &payload, length, off_t(offset + SegmentFormat.recordHeaderSize)) == length else {
            return .damaged
        }
        return payload.withUnsafeBytes { bytes in
            guard SegmentFormat.recordChecksum(length: UInt32(length), payload: bytes) == crc,
                let (header, frameOffset) = RecordHeader.decode(bytes)
            else { return .damaged }
            return .record(
                header, frame: Array(bytes[frameOffset...]), next: offset + SegmentFormat.recordHeaderSize + length)
        }
    }

    /// Damage found while reading: rescan the segment, count its unreadable batches as
    /// corrupt (once), and continue at the next valid record.
    private func skipDamage(in segment: SegmentSummary, from offset: Int, end: Int) -> Int {
        var bytes = [UInt8](repeating: 0, count: end)
        guard let file = readFile(segment.id), pread(file.rawValue, &bytes, end, 0) == end,
            case .success(let scan) = bytes.withUnsafeBytes({ SegmentScanner.scan($0) })
        else {
            markSegmentUnreadable(segment)
            return end
        }
        var present = Set<UInt64>()
        bytes.withUnsafeBytes { all in
            for record in scan.records {
                if let (header, _) = RecordHeader.decode(
                    UnsafeRawBufferPointer(rebasing: all[record.offset..<record.offset + record.length])),
                    header.kind == .batch, header.identity.epoch == segment.epoch
                {
                    present.insert(header.identity.sequence)
                }
            }
        }
        var lostNow = 0
        if let range = segment.sequenceRange {
            for sequence in range where !present.contains(sequence) {
                let identity = BatchIdentity(epoch: segment.epoch, sequence: sequence)
                if lostCause(identity) == nil { markLost(identity, cause: .corrupt); lostNow += 1 }
            }
        }
        if lostNow > 0 {
            logger.error(
                "spool record damaged on disk; skipped and counted",
                metadata: ["segment": "\(SegmentFormat.fileName(segment.id))", "batches": "\(lostNow)"])
        }
        let next = scan.records.first { $0.offset - SegmentFormat.recordHeaderSize > offset }
        return next.map { $0.offset - SegmentFormat.recordHeaderSize } ?? end
    }

    private func markSegmentUnreadable(_ segment: SegmentSummary) {
        guard let range = segment.sequenceRange else { return }
        logger.error(
            "spool segment unreadable; its batches are counted lost",
            metadata: ["segment": "\(SegmentFormat.fileName(segment.id))"])
        for sequence in range where lostCause(BatchIdentity(epoch: segment.epoch, sequence: sequence)) == nil {
            markLost(BatchIdentity(epoch: segment.epoch, sequence: sequence), cause: .corrupt)
        }
    }

    private func readFile(_ segmentID: UInt64) -> FileDescriptor? {
        if let file = readFiles[segmentID] { return file }
        if readFiles.count >= 8 {
            for file in readFiles.values { try? file.close() }
            readFiles.removeAll()
        }
        guard let file = try? FileDescriptor.open(path(of: segmentID), .readOnly, options: [.closeOnExec]) else {
            return nil
        }
        readFiles[segmentID] = file
        return file
    }
}
