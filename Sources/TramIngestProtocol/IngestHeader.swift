/// The HTTP headers and media type of `POST /v1/ingest` (docs/collector.md, "HTTP contract").
public enum IngestHeader {
    /// The gateway the frames come from; the collector refuses (403) a name other than its credential's.
    public static let gateway = "Tram-Gateway"
    /// The batches in the body, as ``BatchRuns`` text (`epoch/first-last`, comma-separated): for logs on both ends.
    public static let batches = "Tram-Batches"
    /// The body's media type: whole Tram frames back to back. The collector refuses another type (415).
    public static let frameMediaType = "application/x-tram-frames"
}
