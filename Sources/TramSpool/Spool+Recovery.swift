import SystemPackage
import TramSchema
#if canImport(Glibc)
import Glibc
#endif

extension Spool {
    /// Builds the segment list at start-up. A segment the ledger sealed at its current size is
    /// trusted as summarised (its records are checked when read); any other is scanned,
    /// its torn tail cut and its damaged records counted. Only the last segment of a
    /// crashed run normally needs a scan, which keeps start-up fast with a large backlog.
    func recoverSegments(_ found: [UInt64], state: LedgerState) {
        var missing = state.sealed
        for id in found {
            missing[id] = nil
            let path = path(of: id)
            if state.retiredIDs.contains(id) {
                // Deleted in the ledger, but the unlink did not happen before the stop.
                if access == .owner { unlink(path.string) }
                continue
            }
            var info = stat()
            guard stat(path.string, &info) == 0 else { continue }
            if let sealed = state.sealed[id], sealed.size == Int(info.st_size) {
                segments.append(sealed)
                continue
            }
            scanSegment(id, sealed: state.sealed[id])
        }
        segments.sort { $0.id < $1.id }
        // Sealed in the ledger, gone from the directory: deleted by hand, or lost with the disk.
        for summary in missing.values.sorted(by: { $0.id < $1.id }) {
            logger.error(
                "spool segment missing; its undelivered readings are counted as dropped",
                metadata: ["segment": "\(SegmentFormat.fileName(summary.id))"])
            let position = segments.firstIndex { $0.id > summary.id } ?? segments.count
            segments.insert(summary, at: position)
            retire(at: position, cause: .missing, unlinking: false)
        }
    }

    /// Scans one segment and appends its summary; records the loss of batches the ledger knew of.
    private func scanSegment(_ id: UInt64, sealed: SegmentSummary?) {
        let path = path(of: id)
        var bytes: [UInt8] = []
        let result: Result<SegmentScan, SegmentProblem>
        do {
            result = try SegmentScanner.recover(path, contents: &bytes, truncatingTornTail: access == .owner)
        } catch {
            logger.error("spool segment unreadable; kept", metadata: ["segment": "\(path)", "error": "\(error)"])
            keepAside(path, reason: "\(error)", sealed: sealed)
            return
        }
        switch result {
        case .failure(.unknownVersion(let version)):
            logger.warning(
                "spool segment written by another Tram version; kept untouched",
                metadata: ["segment": "\(path)", "version": "\(version)"])
            keptFiles.append(path.lastComponent?.string ?? path.string)
        case .failure where bytes.count < SegmentFormat.headerSize && sealed == nil:
            // Created just before a power cut, before its first sync: it never held a record.
            if access == .owner { unlink(path.string) }
            logger.notice("spool segment was created but never synced; removed", metadata: ["segment": "\(path)"])
        case .failure(let problem):
            keepAside(path, reason: problem.description, sealed: sealed)
        case .success(let scan):
            var summary = SegmentSummary(
                id: id, size: scan.validSize, createdMilliseconds: scan.header.createdMilliseconds,
                newestMilliseconds: scan.header.createdMilliseconds)
            var present: [BatchIdentity] = []
            bytes.withUnsafeBytes { all in
                for record in scan.records {
                    let payload = UnsafeRawBufferPointer(rebasing: all[record.offset..<record.offset + record.length])
                    guard let (header, _) = RecordHeader.decode(payload) else { continue }
                    let recordStart = record.offset - SegmentFormat.recordHeaderSize
                    if header.kind == .batch, !summary.readings.isEmpty,
                        header.identity.epoch != summary.epoch || header.identity.sequence <= summary.lastSequence
                    {
                        continue
                    }
                    // Keep sequences consecutive: a hole is a damaged batch, recorded as lost below.
                    while header.kind == .batch, !summary.readings.isEmpty,
                        header.identity.sequence > summary.lastSequence + 1
                    {
                        let hole = summary.lastSequence + 1
                        summary.readings.append(UInt32(sealed?.readings(of: hole) ?? 0))
                    }
                    summary.add(header, offset: recordStart, recordSize: SegmentFormat.recordHeaderSize + record.length)
                    if header.kind == .batch { present.append(header.identity) }
                }
            }
            summary.size = scan.validSize
            if let sealed, sealed.sequenceRange != nil {
                // The ledger knew every batch appended here; any the scan no longer finds are lost.
                summary.epoch = sealed.epoch
                summary.firstSequence = sealed.firstSequence
                summary.readings = sealed.readings
                for schema in sealed.schemasUsed where !summary.schemasUsed.contains(schema) {
                    summary.schemasUsed.append(schema)
                }
            }
            let found = Set(present.map(\.sequence))
            if let range = summary.sequenceRange {
                var lostCount = 0
                // Batches the ledger knew of past the last one still on disk went with the file's tail
                // (a power cut before their sync); holes before it are damage.
                let lastFound = found.max()
                for sequence in range where !found.contains(sequence) {
                    let cause: DropCause = lastFound.map { sequence > $0 } ?? true ? .powerLoss : .corrupt
                    markLost(BatchIdentity(epoch: summary.epoch, sequence: sequence), cause: cause)
                    lostCount += 1
                }
                if lostCount > 0 || !scan.corrupt.isEmpty {
                    logger.error(
                        "spool segment had damaged records; skipped and counted",
                        metadata: [
                            "segment": "\(path)", "batches": "\(lostCount)",
                            "bytes": "\(scan.corrupt.reduce(0) { $0 + $1.length })",
                        ])
                }
            }
            if scan.tornBytes > 0 {
                logger.notice(
                    "spool segment had a torn tail; cut",
                    metadata: ["segment": "\(path)", "bytes": "\(scan.tornBytes)"])
            }
            segments.append(summary)
            ledger.append(.sealed(summary))
        }
    }

    /// A segment whose header cannot be read: renamed aside (kept for a person to inspect),
    /// and its undelivered batches, if the ledger knew them, counted as corrupt.
    private func keepAside(_ path: FilePath, reason: String, sealed: SegmentSummary?) {
        let aside = access == .owner ? path.string + ".damaged" : path.string
        if access == .owner { rename(path.string, aside) }
        keptFiles.append(String(aside.split(separator: "/").last ?? ""))
        logger.error(
            "spool segment damaged beyond reading; renamed aside",
            metadata: ["segment": "\(aside)", "reason": "\(reason)"])
        guard let sealed else { return }
        segments.append(sealed)
        segments.sort { $0.id < $1.id }
        if let index = index(ofSegment: sealed.id) { retire(at: index, cause: .corrupt, unlinking: false) }
    }

    func markLost(_ identity: BatchIdentity, cause: DropCause) {
        markLost(epoch: identity.epoch, identity.sequence...identity.sequence, cause: cause)
    }

    /// Records batches as lost; those every sink already acknowledged stay delivered.
    func markLost(epoch: UInt64, _ range: ClosedRange<UInt64>, cause: DropCause) {
        if range.count == 1, isAcknowledgedEverywhere(BatchIdentity(epoch: epoch, sequence: range.lowerBound)) {
            return
        }
        lost[cause, default: [:]][epoch, default: SequenceRanges()].insert(range)
        ledger.append(.lost(cause: cause, epoch: epoch, sequences: range))
        noteDropped(epoch: epoch, range)
    }

    /// The cause, if the batch was lost in place.
    func lostCause(_ identity: BatchIdentity) -> DropCause? {
        for (cause, epochs) in lost where epochs[identity.epoch]?.contains(identity.sequence) == true { return cause }
        return nil
    }
}
