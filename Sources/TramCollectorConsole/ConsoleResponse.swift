import Foundation
import Hummingbird
import TramCompression

/// Every console answer: its security headers, and its body gzip-compressed when the client accepts it.
enum ConsoleResponse {
    /// No inline script or style anywhere; plots are inline SVG elements (not images), icons `data:`.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        + "form-action 'self'; base-uri 'none'"

    /// HTTPTypes' field name, reached through HTTPFields (Hummingbird re-exports the collection, not its element).
    typealias HeaderName = HTTPFields.Element.Name

    static func securityHeaders(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[HeaderName("Referrer-Policy")!] = "same-origin"
        headers[HeaderName("X-Frame-Options")!] = "DENY"
        headers[HeaderName("Cross-Origin-Opener-Policy")!] = "same-origin"
    }

    /// Bodies shorter than this go as they are (the gzip header and trailer would outweigh the saving).
    static let compressFrom = 512

    /// A stream per answer: zlib's state is about 256 KB, allocated in microseconds, and a page is one compression.
    static func gzip(_ bytes: [UInt8]) -> [UInt8] { Gzip(level: 6).compress(bytes) }

    static func acceptsGzip(_ request: Request) -> Bool {
        guard let accept = request.headers[.acceptEncoding]?.lowercased() else { return false }
        return accept.split(separator: ",").contains { part in
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.first == "gzip" else { return false }
            return !fields.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "") == "q=0" }
        }
    }

    static func make(
        _ request: Request, status: HTTPResponse.Status = .ok, contentType: String, body: [UInt8],
        headers extra: HTTPFields = [:], compressed precompressed: [UInt8]? = nil
    ) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
        headers[.vary] = "Accept-Encoding"
        var bytes = body
        if acceptsGzip(request), body.count >= compressFrom {
            bytes = precompressed ?? gzip(body)
            headers[.contentEncoding] = "gzip"
        }
        headers[.contentLength] = String(bytes.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func html(
        _ request: Request, _ page: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) -> Response {
        make(request, status: status, contentType: "text/html; charset=utf-8", body: Array(page.utf8), headers: headers)
    }
}

/// Adds the security headers to every answer, the router's own 404s included, and gives those a page.
struct ConsoleHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let notFound: @Sendable (Request) -> Response

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            response = notFound(request)
        }
        ConsoleResponse.securityHeaders(&response.headers)
        return response
    }
}
