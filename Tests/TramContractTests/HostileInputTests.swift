import Testing
import TramControlProtocol
import TramIngestProtocol
import TramJSON
import TramTestSupport

/// Truncated and corrupted answers, as a broken peer or a hostile one might send: every reader answers with an error
/// or a value, never a trap.
@Suite("Contracts on hostile input")
struct HostileInputTests {
    static let samples: [[UInt8]] = [
        ControlProtocolTests.status.bytes,
        ControlCycles(
            cursor: 3, missed: 0, cycles: [.init(device: "m", health: "online", points: [ControlProtocolTests.point])]
        ).bytes,
        ControlReadResult(link: "l", roundTripNanoseconds: 5, outcome: .registers([1, 2, 3])).bytes,
        IngestRefusal.schemaUnknown(schemaIDs: [1, 2], batches: [.init(epoch: 1, sequence: 2)]).json.bytes,
        IngestRefusal.malformed(detail: "d", frame: 0, offset: 0, batch: .init(epoch: 1, sequence: 2)).json.bytes,
    ]

    @Test("mutated and truncated answers decode to an error or a value", arguments: 0..<samples.count)
    func mutations(_ sample: Int) {
        var random = SeededRandom(seed: UInt64(sample))
        let original = Self.samples[sample]
        for _ in 0..<2000 {
            var bytes = original
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            case 1:
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            default:
                let at = Int.random(in: 0...bytes.count, using: &random)
                bytes.insert(contentsOf: Array("[{\"\\u:,-0e".utf8).shuffled(using: &random), at: at)
            }
            _ = try? ControlStatus.decode(bytes)
            _ = try? ControlCycles.decode(bytes)
            _ = try? ControlReadResult.decode(bytes)
            for status in [200, 409, 413, 422, 429] { _ = IngestAnswer.decode(status: status, body: bytes) }
        }
    }

    @Test("huge numbers and counts in the right places are shape errors, not traps")
    func outOfRange() {
        let register = Array(#"{"link":"l","round_trip_ns":1,"registers":[65536]}"#.utf8)
        #expect(throws: ControlDecodingError.self) { try ControlReadResult.decode(register) }
        let negative = Array(#"{"link":"l","round_trip_ns":-1,"registers":[]}"#.utf8)
        #expect(throws: ControlDecodingError.self) { try ControlReadResult.decode(negative) }
        let cursor = Array(#"{"cursor":1e300,"missed":0,"cycles":[]}"#.utf8)
        #expect(throws: ControlDecodingError.self) { try ControlCycles.decode(cursor) }
        let retry = Array(#"{"reason":"rate-limited","retry_after":18446744073709551615}"#.utf8)
        #expect(IngestRefusal.decode(status: 429, body: retry) == .rateLimited(retryAfterSeconds: 0))
    }
}
