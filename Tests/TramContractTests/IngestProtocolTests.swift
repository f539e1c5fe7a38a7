import Testing
import TramIngestProtocol
import TramJSON
import TramSchema

@Suite("TramIngestProtocol: the answers encode and decode with the same types")
struct IngestProtocolTests {
    static let refusals: [IngestRefusal] = [
        .empty(detail: "the body holds no frames"),
        .unauthorized(detail: "token revoked"),
        .forbidden(detail: "Tram-Gateway names 'b', the token is 'a's"),
        .schemaUnknown(
            schemaIDs: [0xff, 0xa01], batches: [.init(epoch: 7, sequence: 1), .init(epoch: .max, sequence: .max)]),
        .bodyTooLarge(maximum: 8 << 20),
        .decodedTooLarge(detail: "send fewer", maximumDecoded: 1 << 24),
        .unsupportedMediaType(detail: "send Content-Type: application/x-tram-frames"),
        .malformed(detail: "crc \"x\"", frame: 1, offset: 40, batch: .init(epoch: 7, sequence: 12)),
        .malformed(detail: "short", frame: 0, offset: 0, batch: nil),
        .unsupportedVersion(detail: "frame 0 is wire format version 2", accepted: [1]),
        .rateLimited(retryAfterSeconds: 7),
        .storeError(detail: "disk I/O error"),
    ]

    @Test("every refusal round-trips", arguments: refusals)
    func refusal(_ refusal: IngestRefusal) {
        #expect(IngestRefusal.decode(status: refusal.status, body: refusal.json.bytes) == refusal)
        #expect(IngestAnswer.decode(status: refusal.status, body: refusal.json.bytes) == .refused(refusal))
        #expect(IngestRefusal.reason(in: refusal.json.bytes) == refusal.reason.rawValue)
    }

    @Test("the bodies keep the collector's field names, values and order")
    func wire() {
        #expect(
            IngestRefusal.schemaUnknown(schemaIDs: [0xff, 0xa01], batches: [.init(epoch: 7, sequence: 1)]).json.rendered
                == #"{"reason":"schema-unknown","schema_id":"00000000000000ff","schema_ids":["00000000000000ff","0000000000000a01"],"batches":[{"epoch":7,"sequence":1}]}"#
        )
        #expect(
            IngestRefusal.malformed(detail: "bad", frame: 1, offset: 40, batch: .init(epoch: 7, sequence: 12)).json
                .rendered
                == #"{"reason":"malformed","detail":"bad","frame":1,"offset":40,"batch":{"epoch":7,"sequence":12}}"#)
        #expect(
            IngestRefusal.rateLimited(retryAfterSeconds: 3).json.rendered
                == #"{"reason":"rate-limited","retry_after":3}"#)
        #expect(IngestRefusal.rateLimited(retryAfterSeconds: 3).retryAfterSeconds == 3)
        #expect(IngestRefusal.bodyTooLarge(maximum: 10).json.rendered == #"{"reason":"too-large","maximum":10}"#)
        #expect(
            IngestRefusal.decodedTooLarge(detail: "d", maximumDecoded: 9).json.rendered
                == #"{"reason":"too-large","detail":"d","maximum_decoded":9}"#)
        #expect(
            IngestRefusal.unauthorized(detail: "no bearer token").json.rendered
                == #"{"reason":"unauthorized","detail":"no bearer token"}"#)
        #expect(
            IngestRefusal.unsupportedVersion(detail: "d", accepted: [1]).json.rendered
                == #"{"reason":"unsupported-version","detail":"d","accepted":[1]}"#)
        #expect(IngestReason.allCases.map(\.status) == [400, 401, 403, 409, 413, 415, 422, 422, 429, 500])
        #expect(WireVersions.render([1, 2]) == "1, 2")
        #expect(WireVersions.parse(" 2,1, x, 0, 300,2 ") == [1, 2])
        #expect(WireVersions.parse(" 1, 2\r\n") == [1, 2])
    }

    @Test("the 200 answer round-trips")
    func accepted() {
        let accepted = IngestAccepted(
            batches: [
                .init(identity: .init(epoch: 3, sequence: 9), duplicate: false),
                .init(identity: .init(epoch: 3, sequence: 10), duplicate: true),
            ], readings: 120, dictionaries: 1)
        #expect(
            accepted.json.rendered
                == #"{"stored":[9],"duplicates":[10],"batches":[{"epoch":3,"sequence":9,"duplicate":false},{"epoch":3,"sequence":10,"duplicate":true}],"readings":120,"dictionaries":1}"#
        )
        #expect(IngestAnswer.decode(status: 200, body: accepted.json.bytes) == .accepted(accepted))
    }

    @Test("other bodies are no collector refusal")
    func foreign() {
        #expect(IngestRefusal.decode(status: 502, body: Array("<html>bad gateway</html>".utf8)) == nil)
        #expect(IngestRefusal.decode(status: 409, body: Array(#"{"reason":"conflict"}"#.utf8)) == nil)
        #expect(IngestRefusal.decode(status: 422, body: Array(#"{"reason":"schema-unknown"}"#.utf8)) == nil)
        #expect(IngestRefusal.reason(in: Array(#"{"reason":"teapot"}"#.utf8)) == "teapot")
        #expect(
            IngestRefusal.decode(status: 409, body: Array(#"{"reason":"schema-unknown"}"#.utf8))
                == .schemaUnknown(schemaIDs: [], batches: []))
    }

    @Test("Tram-Batches: runs of consecutive sequences per epoch")
    func batchRuns() {
        let ids: [BatchIdentity] = [
            .init(epoch: 7, sequence: 6), .init(epoch: 7, sequence: 3), .init(epoch: 7, sequence: 4),
            .init(epoch: 8, sequence: 0),
        ]
        #expect(BatchRuns.encode(ids) == "7/3-4,7/6-6,8/0-0")
        #expect(BatchRuns.decode("7/3-4,7/6-6,8/0-0") == BatchRuns.runs(ids))
        #expect(BatchRuns.decode("") == [])
        #expect(BatchRuns.decode("0/0-18446744073709551615") == [BatchRun(epoch: 0, first: 0, last: .max)])
        for bad in ["7", "7/3", "7/4-3", "x/1-2", "7/1-2,", "7/-1-2"] { #expect(BatchRuns.decode(bad) == nil) }
        #expect(IngestHeader.gateway == "Tram-Gateway" && IngestHeader.batches == "Tram-Batches")
    }
}
