import Foundation

/// Where a relay writes, from `--relay-influx URL`.
public struct RelayTarget: Sendable, Equatable {
    /// The URL as given: also the relay's name in `relay_positions`, so its position survives restarts.
    public var name: String
    public var host: String
    public var port: Int
    /// Path and query to POST to, `precision=ms` included.
    public var path: String
    /// `Authorization` header value, if any (`Token …` for InfluxDB 2).
    public var authorization: String?
    public var measurement = "tram"
    /// Most readings read (and so sent) in one request.
    public var batchSize = 5000
    /// How often a relay that has caught up looks for new readings.
    public var pollInterval: Duration = .milliseconds(200)
    /// Retry backoff after a failure: from `minimumBackoff`, doubling up to `maximumBackoff`.
    public var minimumBackoff: Duration = .milliseconds(250)
    public var maximumBackoff: Duration = .seconds(30)

    /// `http://host:port` (InfluxDB v1 / VictoriaMetrics: `/write`), or a full write URL such as
    /// `http://host:8086/api/v2/write?org=O&bucket=B` (InfluxDB 2; its token from `TRAM_RELAY_TOKEN`).
    /// `precision=ms` is added to the query.
    public init(url: String, authorizationToken: String? = nil) throws {
        guard let parsed = URLComponents(string: url), parsed.scheme?.lowercased() == "http", let host = parsed.host,
            !host.isEmpty
        else {
            throw RelayError.badURL("\(url): use http://HOST[:PORT][/path] (https: put a TLS proxy in front)")
        }
        name = url
        self.host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        port = parsed.port ?? 80
        let base =
            parsed.percentEncodedPath.isEmpty || parsed.percentEncodedPath == "/" ? "/write" : parsed.percentEncodedPath
        var query = (parsed.percentEncodedQueryItems ?? []).filter { $0.name != "precision" }.map {
            "\($0.name)=\($0.value ?? "")"
        }
        query.append("precision=ms")
        path = base + "?" + query.joined(separator: "&")
        authorization = authorizationToken.map { "Token \($0)" }
    }
}

public enum RelayError: Error, CustomStringConvertible {
    case badURL(String)
    case refused(status: Int, body: String)

    public var description: String {
        switch self {
        case .badURL(let what): "bad relay URL: \(what)"
        case .refused(let status, let body): "the target answered \(status): \(body.prefix(300))"
        }
    }
}
