import InMemoryLogging
import Logging
import Testing
import TramCollector

@Suite("Collector log levels of refused ingest")
struct RefusalLogTests {
    @Test("a 409 schema-unknown (first contact) is logged at info; a real refusal (401) stays a warning")
    func schemaUnknownIsInfo() async throws {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        let collector = try await LiveCollector.start(
            logger: Logger(label: "tram-collector-test") { [handler] _ in handler })
        defer { Task { await collector.stop() } }
        let token = try enroll(collector.databasePath)
        #expect(try await collector.post(try meterBatch(1), token: token).status == 409)
        #expect(try await collector.post(try meterBatch(1), token: "tramgw_unknown").status == 401)
        let refusals = handler.entries.filter { $0.message == "ingest refused" }
        #expect(refusals.map { $0.metadata["status"].map { "\($0)" } } == ["409", "401"])
        #expect(refusals.map(\.level) == [.info, .warning])
    }
}
