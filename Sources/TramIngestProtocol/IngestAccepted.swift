import TramJSON
import TramSchema

/// The 200 answer: every batch in the body is stored, now or before (a duplicate), and may be acknowledged.
///
///     {"stored":[S…],"duplicates":[S…],"batches":[{"epoch":E,"sequence":S,"duplicate":B}…],"readings":N,"dictionaries":N}
///
/// `stored` and `duplicates` (sequences only) follow from `batches`; they stay for older readers.
public struct IngestAccepted: Sendable, Equatable {
    public struct Batch: Sendable, Equatable {
        public var identity: BatchIdentity
        /// Stored by an earlier request: the agent's acknowledgement was lost, and the batch counts once.
        public var duplicate: Bool

        public init(identity: BatchIdentity, duplicate: Bool) {
            self.identity = identity
            self.duplicate = duplicate
        }
    }

    public var batches: [Batch]
    /// Readings newly stored.
    public var readings: Int
    /// Dictionaries newly stored.
    public var dictionaries: Int

    public init(batches: [Batch], readings: Int, dictionaries: Int) {
        self.batches = batches
        self.readings = readings
        self.dictionaries = dictionaries
    }

    public static let status = 200

    public var json: JSON {
        .object([
            ("stored", .array(batches.filter { !$0.duplicate }.map { .uint($0.identity.sequence) })),
            ("duplicates", .array(batches.filter(\.duplicate).map { .uint($0.identity.sequence) })),
            (
                "batches",
                .array(
                    batches.map {
                        .object([
                            ("epoch", .uint($0.identity.epoch)), ("sequence", .uint($0.identity.sequence)),
                            ("duplicate", .bool($0.duplicate)),
                        ])
                    })
            ),
            ("readings", .int(Int64(readings))),
            ("dictionaries", .int(Int64(dictionaries))),
        ])
    }

    public init(json: JSON) throws(JSONShapeError) {
        let batches = try json.items("batches") { (item: JSON) throws(JSONShapeError) in
            Batch(identity: try BatchIdentity(json: item), duplicate: try item.bool("duplicate"))
        }
        self.init(batches: batches, readings: try json.int("readings"), dictionaries: try json.int("dictionaries"))
    }
}

extension BatchIdentity {
    /// `{"epoch":E,"sequence":S}`, as the 200, 409 and 422 answers name a batch.
    public var json: JSON { .object([("epoch", .uint(epoch)), ("sequence", .uint(sequence))]) }

    public init(json: JSON) throws(JSONShapeError) {
        self.init(epoch: try json.uint64("epoch"), sequence: try json.uint64("sequence"))
    }
}
