import TramSchema
import TramSpool

/// What the uplink needs from the spool: batches to send, and where each one ended up.
///
/// `Spool` conforms directly, for a thread that owns both the spool and the uplink (tests, tools).
/// `SharedSpool` conforms for the agent, where the spool's writer and each sink's uplink are separate threads.
public protocol DeliveryQueue: AnyObject {
    func nextBatches(for sink: String, limit: Int, maximumBytes: Int) -> [SpoolBatch]
    func acknowledge(sink: String, _ identities: [BatchIdentity])
    func release(sink: String, _ identities: [BatchIdentity])
    func setAside(sink: String, _ identity: BatchIdentity)
    func dictionary(schemaID: UInt64) -> [UInt8]?
}

extension Spool: DeliveryQueue {}
extension SharedSpool: DeliveryQueue {}
