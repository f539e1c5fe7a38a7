import TramCollectorStore

extension CollectorStore {
    /// Stores what ``IngestParser`` made of a request body (the store itself knows decoded frames, not the parser).
    func store(_ parsed: IngestParser.Parsed, gateway: Int64, bytes: Int = 0, now: Int64) throws -> IngestSummary {
        try store(dictionaries: parsed.dictionaries, batches: parsed.batches, gateway: gateway, bytes: bytes, now: now)
    }
}
