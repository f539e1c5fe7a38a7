/// The HTTP headers and media type of `POST /v1/ingest` (docs/collector.md, "HTTP contract").
public enum IngestHeader {
    /// The gateway the frames come from; the collector refuses (403) a name other than its credential's.
    public static let gateway = "Tram-Gateway"
    /// The batches in the body, as ``BatchRuns`` text (`epoch/first-last`, comma-separated): for logs on both ends.
    public static let batches = "Tram-Batches"
    /// The body's media type: whole Tram frames back to back. The collector refuses another type (415).
    public static let frameMediaType = "application/x-tram-frames"
    /// On every ingest answer, and on `GET /v1/ingest`'s: the wire format versions the collector accepts (``WireVersions``).
    public static let wireVersions = "Tram-Wire-Versions"
}

/// The `Tram-Wire-Versions` header's value: the wire format versions a collector accepts, as `1, 2`
/// (docs/wire-format.md, "Who may receive version 2").
public enum WireVersions {
    public static func render(_ versions: some Sequence<UInt8>) -> String {
        versions.map(String.init).joined(separator: ", ")
    }

    /// The versions named in `text`, rising; what is not a version (1–255) is skipped.
    public static func parse(_ text: String) -> [UInt8] {
        Array(Set(text.split(separator: ",").compactMap { UInt8($0.trimmingCharacters()) }.filter { $0 > 0 })).sorted()
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> Substring {
        var text = self
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return text
    }
}
