import Testing
import TramCollectorStore
import TramSchema

/// What ingest keeps beside the readings and rollups: each gateway's clock state and the hour tallies.
@Suite("Ingest state: the gateway's clock and the hour tallies")
struct IngestStateTests {
    static let dictionary = SchemaDictionary(
        gateway: "gw-c", points: [PointDescriptor(device: "d", name: "p", unit: "", type: .uint16)])

    @Test("the clock state is the newest group's synchronised bit, since the first group of its run")
    func clock() throws {
        let path = LiveCollector.temporaryDatabase()
        let store = try CollectorStore(path: path)
        _ = try store.addGateway("gw-c", now: 0)
        let t: Int64 = 1_764_028_800_000  // a UTC midnight
        let hour: Int64 = 3_600_000
        var sequence: UInt64 = 0
        func request(_ groups: [(Int64, ClockFlags)], now: Int64) throws {
            let frame = try Frames.batch(
                Self.dictionary, epoch: 1, sequence: sequence, groups: groups.map { ($0.0, $0.1, 0, [.uint(1)]) })
            guard case .batch(let batch) = try FrameDecoder.decode(frame, dictionary: { _ in Self.dictionary }).frame
            else { return }
            _ = try store.store(
                dictionaries: sequence == 0
                    ? [(Self.dictionary, Self.dictionary.schemaID, Self.dictionary.frame())] : [],
                batches: [batch], gateway: 1, bytes: 100, now: now)
            sequence += 1
        }
        func state() throws -> [AnyHashable?] { try Peek(path).rows("SELECT clock, clock_since_ms FROM gateways")[0] }
        #expect(try state() == [nil, nil])
        try request([(t + 1_000, .synchronised), (t + 2_000, .synchronised)], now: t + 10 * hour)
        #expect(try state() == [Int64(1), t + 1_000])
        try request([(t + 3_000, []), (t + 4_000, [.stepped])], now: t + 10 * hour)  // stepped: not synchronised
        #expect(try state() == [Int64(0), t + 3_000])
        try request([(t + 5_000, [])], now: t + 11 * hour)
        #expect(try state() == [Int64(0), t + 3_000])
        // In a request the order is by time: the newest (t + 9,000) is synchronised, its run starts at t + 7,000.
        try request(
            [(t + 9_000, .synchronised), (t + 6_000, []), (t + 7_000, [.synchronised, .stepped])], now: t + 10 * hour)
        #expect(try state() == [Int64(1), t + 7_000])
        // An unsynchronised clock stamping the future: "since" is when the request came.
        try request([(t + 100 * hour, [])], now: t + 30 * hour)
        #expect(try state() == [Int64(0), t + 30 * hour])
        // The hour tallies: one row per hour of arrival; the day tallies (the read API's) are their sums.
        #expect(
            try Peek(path).rows("SELECT hour, batches, bytes, readings FROM ingest_hours ORDER BY hour") == [
                [t / hour + 10, Int64(3), Int64(300), Int64(7)], [t / hour + 11, Int64(1), Int64(100), Int64(1)],
                [t / hour + 30, Int64(1), Int64(100), Int64(1)],
            ])
        let days = try store.tallies(gateway: "gw-c", days: 31)
        #expect(days.map(\.day) == [t / 86_400_000 + 1, t / 86_400_000])
        #expect(days.map(\.batches) == [1, 4] && days.map(\.bytes) == [100, 400] && days.map(\.readings) == [1, 8])
    }
}
