import Synchronization
import TramSchema
import TramThreads

/// A spool shared between threads: the agent's writer appends, each sink's uplink takes and settles batches.
///
/// Every call holds one lock for its duration. The calls are short (a `writev`, a read of a segment, a ledger
/// entry) except `tick`, which may `fdatasync`; none of them waits on the network, because an uplink holds
/// the lock only to take batches and to record what happened to them, never across an upload.
///
/// Readers (the uplinks) register a `Wakeup`; `appendBatch` signals every one of them, so a new batch reaches an
/// idle uplink at once without the writer knowing who reads.
public final class SharedSpool: Sendable {
    private let spool: Mutex<Spool>
    private let readers = Mutex<[ObjectIdentifier: Wakeup]>([:])

    public init(_ spool: consuming sending Spool) {
        self.spool = Mutex(spool)
    }

    /// Appends a sealed batch (see `Spool.appendBatch`), then wakes every registered reader.
    @discardableResult
    public func appendBatch(_ frame: UnsafeRawBufferPointer, identity: BatchIdentity, readings: Int, schemaID: UInt64)
        -> AppendOutcome
    {
        let outcome = withSpool { $0.appendBatch(frame, identity: identity, readings: readings, schemaID: schemaID) }
        // Signalled under the readers' lock, not from a copy of the list: no allocation per batch. `signal` only takes
        // each Wakeup's own mutex for a moment, and no reader takes this lock while holding that one.
        readers.withLock { for reader in $0.values { reader.signal() } }
        return outcome
    }

    /// Signals `wakeup` after every batch appended through `appendBatch`, until `removeReader`.
    public func addReader(_ wakeup: Wakeup) {
        readers.withLock { $0[ObjectIdentifier(wakeup)] = wakeup }
    }

    public func removeReader(_ wakeup: Wakeup) {
        _ = readers.withLock { $0.removeValue(forKey: ObjectIdentifier(wakeup)) }
    }

    /// Runs `body` with the spool to itself (appends, tick, status).
    public func withSpool<Result: Sendable, Failure: Error>(_ body: (Spool) throws(Failure) -> Result) throws(Failure)
        -> Result
    {
        try spool.withLock { (spool: inout Spool) throws(Failure) -> Result in try body(spool) }
    }

    public func nextBatches(for sink: String, limit: Int, maximumBytes: Int) -> [SpoolBatch] {
        withSpool { $0.nextBatches(for: sink, limit: limit, maximumBytes: maximumBytes) }
    }

    public func acknowledge(sink: String, _ identities: [BatchIdentity]) {
        withSpool { $0.acknowledge(sink: sink, identities) }
    }

    public func release(sink: String, _ identities: [BatchIdentity]) {
        withSpool { $0.release(sink: sink, identities) }
    }

    public func setAside(sink: String, _ identity: BatchIdentity) {
        withSpool { $0.setAside(sink: sink, identity) }
    }

    public func dictionary(schemaID: UInt64) -> [UInt8]? {
        withSpool { $0.dictionary(schemaID: schemaID) }
    }
}
