import CCurl
import Foundation
import Logging
import Testing
import TramSpool
@testable import TramUplink

/// Throwaway certificates made with the `openssl` CLI in a temporary directory (P-256 keys, valid one day):
/// CAs, server certificates with chosen names, gateway client certificates, and curl-style key pins.
final class TestPKI {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tram-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    struct OpenSSLFailed: Error, CustomStringConvertible { let description: String }

    func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OpenSSLFailed(
                description: "openssl \(arguments.joined(separator: " ")): \(String(decoding: message, as: UTF8.self))")
        }
    }

    /// A self-signed CA: `NAME.pem`, `NAME.key`.
    @discardableResult
    func authority(_ name: String) throws -> String {
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=Tram test \(name)", "-keyout", "\(name).key", "-out", "\(name).pem",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        return path("\(name).pem")
    }

    /// A certificate signed by `ca`: returns the certificate's and key's paths.
    func issue(_ stem: String, subject: String, extensions: String, ca: String) throws -> (
        certificate: String, key: String
    ) {
        try Data((extensions + "\n").utf8).write(to: directory.appendingPathComponent("\(stem).ext"))
        try openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
            "-keyout", "\(stem).key", "-out", "\(stem).csr",
        ])
        try openssl([
            "x509", "-req", "-in", "\(stem).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
            "-days", "1", "-extfile", "\(stem).ext", "-out", "\(stem).pem",
        ])
        return (path("\(stem).pem"), path("\(stem).key"))
    }

    func server(_ stem: String, names: String, ca: String) throws -> (certificate: String, key: String) {
        try issue(
            stem, subject: "/CN=\(stem)", extensions: "subjectAltName=\(names)\nextendedKeyUsage=serverAuth", ca: ca)
    }

    func client(_ gateway: String, ca: String) throws -> (certificate: String, key: String) {
        try issue("client-\(gateway)", subject: "/CN=\(gateway)", extensions: "extendedKeyUsage=clientAuth", ca: ca)
    }

    /// `sha256//BASE64` of a certificate's public key (SubjectPublicKeyInfo, DER), as CURLOPT_PINNEDPUBLICKEY takes it.
    func pin(of certificate: String) throws -> String {
        let stem = UUID().uuidString
        try openssl(["x509", "-in", certificate, "-pubkey", "-noout", "-out", "\(stem).pub.pem"])
        try openssl(["pkey", "-pubin", "-in", "\(stem).pub.pem", "-outform", "der", "-out", "\(stem).pub.der"])
        try openssl(["dgst", "-sha256", "-binary", "-out", "\(stem).sha256", "\(stem).pub.der"])
        let digest = try Data(contentsOf: directory.appendingPathComponent("\(stem).sha256"))
        try #require(digest.count == 32)
        return "sha256//" + digest.base64EncodedString()
    }
}

/// HTTPS against the real `tram-collector`: verification of the server (CA, name, pinned key) and mTLS.
@Suite("Uplink over TLS to the real collector", .serialized)
struct UplinkTLSTests {
    /// The collector over HTTPS with `server` (certificate, key) and the extra flags, with gateway `gw-t` enrolled.
    static func collector(_ server: (certificate: String, key: String), _ extra: [String] = []) throws -> (
        CollectorProcess, token: String
    ) {
        let collector = try CollectorProcess(
            extra: ["--tls-cert", server.certificate, "--tls-key", server.key] + extra)
        return (collector, try collector.enroll("gw-t"))
    }

    static func options(_ collector: CollectorProcess, host: String = "127.0.0.1", token: String?) -> TransportOptions {
        var options = TransportOptions(
            url: "https://\(host):\(collector.port)/v1/ingest", gateway: "gw-t", token: token)
        options.connectTimeoutSeconds = 5
        options.requestTimeoutSeconds = 10
        return options
    }

    /// One upload that the TLS layer must refuse: paused with a TLS reason, every batch kept, nothing stored,
    /// and the token in none of the log lines.
    static func expectRefusedByTLS(
        _ options: TransportOptions, _ collector: CollectorProcess, _ filled: FilledSpool, because: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let logs = CapturedLogs()
        let uplink = Uplink(transport: try CurlTransport(options, logger: logs.logger("t")), logger: logs.logger("u"))
        let before = filled.spool.counters
        let report = uplink.deliverOnce(spool: filled.spool)
        #expect(report.status == nil, "no HTTP answer: \(report)", sourceLocation: sourceLocation)
        guard case .pause(let why)? = report.action, case .paused = uplink.state else {
            Issue.record(
                "a TLS refusal must pause delivery, got \(String(describing: report.action))",
                sourceLocation: sourceLocation)
            return
        }
        #expect(why.hasPrefix("TLS refused") && why.contains(because), "\(why)", sourceLocation: sourceLocation)
        #expect(report.waitMilliseconds == uplink.pauseMilliseconds, sourceLocation: sourceLocation)
        #expect(report.batches.count == Int(before.buffered.batches), sourceLocation: sourceLocation)
        #expect(filled.spool.counters == before, "every batch kept", sourceLocation: sourceLocation)
        #expect(try collector.query("SELECT count(*) FROM readings") == "0", sourceLocation: sourceLocation)
        #expect(logs.text.contains("uplink paused"), sourceLocation: sourceLocation)
        if let token = options.token {
            #expect(!logs.text.contains(token), "the token leaked into the logs", sourceLocation: sourceLocation)
            #expect(!logs.text.contains(String(token.dropFirst(7))), sourceLocation: sourceLocation)
        }
    }

    /// Delivers with `options` and expects every buffered batch to be stored by the collector.
    static func expectDelivers(
        _ options: TransportOptions, _ collector: CollectorProcess, _ filled: FilledSpool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let uplink = Uplink(transport: try CurlTransport(options, logger: quietLogger("t")), logger: quietLogger("u"))
        let report = uplink.deliverOnce(spool: filled.spool)
        #expect(report.status == 200 && report.action == .acknowledge, "\(report)", sourceLocation: sourceLocation)
        let counters = filled.spool.counters
        #expect(
            counters.delivered == counters.appended && counters.buffered == Tally() && counters.balances,
            sourceLocation: sourceLocation)
        #expect(
            try collector.query("SELECT count(*) FROM readings") == "\(filled.readings)", sourceLocation: sourceLocation
        )
    }

    @Test("the CA that signed the server's certificate: delivered and acknowledged; the connection is reused")
    func rightAuthorityDelivers() throws {
        let pki = try TestPKI()
        let ca = try pki.authority("ca")
        let (collector, token) = try Self.collector(
            try pki.server("server", names: "DNS:localhost,IP:127.0.0.1", ca: "ca"))
        let filled = try FilledSpool(gateway: "gw-t")
        try filled.append(3)
        var options = Self.options(collector, token: token)
        options.caFile = ca
        let uplink = Uplink(transport: try CurlTransport(options, logger: quietLogger("t")), logger: quietLogger("u"))
        let first = uplink.deliverOnce(spool: filled.spool)
        #expect(first.status == 200 && first.action == .acknowledge && first.dictionariesSent == 1)
        try filled.append(2)
        let second = uplink.deliverOnce(spool: filled.spool)
        #expect(second.action == .acknowledge && second.newConnections == 0, "\(second)")
        #expect(filled.spool.counters.delivered == Tally(readings: 60, batches: 5))
        #expect(try collector.query("SELECT count(*) FROM readings") == "60")

        // Through a name in the certificate's SAN as well.
        try filled.append(1)
        var byName = Self.options(collector, host: "localhost", token: token)
        byName.caFile = ca
        try Self.expectDelivers(byName, collector, filled)
    }

    @Test(
        "a CA that did not sign the server's certificate: paused with a TLS reason, every batch kept, token not logged")
    func wrongAuthorityPauses() throws {
        let pki = try TestPKI()
        let ca = try pki.authority("ca")
        let other = try pki.authority("other")
        let (collector, token) = try Self.collector(
            try pki.server("server", names: "DNS:localhost,IP:127.0.0.1", ca: "ca"))
        let filled = try FilledSpool(gateway: "gw-t")
        try filled.append(4)
        var wrong = Self.options(collector, token: token)
        wrong.caFile = other
        try Self.expectRefusedByTLS(wrong, collector, filled, because: "certificate problem")
        // The system store does not know the throwaway CA either.
        try Self.expectRefusedByTLS(
            Self.options(collector, token: token), collector, filled, because: "certificate problem")

        var right = Self.options(collector, token: token)
        right.caFile = ca
        try Self.expectDelivers(right, collector, filled)
    }

    @Test("a certificate for another name is refused, by IP and by host name; every batch kept")
    func wrongNamePauses() throws {
        let pki = try TestPKI()
        let ca = try pki.authority("ca")
        let (collector, token) = try Self.collector(
            try pki.server("server", names: "DNS:collector.other.example,IP:127.0.0.2", ca: "ca"))
        let filled = try FilledSpool(gateway: "gw-t")
        try filled.append(2)
        for host in ["127.0.0.1", "localhost"] {
            var options = Self.options(collector, host: host, token: token)
            options.caFile = ca
            try Self.expectRefusedByTLS(options, collector, filled, because: "subject name")
        }
    }

    @Test("mTLS required: without a client certificate the handshake is refused (paused, kept); with one, delivered")
    func mutualTLS() throws {
        let pki = try TestPKI()
        let ca = try pki.authority("ca")
        let (collector, token) = try Self.collector(
            try pki.server("server", names: "DNS:localhost,IP:127.0.0.1", ca: "ca"),
            ["--tls-client-ca", ca, "--tls-client-auth", "required"])
        let client = try pki.client("gw-t", ca: "ca")
        let filled = try FilledSpool(gateway: "gw-t")
        try filled.append(3)

        var without = Self.options(collector, token: token)
        without.caFile = ca
        // TLS 1.3: our handshake completes, and the server's "certificate required" alert comes at the first read.
        let direct = try CurlTransport(without, logger: quietLogger("t")).post([], batches: "0/0-0")
        guard case .failure(.tls(let detail)) = direct else {
            Issue.record("a refused client must be a TLS failure, got \(direct)"); return
        }
        #expect(detail.contains("alert"), "\(detail)")
        try Self.expectRefusedByTLS(without, collector, filled, because: "alert certificate required")

        // The certificate alone authenticates the gateway: no token.
        var with = Self.options(collector, token: nil)
        with.caFile = ca
        with.clientCertificate = client.certificate
        with.clientKey = client.key
        try Self.expectDelivers(with, collector, filled)
    }

    @Test("a TLS alert refusing this client is a TLS failure (pause); a handshake cut short by the link is not")
    func alertClassification() {
        // curl's messages with OpenSSL 3 for mTLS without a certificate under TLS 1.2 and 1.3, and for a reset mid-handshake.
        let tls12 = "OpenSSL/3.0.19: error:0A000410:SSL routines::sslv3 alert handshake failure"
        let tls13 =
            "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0"
        let reset = "OpenSSL SSL_connect: Connection reset by peer in connection to 127.0.0.1:8443"
        #expect(CurlTransport.classify(CURLE_SSL_CONNECT_ERROR, detail: tls12) == .tls(tls12))
        #expect(CurlTransport.classify(CURLE_RECV_ERROR, detail: tls13) == .tls(tls13))
        #expect(CurlTransport.classify(CURLE_SSL_CONNECT_ERROR, detail: reset) == .connection(reset))
        #expect(
            CurlTransport.classify(CURLE_RECV_ERROR, detail: "Recv failure: Connection reset by peer")
                == .connection("Recv failure: Connection reset by peer"))
        #expect(
            DeliveryDecision.decide(.failed(.tls(tls13)), sink: .collector, batches: 3)
                != .retry(retryAfterSeconds: nil))
    }

    @Test("public-key pinning: another key is refused (paused, kept); the server's own key delivers")
    func pinnedPublicKey() throws {
        let pki = try TestPKI()
        let ca = try pki.authority("ca")
        let server = try pki.server("server", names: "DNS:localhost,IP:127.0.0.1", ca: "ca")
        let (collector, token) = try Self.collector(server)
        let filled = try FilledSpool(gateway: "gw-t")
        try filled.append(3)
        let rightPin = try pki.pin(of: server.certificate)
        // A key from the same CA's family that is not the server's: the certificate verifies, the pin does not.
        let wrongPin = try pki.pin(
            of: try pki.server("impostor", names: "DNS:localhost,IP:127.0.0.1", ca: "ca").certificate)
        #expect(rightPin != wrongPin)

        let direct = try CurlTransport(
            {
                var o = Self.options(collector, token: token); o.caFile = ca; o.pinnedPublicKey = wrongPin; return o
            }(),
            logger: quietLogger("t")
        ).post([], batches: "0/0-0")
        guard case .failure(.tls(let detail)) = direct else {
            Issue.record("a pin mismatch must be a TLS failure, got \(direct)"); return
        }
        #expect(detail.contains("pinned"), "\(detail)")

        var wrong = Self.options(collector, token: token)
        wrong.caFile = ca
        wrong.pinnedPublicKey = wrongPin
        try Self.expectRefusedByTLS(wrong, collector, filled, because: "pinned public key")

        var right = Self.options(collector, token: token)
        right.caFile = ca
        right.pinnedPublicKey = "\(wrongPin);\(rightPin)"  // one of several pins is enough (a key rollover)
        try Self.expectDelivers(right, collector, filled)
    }
}
