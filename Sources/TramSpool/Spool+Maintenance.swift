import SystemPackage
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

extension Spool {
    /// Housekeeping the owner calls about once a second: group commit, deletion of delivered
    /// and expired segments, the RAM ring after a full disk, and ledger compaction.
    public func tick() {
        flushRing(force: false)
        retireExpired()
        retireDelivered()
        syncIfDue()
    }

    func syncIfDue() {
        guard clock.monotonicMilliseconds() - lastSyncMilliseconds >= options.syncIntervalMilliseconds else { return }
        do {
            try sync()
        } catch {
            logger.error("spool ledger sync failed", metadata: ["error": "\(error)"])
        }
    }

    /// Group commit: fdatasync the segments written since the last sync, then the ledger, then
    /// delete retired segments (only once the ledger that retires them is durable).
    public func sync() throws(Errno) {
        lastSyncMilliseconds = clock.monotonicMilliseconds()
        for open in sealedUnsynced { syncData(open, isActive: false) }
        sealedUnsynced.removeAll()
        if let open = active { syncData(open, isActive: true) }
        compactLedgerIfLarge()
        if directoryDirty {
            // New segments' directory entries, in the same group commit as their data.
            try? SegmentWriter.syncDirectory(options.directory)
            directoryDirty = false
        }
        try ledger.sync()
        if !pendingUnlink.isEmpty {
            for path in pendingUnlink { unlink(path.string) }
            pendingUnlink.removeAll()
            try? SegmentWriter.syncDirectory(options.directory)
        }
    }

    /// A failed fdatasync is never retried on the same data: the kernel may have dropped the
    /// dirty pages already and a second call would report success. The batches since the last
    /// good sync are counted lost and writing moves to a fresh segment.
    private func syncData(_ open: OpenSegment, isActive: Bool) {
        guard let index = index(ofSegment: open.writer.segmentID) else { return }
        // Nothing new: an idle gateway must not flush the device cache (and wear its flash) every interval.
        guard open.writer.size != open.writer.syncedSize else { return }
        do {
            if simulatedSyncFailure { throw Errno.ioError }
            try open.writer.sync()
            if isActive { active?.syncedBatches = segments[index].batchCount }
        } catch {
            let summary = segments[index]
            logger.error(
                "spool fdatasync failed; batches since the last sync are counted lost and the segment is sealed",
                metadata: ["segment": "\(open.writer.path)", "error": "\(error)"])
            if summary.batchCount > open.syncedBatches {
                markLost(
                    epoch: summary.epoch, summary.firstSequence + UInt64(open.syncedBatches)...summary.lastSequence,
                    cause: .syncFailed)
            }
            if isActive { seal(); sealedUnsynced.removeAll { $0.writer === open.writer } }
        }
    }

    func isAcknowledgedEverywhere(_ identity: BatchIdentity) -> Bool {
        options.sinks.allSatisfy { acknowledged[$0]?[identity.epoch]?.contains(identity.sequence) == true }
    }

    /// True when every batch in the segment is acknowledged by every sink, or lost.
    func isDelivered(_ segment: SegmentSummary) -> Bool {
        guard let range = segment.sequenceRange else { return true }
        for sink in options.sinks {
            guard acknowledged[sink]?[segment.epoch]?.covers(range) == true else {
                // Slow path: some batches may be lost rather than acknowledged.
                return range.allSatisfy { sequence in
                    let identity = BatchIdentity(epoch: segment.epoch, sequence: sequence)
                    return lostCause(identity) != nil
                        || options.sinks.allSatisfy { acknowledged[$0]?[segment.epoch]?.contains(sequence) == true }
                }
            }
        }
        return true
    }

    private func retireDelivered() {
        var index = 0
        while index < segments.count {
            let isActive = active != nil && index == segments.count - 1
            if !isActive, isDelivered(segments[index]),
                !segments[index].readings.isEmpty || !dictionariesNeeded(segments[index])
            {
                retire(at: index, cause: .overflow)
            } else {
                index += 1
            }
        }
    }

    private func retireExpired() {
        let now = clock.wallMilliseconds()
        let limit = options.maximumAgeMilliseconds
        // Roll the active segment once it is an eighth of the age limit old, so expiry is fine-grained.
        if active != nil, let last = segments.last, now - last.createdMilliseconds > limit / 8 { seal() }
        while let first = segments.first, !(active != nil && segments.count == 1),
            now - first.newestMilliseconds > limit
        {
            retire(at: 0, cause: .age)
        }
    }

    /// Whether a later segment's batches still need a dictionary this segment holds last.
    private func dictionariesNeeded(_ segment: SegmentSummary) -> Bool {
        !neededDictionaries(in: segment).isEmpty
    }

    private func neededDictionaries(in segment: SegmentSummary) -> [SegmentSummary.DictionaryRecord] {
        segment.dictionaries.filter { record in
            let heldLater = segments.contains {
                $0.id > segment.id && $0.dictionaries.contains { $0.schemaID == record.schemaID }
            }
            let usedElsewhere =
                currentSchemaIDs.contains(record.schemaID)
                || segments.contains { $0.id != segment.id && $0.schemasUsed.contains(record.schemaID) }
                || ring.pending.contains { $0.header.schemaID == record.schemaID }
            return !heldLater && usedElsewhere
        }
    }

    /// Deletes a segment: its acknowledged batches count as delivered, its lost ones under
    /// their cause, the rest as dropped for `cause`. Dictionaries still needed by later
    /// batches are copied forward first. The file goes at the next sync.
    func retire(at index: Int, cause: DropCause, unlinking: Bool = true) {
        let segment = segments[index]
        if active != nil && index == segments.count - 1 { seal() }
        // Copy needed dictionaries forward (and sync them) before the ledger retires this segment:
        // a crash in between must leave a copy somewhere. Copies may exceed the bound by a few bytes.
        let carried = neededDictionaries(in: segment).compactMap { record in
            readDictionary(at: record.offset, segmentID: segment.id).map { (record.schemaID, $0) }
        }
        for (schemaID, frame) in carried {
            frame.withUnsafeBytes { _ = storeDictionary($0, schemaID: schemaID, withinBounds: false) }
        }
        var delivered = Tally()
        var dropped: [DropCause: Tally] = [:]
        if let range = segment.sequenceRange {
            for sequence in range {
                let identity = BatchIdentity(epoch: segment.epoch, sequence: sequence)
                let tally = Tally(readings: segment.readings(of: sequence) ?? 0, batches: 1)
                if isAcknowledgedEverywhere(identity) {
                    delivered += tally
                } else if let lostCause = lostCause(identity) {
                    dropped[lostCause, default: Tally()] += tally
                } else {
                    dropped[cause, default: Tally()] += tally
                    noteDropped(identity)
                }
            }
        }
        if let undelivered = dropped[cause], undelivered.batches > 0, cause != .missing, cause != .corrupt {
            logger.warning(
                "spool dropped undelivered readings",
                metadata: [
                    "cause": "\(cause)", "readings": "\(undelivered.readings)",
                    "segment": "\(SegmentFormat.fileName(segment.id))",
                ])
        }
        ledger.append(.retired(segmentID: segment.id, delivered: delivered, dropped: dropped))
        retiredDelivered += delivered
        for (cause, tally) in dropped { retiredDropped[cause, default: Tally()] += tally }
        guard let current = self.index(ofSegment: segment.id) else { return }
        segments.remove(at: current)
        sealedUnsynced.removeAll { $0.writer.segmentID == segment.id }
        if let file = readFiles.removeValue(forKey: segment.id) { try? file.close() }
        if unlinking { pendingUnlink.append(path(of: segment.id)) }
    }

    /// Restates the ledger compactly once it has grown well past what the state needs.
    private func compactLedgerIfLarge() {
        guard ledger.size > 1 << 20 else { return }
        let entries = snapshot()
        let estimate = entries.reduce(0) { $0 + $1.encode().count + SegmentFormat.recordHeaderSize }
        guard ledger.size > 4 * estimate else { return }
        do {
            try ledger.rewrite(entries)
        } catch {
            logger.error("spool ledger compaction failed; keeping the long ledger", metadata: ["error": "\(error)"])
        }
    }

    /// The state as a minimal list of ledger entries.
    func snapshot() -> [LedgerEntry] {
        var entries: [LedgerEntry] = [.opened(epoch: epoch, nextSequence: nextSequence)]
        entries.append(.retired(segmentID: 0, delivered: retiredDelivered, dropped: retiredDropped))
        let sealedCount = active == nil ? segments.count : segments.count - 1
        for summary in segments.prefix(sealedCount) { entries.append(.sealed(summary)) }
        let liveEpochs = Set(segments.map(\.epoch))
        for (sink, epochs) in acknowledged.sorted(by: { $0.key < $1.key }) {
            for (epoch, ranges) in epochs.sorted(by: { $0.key < $1.key }) where liveEpochs.contains(epoch) {
                for range in ranges.ranges { entries.append(.acknowledged(sink: sink, epoch: epoch, sequences: range)) }
            }
        }
        for (cause, epochs) in lost.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            for (epoch, ranges) in epochs.sorted(by: { $0.key < $1.key }) where liveEpochs.contains(epoch) {
                for range in ranges.ranges { entries.append(.lost(cause: cause, epoch: epoch, sequences: range)) }
            }
        }
        return entries
    }
}
