import Foundation

/// An HTTP/1.1 reply as a blocking client reads it off a socket: the relay's (RelayHTTP), and the loopback client of
/// the collector's tests and benchmark (TramCollectorTestSupport).
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: String

    public init(status: Int, headers: [String: String], body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public struct Failure: Error, CustomStringConvertible {
        public var what: String
        public var description: String { what }
        public init(what: String) { self.what = what }
    }

    /// The reply in `bytes` once its head is complete; `complete` when the body has all its Content-Length.
    public static func parse(_ bytes: [UInt8]) -> (reply: HTTPReply, complete: Bool)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4,
            let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == separator })
        else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let body = Array(bytes[(end + 4)...])
        let length = headers["content-length"].flatMap { Int($0) }
        let complete = length.map { body.count >= $0 } ?? false
        return (
            HTTPReply(
                status: status, headers: headers,
                body: String(decoding: body.prefix(length ?? body.count), as: UTF8.self)), complete
        )
    }
}
