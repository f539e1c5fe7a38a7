import CCurl
import Logging
import Synchronization
import TramIngestProtocol
import TramCore
#if canImport(Glibc)
import Glibc
#endif

/// How the transport reaches the collector. Defaults suit a cellular link: a black-holed link is
/// noticed within 30 s (connect timeout or low-speed limit), and no request runs longer than 20 s.
public struct TransportOptions: Sendable {
    /// The full ingest URL, such as `https://collector.example:8443/v1/ingest`.
    public var url: String
    /// The gateway id, sent as `Tram-Gateway`.
    public var gateway: String
    /// The bearer token (already read from its file). Never logged, never part of an error message.
    public var token: String?
    /// A CA bundle (PEM) to verify the server with; nil uses the system store.
    public var caFile: String?
    /// mTLS: the client certificate and key (PEM).
    public var clientCertificate: String?
    public var clientKey: String?
    /// Public-key pinning, as curl takes it: `sha256//BASE64` (several joined by `;`) or a PEM/DER public key file.
    /// The server's key must match as well as its certificate verifying.
    public var pinnedPublicKey: String?
    /// `Authorization: <scheme> <token>`: `Bearer`, or `Token` for InfluxDB 2.
    public var authorizationScheme: String = "Bearer"
    /// The body's media type: Tram frames for the collector, `text/plain; charset=utf-8` for line protocol.
    public var contentType: String = IngestHeader.frameMediaType
    /// A bandwidth cap for uploads in bytes/s (nil: none). curl paces the body to it.
    public var maximumSendBytesPerSecond: Int?
    /// TLS verification. Turning it off is logged loudly at every transport start.
    public var verifyTLS: Bool = true
    public var connectTimeoutSeconds: Int = 10
    /// The whole request, connect included.
    public var requestTimeoutSeconds: Int = 20
    /// A transfer slower than this many bytes/s for `lowSpeedTimeSeconds` is abandoned (a stall).
    public var lowSpeedLimitBytesPerSecond: Int = 64
    public var lowSpeedTimeSeconds: Int = 10
    public var keepAliveIdleSeconds: Int = 15
    public var keepAliveIntervalSeconds: Int = 5

    public init(url: String, gateway: String, token: String?) {
        self.url = url
        self.gateway = gateway
        self.token = token
    }
}

/// What the server answered.
public struct TransportResponse: Sendable, Equatable {
    public var status: Int
    /// `Retry-After` in seconds (delta-seconds, or an HTTP date converted to seconds from now).
    public var retryAfterSeconds: Int?
    public var body: [UInt8]
    /// New connections this request opened (0: an existing connection was reused).
    public var newConnections: Int
    /// The `Tram-Wire-Versions` header: the wire format versions the sink accepts (nil: the answer did not say).
    public var wireVersions: [UInt8]? = nil

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request got no HTTP answer.
public enum TransportFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String {
        switch self {
        case .timeout(let detail): "timed out: \(detail)"
        case .connection(let detail): "connection failed: \(detail)"
        case .tls(let detail): "TLS refused: \(detail)"
        case .configuration(let detail): "misconfigured: \(detail)"
        }
    }

    /// The connect timeout, the overall timeout or the low-speed limit fired.
    case timeout(String)
    /// The connection could not be made or broke (refused, reset, no route, DNS).
    case connection(String)
    /// The server's certificate was refused, or ours could not be loaded: a configuration problem.
    case tls(String)
    /// The transport itself is misconfigured (bad URL, unsupported protocol, out of memory).
    case configuration(String)
}

/// Posts uploads to the collector through one long-lived libcurl easy handle, so the TCP connection
/// (and TLS session, and HTTP/2 connection) survives between batches.
///
/// **Blocking.** `post` blocks for up to `requestTimeoutSeconds`. Call it only from a thread the
/// uplink owns, never from Swift's cooperative pool. The handle is not thread-safe: one thread uses it.
///
/// **Global init.** libcurl's `curl_global_init` is not thread-safe. `CurlTransport.globalInit()` runs it
/// exactly once per process; the agent must call it from `main` before it starts any thread. The
/// initialiser calls it too (a no-op after the first time) as a safety net for tests and tools.
public final class CurlTransport {
    private static let initialised = Mutex<Bool>(false)

    /// Runs `curl_global_init` once per process. Call before starting threads.
    public static func globalInit() {
        initialised.withLock { done in
            guard !done else { return }
            let code = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
            precondition(code == CURLE_OK, "curl_global_init failed: \(code.rawValue)")
            done = true
        }
    }

    public let options: TransportOptions
    /// Set from another thread to abandon the request in flight within about a second (shutdown).
    public var cancellation: TransportCancellation?
    /// Bytes this transport put on the wire and took off it, HTTP headers and bodies both ways, failed requests
    /// included: what a metered link bills, less TLS and TCP framing.
    public private(set) var bytesOnWire = 0
    /// Where the last request spent its time (for `tramctl uplink test`).
    public private(set) var lastTimings = TransportTimings()
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let logger: Logger

    public init(_ options: TransportOptions, logger: Logger = Logger(label: "tram.uplink.transport"))
        throws(TransportFailure)
    {
        Self.globalInit()
        guard let handle = curl_easy_init() else { throw .configuration("curl_easy_init failed") }
        self.handle = handle
        self.options = options
        self.logger = logger
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        do throws(TransportFailure) { try configure() } catch {
            curl_easy_cleanup(handle)
            errorBuffer.deallocate()
            throw error
        }
        if !options.verifyTLS {
            logger.critical(
                "TLS VERIFICATION IS OFF for the uplink: anyone on the path can read and alter uploads",
                metadata: ["url": "\(options.url)"])
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    private func set(_ option: CURLoption, _ value: Int) throws(TransportFailure) {
        let code = tram_curl_setopt_long(handle, option, value)
        guard code == CURLE_OK else {
            throw .configuration("curl option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    private func set(_ option: CURLoption, _ value: String) throws(TransportFailure) {
        // curl copies string options (since 7.17), so the temporary C string may go.
        let code = tram_curl_setopt_string(handle, option, value)
        guard code == CURLE_OK else {
            throw .configuration("curl option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    /// Options that hold for every request on this handle.
    private func configure() throws(TransportFailure) {
        try set(CURLOPT_URL, options.url)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_POST, 1)
        try set(CURLOPT_CONNECTTIMEOUT, options.connectTimeoutSeconds)
        try set(CURLOPT_TIMEOUT, options.requestTimeoutSeconds)
        try set(CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedLimitBytesPerSecond)
        try set(CURLOPT_LOW_SPEED_TIME, options.lowSpeedTimeSeconds)
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try set(CURLOPT_TCP_KEEPIDLE, options.keepAliveIdleSeconds)
        try set(CURLOPT_TCP_KEEPINTVL, options.keepAliveIntervalSeconds)
        try set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_SSL_VERIFYPEER, options.verifyTLS ? 1 : 0)
        try set(CURLOPT_SSL_VERIFYHOST, options.verifyTLS ? 2 : 0)
        if let caFile = options.caFile { try set(CURLOPT_CAINFO, caFile) }
        if let certificate = options.clientCertificate { try set(CURLOPT_SSLCERT, certificate) }
        if let key = options.clientKey { try set(CURLOPT_SSLKEY, key) }
        if let pin = options.pinnedPublicKey { try set(CURLOPT_PINNEDPUBLICKEY, pin) }
        if let cap = options.maximumSendBytesPerSecond, cap > 0 {
            let code = tram_curl_setopt_off(handle, CURLOPT_MAX_SEND_SPEED_LARGE, curl_off_t(cap))
            guard code == CURLE_OK else {
                throw .configuration("curl bandwidth cap: \(String(cString: curl_easy_strerror(code)))")
            }
        }
        let code = tram_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        guard code == CURLE_OK else { throw .configuration("curl error buffer") }
        guard tram_curl_setopt_write_callback(handle, curlWrite) == CURLE_OK,
            tram_curl_setopt_header_callback(handle, curlHeader) == CURLE_OK,
            tram_curl_setopt_xferinfo_callback(handle, curlProgress) == CURLE_OK
        else { throw .configuration("curl callbacks") }
        try set(CURLOPT_NOPROGRESS, 0)
    }

    /// POSTs `body` (whole frames) and returns the answer. Blocks; see the type's note.
    /// - Parameter batches: the `Tram-Batches` header's value, `epoch/first-last`.
    public func post(_ body: [UInt8], batches: String, contentEncoding: String? = nil) -> Result<
        TransportResponse, TransportFailure
    > {
        var lines = [
            "Content-Type: \(options.contentType)", "\(IngestHeader.gateway): \(options.gateway)",
            "\(IngestHeader.batches): \(batches)",
            // Without it curl waits up to a second for "100 Continue" before bodies over 1 MB.
            "Expect:",
        ]
        if let contentEncoding { lines.append("Content-Encoding: \(contentEncoding)") }
        if let token = options.token { lines.append("Authorization: \(options.authorizationScheme) \(token)") }
        return perform(body: body, headers: lines, what: batches)
    }

    /// Asks the sink which wire format versions it accepts: `GET` on the ingest URL, no body (docs/wire-format.md,
    /// "Who may receive version 2"). Blocks, like `post`.
    public func askWireVersions() -> Result<TransportResponse, TransportFailure> {
        var lines = ["\(IngestHeader.gateway): \(options.gateway)"]
        if let token = options.token { lines.append("Authorization: \(options.authorizationScheme) \(token)") }
        return perform(body: nil, headers: lines, what: "wire versions")
    }

    /// One request on the handle: a POST of `body`, or a GET when it is nil (the handle stays a POST handle).
    private func perform(body: [UInt8]?, headers lines: [String], what: String) -> Result<
        TransportResponse, TransportFailure
    > {
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        for line in lines { headers = curl_slist_append(headers, line) }
        defer { curl_slist_free_all(headers) }

        let collected = Collected(cancellation: cancellation)
        let context = Unmanaged.passRetained(collected)
        defer { context.release() }
        errorBuffer[0] = 0
        let code: CURLcode = (body ?? []).withUnsafeBytes { bytes in
            _ = tram_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
            _ = tram_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
            _ = tram_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque())
            _ = tram_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context.toOpaque())
            if body == nil {
                _ = try? set(CURLOPT_HTTPGET, 1)
            } else {
                // POSTFIELDS does not copy: the buffer lives until perform returns.
                _ = tram_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                _ = tram_curl_setopt_pointer(
                    handle, CURLOPT_POSTFIELDS,
                    UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(errorBuffer)))
            }
            let code = curl_easy_perform(handle)
            // Nothing may point at the freed body or headers afterwards, and the handle goes back to POST.
            _ = tram_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
            _ = tram_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
            if body == nil { _ = try? set(CURLOPT_POST, 1) }
            return code
        }
        bytesOnWire += transferredBytes()
        lastTimings = timings()
        guard code == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            let failure = Self.classify(code, detail: detail)
            logger.warning(
                "uplink request failed",
                metadata: ["url": "\(options.url)", "batches": "\(what)", "error": "\(detail)"])
            return .failure(failure)
        }
        var status = 0
        _ = tram_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var connects = 0
        _ = tram_curl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        return .success(
            TransportResponse(
                status: status, retryAfterSeconds: collected.retryAfterSeconds, body: collected.body,
                newConnections: connects, wireVersions: collected.wireVersions))
    }

    private func timings() -> TransportTimings {
        func read(_ info: CURLINFO) -> Double {
            var microseconds: curl_off_t = 0
            _ = tram_curl_getinfo_off(handle, info, &microseconds)
            return Double(microseconds) / 1000
        }
        var address: UnsafeMutablePointer<CChar>?
        _ = tram_curl_getinfo_string(handle, CURLINFO_PRIMARY_IP, &address)
        var version = 0
        _ = tram_curl_getinfo_long(handle, CURLINFO_HTTP_VERSION, &version)
        return TransportTimings(
            dnsMilliseconds: read(CURLINFO_NAMELOOKUP_TIME_T), connectMilliseconds: read(CURLINFO_CONNECT_TIME_T),
            tlsMilliseconds: read(CURLINFO_APPCONNECT_TIME_T),
            firstByteMilliseconds: read(CURLINFO_STARTTRANSFER_TIME_T),
            totalMilliseconds: read(CURLINFO_TOTAL_TIME_T), remoteAddress: address.map { String(cString: $0) } ?? "",
            httpVersion: version == CURL_HTTP_VERSION_2_0
                ? "HTTP/2" : version == CURL_HTTP_VERSION_1_1 ? "HTTP/1.1" : "")
    }

    /// Headers and bodies of the last request, both ways.
    private func transferredBytes() -> Int {
        var uploaded: curl_off_t = 0, downloaded: curl_off_t = 0
        var requestHeaders = 0, responseHeaders = 0
        _ = tram_curl_getinfo_off(handle, CURLINFO_SIZE_UPLOAD_T, &uploaded)
        _ = tram_curl_getinfo_off(handle, CURLINFO_SIZE_DOWNLOAD_T, &downloaded)
        _ = tram_curl_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &requestHeaders)
        _ = tram_curl_getinfo_long(handle, CURLINFO_HEADER_SIZE, &responseHeaders)
        // curl counts a small POST body (under 64 KiB, sent with the headers) in the request size too.
        let sent = requestHeaders >= Int(uploaded) ? requestHeaders : requestHeaders + Int(uploaded)
        return sent + Int(downloaded) + responseHeaders
    }

    static func classify(_ code: CURLcode, detail: String) -> TransportFailure {
        // The server's TLS stack refused us with an alert (mTLS without or with a bad client certificate, no common
        // protocol version): configuration, not the link. TLS 1.2 says so in the handshake, TLS 1.3 at the first read.
        if [CURLE_SSL_CONNECT_ERROR, CURLE_RECV_ERROR, CURLE_SEND_ERROR].contains(code), refusedByTLSAlert(detail) {
            return .tls(detail)
        }
        switch code {
        case CURLE_ABORTED_BY_CALLBACK: return .connection("abandoned: the uplink is stopping")
        case CURLE_OPERATION_TIMEDOUT: return .timeout(detail)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR:
            return .tls(detail)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN, CURLE_OUT_OF_MEMORY,
            CURLE_BAD_FUNCTION_ARGUMENT:
            return .configuration(detail)
        default:
            // Refused, reset, DNS, nothing received, a handshake cut short: the link, retried with backoff.
            return .connection(detail)
        }
    }

    /// OpenSSL's names for the alerts a server sends when it will not have this client (`tlsv13 alert certificate required`).
    static func refusedByTLSAlert(_ detail: String) -> Bool {
        [
            "alert certificate required", "alert bad certificate", "alert unknown ca", "alert certificate unknown",
            "alert certificate revoked", "alert certificate expired", "alert unsupported certificate",
            "alert access denied",
            "alert handshake failure", "alert protocol version", "alert insufficient security",
        ].contains { detail.containsBytes(of: $0) }
    }

    /// Parses a `Retry-After` value: delta-seconds, or an HTTP date (through `curl_getdate`).
    static func parseRetryAfter(_ value: String, now: Int = Int(time(nil))) -> Int? {
        let trimmed = value.trimmingASCIIWhitespace
        if let seconds = Int(trimmed) { return max(0, seconds) }
        let date = curl_getdate(trimmed, nil)
        guard date > 0 else { return nil }
        return max(0, Int(date) - now)
    }
}

/// What one request's callbacks collect.
final class Collected {
    var body: [UInt8] = []
    var retryAfterSeconds: Int?
    var wireVersions: [UInt8]?
    let cancellation: TransportCancellation?

    init(cancellation: TransportCancellation?) { self.cancellation = cancellation }

    func header(_ line: UnsafeBufferPointer<UInt8>) {
        // A new status line (an interim 1xx answer came first): forget headers seen so far.
        if line.starts(with: "HTTP/".utf8) {
            retryAfterSeconds = nil
            wireVersions = nil
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
        switch name {
        case "retry-after": retryAfterSeconds = CurlTransport.parseRetryAfter(value)
        case IngestHeader.wireVersions.lowercased():
            wireVersions = WireVersions.parse(value)
        default: break
        }
    }
}

private let curlWrite: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data, let context else { return 0 }
    let collected = Unmanaged<Collected>.fromOpaque(context).takeUnretainedValue()
    data.withMemoryRebound(to: UInt8.self, capacity: size * count) {
        collected.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size * count))
    }
    return size * count
}

private let curlHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data, let context else { return 0 }
    let collected = Unmanaged<Collected>.fromOpaque(context).takeUnretainedValue()
    data.withMemoryRebound(to: UInt8.self, capacity: size * count) {
        collected.header(UnsafeBufferPointer(start: $0, count: size * count))
    }
    return size * count
}

/// Called by curl about once a second, and whenever data moves: a non-zero answer abandons the request.
private let curlProgress:
    @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
        context, _, _, _, _ in
        guard let context else { return 0 }
        let collected = Unmanaged<Collected>.fromOpaque(context).takeUnretainedValue()
        return collected.cancellation?.isCancelled == true ? 1 : 0
    }

/// Cumulative milliseconds from the start of a request to each phase's end, as curl measures them
/// (0 for a phase that did not happen, such as TLS on http://).
public struct TransportTimings: Sendable, Equatable {
    public var dnsMilliseconds: Double = 0
    public var connectMilliseconds: Double = 0
    public var tlsMilliseconds: Double = 0
    public var firstByteMilliseconds: Double = 0
    public var totalMilliseconds: Double = 0
    public var remoteAddress = ""
    public var httpVersion = ""

    public init(
        dnsMilliseconds: Double = 0, connectMilliseconds: Double = 0, tlsMilliseconds: Double = 0,
        firstByteMilliseconds: Double = 0,
        totalMilliseconds: Double = 0, remoteAddress: String = "", httpVersion: String = ""
    ) {
        self.dnsMilliseconds = dnsMilliseconds
        self.connectMilliseconds = connectMilliseconds
        self.tlsMilliseconds = tlsMilliseconds
        self.firstByteMilliseconds = firstByteMilliseconds
        self.totalMilliseconds = totalMilliseconds
        self.remoteAddress = remoteAddress
        self.httpVersion = httpVersion
    }
}

/// Lets another thread abandon a transport's request in flight (the uplink stopping for shutdown).
public final class TransportCancellation: Sendable {
    private let cancelled = Atomic<Bool>(false)

    public init() {}

    public func cancel() { cancelled.store(true, ordering: .releasing) }

    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
}

extension String {
    var trimmingASCIIWhitespace: String {
        let bytes = Array(utf8)
        let isSpace = { (b: UInt8) in b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
