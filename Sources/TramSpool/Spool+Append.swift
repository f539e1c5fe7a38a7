import SystemPackage
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

/// What became of an appended batch.
public enum AppendOutcome: Sendable, Equatable {
    /// Written to a segment: from here on it survives `kill -9`, and a power cut after the next sync.
    case stored
    /// The disk is full: held in the RAM ring, written when space returns.
    case heldInMemory
    /// Given up and counted (drop-newest overflow, or a batch larger than the whole spool).
    case dropped(DropCause)
}

extension Spool {
    /// Appends one sealed batch. `frame` must carry `nextIdentity`, which this call consumes.
    @discardableResult
    public func appendBatch(
        _ frame: UnsafeRawBufferPointer, identity: BatchIdentity, readings: Int, schemaID: UInt64,
        createdMilliseconds: Int64? = nil
    ) -> AppendOutcome {
        precondition(!isClosed, "append after close")
        precondition(
            identity == nextIdentity, "a batch must carry the spool's next identity (\(nextIdentity)), not \(identity)")
        nextSequence += 1
        // Replace the set only when the schema changed: a new set every batch would allocate.
        if !(currentSchemaIDs.count == 1 && currentSchemaIDs.contains(schemaID)) { currentSchemaIDs = [schemaID] }
        let header = RecordHeader(
            kind: .batch, identity: identity, readings: readings, schemaID: schemaID,
            createdMilliseconds: createdMilliseconds ?? clock.wallMilliseconds())
        return append(header, frame)
    }

    /// Appends a dictionary frame. Batches that use its schema id can be decoded for as long as they are kept.
    /// The agent appends its current dictionary after every open and whenever its schema changes.
    ///
    /// A dictionary is synced at once, outside the group-commit interval: writeback order across
    /// files is not guaranteed, and a batch must never survive a power cut that its dictionary did not.
    /// Schemas change rarely, so this costs one fdatasync per config change.
    @discardableResult
    public func appendDictionary(_ frame: UnsafeRawBufferPointer, schemaID: UInt64) -> AppendOutcome {
        precondition(!isClosed, "append after close")
        currentSchemaIDs = [schemaID]
        return storeDictionary(frame, schemaID: schemaID)
    }

    /// Stores a dictionary record; also used to carry one forward out of a segment being deleted.
    func storeDictionary(_ frame: UnsafeRawBufferPointer, schemaID: UInt64, withinBounds: Bool = true) -> AppendOutcome
    {
        let header = RecordHeader(
            kind: .dictionary, identity: BatchIdentity(epoch: epoch, sequence: 0), readings: 0,
            schemaID: schemaID, createdMilliseconds: clock.wallMilliseconds())
        let outcome = append(header, frame, withinBounds: withinBounds)
        if outcome == .stored {
            do { try sync() } catch { logger.error("spool sync failed", metadata: ["error": "\(error)"]) }
        }
        return outcome
    }

    private func append(_ header: RecordHeader, _ frame: UnsafeRawBufferPointer, withinBounds: Bool = true)
        -> AppendOutcome
    {
        let recordSize = SegmentFormat.recordHeaderSize + header.encodedSize + frame.count
        guard !withinBounds || makeRoom(for: recordSize) else {
            if header.kind == .batch {
                countDropped(.overflow, Tally(readings: header.readings, batches: 1))
                noteDropped(header.identity)
            }
            return .dropped(.overflow)
        }
        if !ring.isEmpty { flushRing(force: false) }
        // Encoded only now: making room may append (a carried dictionary), and that uses the same scratch buffer.
        if ring.isEmpty, write(header, prefix: header.encode(into: recordHeaderScratch), frame) {
            syncIfDue()
            return .stored
        }
        hold(DiskFullRing.Entry(header: header, frame: Array(frame)))
        return .heldInMemory
    }

    /// Writes one record to the active segment, rolling first when the segment is full, the
    /// epoch changed or the sequence jumped. False when the disk refused.
    func write(_ header: RecordHeader, prefix: UnsafeRawBufferPointer, _ frame: UnsafeRawBufferPointer) -> Bool {
        if simulatedDiskFull {
            noteWriteFailure(.noSpace)
            return false
        }
        let recordSize = SegmentFormat.recordHeaderSize + prefix.count + frame.count
        if let writer = active?.writer {
            // Read the summary in place: a copy would share its arrays, and the `add` below would then copy them.
            let last = segments.count - 1
            let empty = segments[last].readings.isEmpty && segments[last].dictionaries.isEmpty
            let fits = writer.size + recordSize <= options.segmentBytes || empty
            if !fits || (header.kind == .batch && !segments[last].accepts(header.identity)) { seal() }
        }
        if active == nil {
            do {
                // Header and directory entry are synced with the next group commit, not now: a segment
                // created and lost in the same interval held nothing older than the interval.
                let writer = try SegmentWriter(
                    directory: options.directory, id: nextSegmentID, createdMilliseconds: clock.wallMilliseconds(),
                    syncing: false)
                directoryDirty = true
                segments.append(
                    SegmentSummary(
                        id: nextSegmentID, size: writer.size, createdMilliseconds: clock.wallMilliseconds(),
                        newestMilliseconds: clock.wallMilliseconds()))
                active = OpenSegment(writer: writer, syncedBatches: 0)
                nextSegmentID += 1
            } catch {
                unlink(path(of: nextSegmentID).string)
                noteWriteFailure(error)
                return false
            }
        }
        let writer = active!.writer
        let offset = writer.size
        do {
            try writer.append(prefix: prefix, frame)
        } catch {
            noteWriteFailure(error)
            return false
        }
        segments[segments.count - 1].add(header, offset: offset, recordSize: recordSize)
        return true
    }

    /// Closes the active segment for appends; its data is synced at the next sync.
    func seal() {
        guard let open = active else { return }
        active = nil
        let summary = segments[segments.count - 1]
        if summary.readings.isEmpty && summary.dictionaries.isEmpty {
            // Nothing in it: delete rather than keep an empty file.
            segments.removeLast()
            unlink(open.writer.path.string)
            return
        }
        sealedUnsynced.append(open)
        ledger.append(.sealed(summary))
    }

    private func noteWriteFailure(_ error: Errno) {
        if error == .noSpace {
            if ring.isEmpty {
                logger.error(
                    "spool disk full: holding the newest batches in memory",
                    metadata: ["directory": "\(options.directory)"])
            }
        } else {
            logger.error("spool write failed", metadata: ["directory": "\(options.directory)", "error": "\(error)"])
        }
    }

    private func hold(_ entry: DiskFullRing.Entry) {
        for evicted in ring.push(entry, capacity: options.diskFullRingBytes) where evicted.header.kind == .batch {
            countDropped(.diskFull, Tally(readings: evicted.header.readings, batches: 1))
            noteDropped(evicted.header.identity)
        }
    }

    /// Tries to write the RAM ring out (at most every 100 ms unless forced): appends resume
    /// within the sync interval of space returning.
    func flushRing(force: Bool) {
        guard !ring.isEmpty else { return }
        let now = clock.monotonicMilliseconds()
        guard force || lastRingAttemptMilliseconds.map({ now - $0 >= 100 }) ?? true else { return }
        lastRingAttemptMilliseconds = now
        ledger.flush()
        var wroteDictionary = false
        defer {
            // As in appendDictionary: no batch may survive a power cut that its dictionary did not.
            if wroteDictionary {
                do { try sync() } catch { logger.error("spool sync failed", metadata: ["error": "\(error)"]) }
            }
        }
        while let entry = ring.first {
            let prefix = entry.header.encode(into: recordHeaderScratch)
            let written = entry.frame.withUnsafeBytes { write(entry.header, prefix: prefix, $0) }
            guard written else { return }
            wroteDictionary = wroteDictionary || entry.header.kind == .dictionary
            ring.removeFirst()
        }
        logger.notice("spool disk has space again; resumed writing", metadata: ["directory": "\(options.directory)"])
    }

    /// Remembers a batch dropped undelivered, for the next batch to report (``takeDroppedSequences(epoch:)``).
    func noteDropped(_ identity: BatchIdentity) {
        noteDropped(epoch: identity.epoch, identity.sequence...identity.sequence)
    }

    func noteDropped(epoch: UInt64, _ range: ClosedRange<UInt64>) {
        droppedToReport[epoch, default: SequenceRanges()].insert(range)
    }

    /// The sequences of `epoch` dropped undelivered since the last call, rising and apart; the writer puts them in the
    /// batch it seals next. Allocates only when there are some.
    public func takeDroppedSequences(epoch: UInt64) -> [ClosedRange<UInt64>] {
        guard let ranges = droppedToReport.removeValue(forKey: epoch) else { return [] }
        droppedToReport.removeAll()  // other epochs' batches cannot be named in this epoch's
        return ranges.ranges
    }

    func countDropped(_ cause: DropCause, _ tally: Tally) {
        retiredDropped[cause, default: Tally()] += tally
        ledger.append(.dropped(cause: cause, tally))
    }

    /// Applies the size bound before a record of `recordSize` bytes is added. False means drop it.
    private func makeRoom(for recordSize: Int) -> Bool {
        guard diskBytes + recordSize > options.maximumBytes else { return true }
        // Delivered segments go first whatever the policy: they cost nothing to give up.
        var index = 0
        while index < segments.count, diskBytes + recordSize > options.maximumBytes {
            if isDelivered(segments[index]) && !(active != nil && index == segments.count - 1) {
                retire(at: index, cause: .overflow)
            } else {
                index += 1
            }
        }
        guard diskBytes + recordSize > options.maximumBytes else { return true }
        guard options.overflow == .dropOldest,
            recordSize + ledger.size + SegmentFormat.headerSize <= options.maximumBytes
        else { return false }
        while diskBytes + recordSize > options.maximumBytes, !segments.isEmpty {
            if active != nil && segments.count == 1 { seal() }
            if segments.isEmpty { break }
            retire(at: 0, cause: .overflow)
        }
        return diskBytes + recordSize <= options.maximumBytes
    }
}
