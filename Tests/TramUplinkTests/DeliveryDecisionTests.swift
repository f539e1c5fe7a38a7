import Testing
@testable import TramUplink
import TramCore
import TramIngestProtocol

@Suite("Delivery decision")
struct DeliveryDecisionTests {
    enum Expected: Equatable {
        case acknowledge, retry(Int?), split, sendDictionaries, pause, deadLetter
    }

    static func reduce(_ action: DeliveryAction) -> Expected {
        switch action {
        case .acknowledge: .acknowledge
        case .retry(let s): .retry(s)
        case .split: .split
        case .sendDictionaries: .sendDictionaries
        case .pause: .pause
        case .deadLetter: .deadLetter
        }
    }

    /// Issue 6's delivery semantics, row by row: (answer, sink, batches in the upload, what the agent does).
    static let table: [(DeliveryAnswer, SinkKind, Int, Expected)] = [
        (.http(status: 200), .collector, 3, .acknowledge),
        (.http(status: 204), .lineProtocol, 1, .acknowledge),
        (.http(status: 429, reason: "rate-limited", retryAfterSeconds: 7), .collector, 2, .retry(7)),
        (.http(status: 429), .lineProtocol, 2, .retry(nil)),
        (.http(status: 500, reason: "store-error"), .collector, 1, .retry(nil)),
        (.http(status: 502), .collector, 1, .retry(nil)),
        (.http(status: 503, retryAfterSeconds: 30), .collector, 1, .retry(30)),
        (.http(status: 599), .collector, 1, .retry(nil)),
        (.failed(.timeout("black hole")), .collector, 4, .retry(nil)),
        (.failed(.connection("refused")), .collector, 4, .retry(nil)),
        (.failed(.connection("reset")), .lineProtocol, 1, .retry(nil)),
        (.http(status: 413, reason: "too-large"), .collector, 2, .split),
        (.http(status: 413, reason: "too-large"), .collector, 64, .split),
        (.http(status: 413, reason: "too-large"), .collector, 1, .pause),  // a single batch is never split
        (.http(status: 409, reason: "schema-unknown"), .collector, 3, .sendDictionaries),
        (.http(status: 409, reason: "conflict"), .collector, 3, .pause),
        (.http(status: 409), .lineProtocol, 1, .pause),
        (.http(status: 401, reason: "unauthorized"), .collector, 3, .pause),
        (.http(status: 403, reason: "forbidden"), .collector, 3, .pause),
        (.http(status: 404), .collector, 1, .pause),
        (.http(status: 407), .collector, 1, .pause),
        (.http(status: 415, reason: "unsupported-media-type"), .collector, 1, .pause),
        (.http(status: 400, reason: "empty"), .collector, 1, .pause),  // the collector's 400: a client bug
        (.http(status: 422, reason: "malformed"), .collector, 5, .deadLetter),
        (.http(status: 422), .lineProtocol, 1, .pause),
        (.http(status: 400), .lineProtocol, 1, .deadLetter),
        (.http(status: 301), .collector, 1, .pause),
        (.failed(.tls("certificate verify failed")), .collector, 1, .pause),
        (.failed(.configuration("bad URL")), .collector, 1, .pause),
    ]

    @Test("every answer maps to issue 6's action", arguments: table.indices)
    func row(_ index: Int) {
        let (answer, sink, batches, expected) = Self.table[index]
        #expect(
            Self.reduce(DeliveryDecision.decide(answer, sink: sink, batches: batches)) == expected,
            "\(answer) \(sink) \(batches)")
    }

    @Test("backoff grows exponentially up to its cap, jittered, and honours Retry-After")
    func backoff() {
        var b = Backoff(baseMilliseconds: 1000, capMilliseconds: 8000)
        #expect(b.next(retryAfterSeconds: nil, unit: 0) == 500)
        #expect(b.next(retryAfterSeconds: nil, unit: 0) == 1000)
        #expect(b.next(retryAfterSeconds: nil, unit: 0.5) == 2000 + 1000)
        #expect(b.next(retryAfterSeconds: nil, unit: 0.999) < 8000)
        #expect(b.next(retryAfterSeconds: nil, unit: 0) == 4000)  // capped at 8 s
        #expect(b.next(retryAfterSeconds: 30, unit: 0.9) == 30_000)
        #expect(b.failures == 6)
        b.reset()
        #expect(b.next(retryAfterSeconds: nil, unit: 0) == 500)
    }

    @Test("Retry-After: delta-seconds and HTTP dates")
    func retryAfter() {
        #expect(CurlTransport.parseRetryAfter(" 12\r\n") == 12)
        #expect(CurlTransport.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: 1_445_412_470) == 10)
        #expect(CurlTransport.parseRetryAfter("soon") == nil)
    }

    @Test("the collector's answers are read without Foundation")
    func answers() {
        let conflict = Array(
            #"{"reason":"schema-unknown","schema_id":"00000000000000ff","schema_ids":["00000000000000ff","0000000000000a01"],"batches":[{"epoch":7,"sequence":1}]}"#
                .utf8)
        #expect(IngestRefusal.reason(in: conflict) == "schema-unknown")
        #expect(
            IngestRefusal.decode(status: 409, body: conflict)
                == .schemaUnknown(schemaIDs: [0xff, 0xa01], batches: [.init(epoch: 7, sequence: 1)]))
        let malformed = Array(
            #"{"reason":"malformed","detail":"crc \"x\"","frame":1,"offset":40,"batch":{"epoch":7,"sequence":12}}"#.utf8
        )
        #expect(
            IngestRefusal.decode(status: 422, body: malformed)
                == .malformed(detail: #"crc "x""#, frame: 1, offset: 40, batch: .init(epoch: 7, sequence: 12)))
        #expect(IngestRefusal.decode(status: 422, body: conflict) == nil)
        #expect(
            BatchRuns.encode([.init(epoch: 7, sequence: 3), .init(epoch: 7, sequence: 4), .init(epoch: 7, sequence: 6)])
                == "7/3-4,7/6-6")
    }
}
