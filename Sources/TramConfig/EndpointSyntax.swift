import TramCore
/// Parses link URLs: `tcp://host:port`, `rtu:///dev/ttyUSB0`, `rtu+tcp://host:port`.
enum EndpointSyntax {
    enum Parsed {
        case tcp(host: String, port: Int)
        case rtu(device: String)
        case rtuOverTCP(host: String, port: Int)
    }

    static let schemes = ["tcp", "rtu", "rtu+tcp"]

    /// The endpoint, or a sentence saying what was expected.
    static func parse(_ text: String) -> Result<Parsed, EndpointError> {
        guard let separator = text.firstByteRange(of: "://") else {
            return .failure(
                EndpointError(
                    "'\(text)' is not a link URL; expected tcp://host:port, rtu:///dev/ttyX or rtu+tcp://host:port"))
        }
        let scheme = String(text[..<separator.lowerBound]).lowercased()
        let rest = String(text[separator.upperBound...])
        switch scheme {
        case "tcp", "rtu+tcp":
            guard let (host, port) = hostPort(rest, defaultPort: scheme == "tcp" ? 502 : nil) else {
                return .failure(
                    EndpointError(
                        "'\(text)' needs host:port\(scheme == "tcp" ? " (port defaults to 502)" : ""), with a port from 1 to 65535"
                    ))
            }
            return .success(scheme == "tcp" ? .tcp(host: host, port: port) : .rtuOverTCP(host: host, port: port))
        case "rtu":
            guard rest.hasPrefix("/"), rest.count > 1 else {
                return .failure(EndpointError("'\(text)' needs a device path, as in rtu:///dev/ttyUSB0"))
            }
            return .success(.rtu(device: rest))
        default:
            return .failure(
                EndpointError(
                    "unknown link scheme '\(scheme)'; expected one of \(schemes.joined(separator: ", "))\(Suggestion.hint(for: scheme, among: schemes))"
                ))
        }
    }

    /// `host:port`, `[v6]:port`, or `host` with a default port.
    static func hostPort(_ text: String, defaultPort: Int?) -> (String, Int)? {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(Character("/")) else { return nil }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { return nil }
            return (String(host), port)
        }
        guard let defaultPort else { return nil }
        return (String(host), defaultPort)
    }
}

struct EndpointError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
