import Foundation
import Hummingbird
import HummingbirdTLS
import NIOCore
import NIOSSL

/// HTTPS, and optionally client certificates (mTLS), for `serve`. See docs/collector.md, "TLS and mTLS".
public struct CollectorTLS: Sendable {
    /// Whether a client must present a certificate once a client CA is set.
    public enum ClientAuth: String, Sendable, CaseIterable {
        /// The handshake fails without a certificate the client CA signed (every client: gateways, readers, scrapers).
        case required
        /// A certificate is checked if one is presented; without one, the client must use a token.
        case optional
    }

    /// PEM: the server's certificate (then any intermediates).
    public var certificatePath: String
    /// PEM: the server's private key.
    public var keyPath: String
    /// PEM: the CA(s) whose client certificates are accepted. nil: no client certificates (TLS only).
    public var clientCAPath: String?
    public var clientAuth: ClientAuth
    /// How the command line names these files, for error messages (`--tls`, or `--console-tls` for the console's).
    public var optionPrefix = "--tls"

    public init(
        certificatePath: String, keyPath: String, clientCAPath: String? = nil, clientAuth: ClientAuth = .required
    ) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.clientCAPath = clientCAPath
        self.clientAuth = clientAuth
    }

    public struct ConfigurationError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Loads the PEM files (so a bad path or file fails at start, with its name) and builds swift-nio-ssl's configuration.
    func tlsConfiguration() throws -> TLSConfiguration {
        func load<T>(_ what: String, _ path: String, _ body: () throws -> T) throws -> T {
            do { return try body() } catch { throw ConfigurationError(description: "\(what) \(path): \(error)") }
        }
        let chain = try load("\(optionPrefix)-cert", certificatePath) {
            try NIOSSLCertificate.fromPEMFile(certificatePath)
        }
        guard !chain.isEmpty else {
            throw ConfigurationError(description: "\(optionPrefix)-cert \(certificatePath): no certificate in the file")
        }
        let key = try load("\(optionPrefix)-key", keyPath) { try NIOSSLPrivateKey(file: keyPath, format: .pem) }
        var configuration: TLSConfiguration
        if let clientCAPath {
            let roots = try load("--tls-client-ca", clientCAPath) { try NIOSSLCertificate.fromPEMFile(clientCAPath) }
            guard !roots.isEmpty else {
                throw ConfigurationError(description: "--tls-client-ca \(clientCAPath): no certificate in the file")
            }
            configuration = .makeServerConfigurationWithMTLS(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key),
                trustRoots: .certificates(roots))
            // required: noHostnameVerification (BoringSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT); optional: verify if presented.
            if clientAuth == .optional { configuration.certificateVerification = .optionalVerification }
            configuration.sendCANameList = true
        } else {
            configuration = .makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        }
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}

/// The request context: Hummingbird's basic one, plus the connection, so a route can read the TLS peer's certificate.
public struct CollectorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The client's certificate, verified against the client CA during the handshake; nil without TLS or without one.
    func peerCertificate() async -> NIOSSLCertificate? {
        (try? await channel.nioSSL_peerCertificate().get()) ?? nil
    }
}

/// Which gateway a client certificate names.
enum CertificateIdentity {
    /// The gateway id in a client certificate: its subject's common name (the last CN, as BoringSSL reads it), or, for a
    /// certificate without a CN, its first DNS subject alternative name.
    static func gatewayName(_ certificate: NIOSSLCertificate) -> String? {
        if let der = try? certificate.toDERBytes(), let name = commonName(der: der), !name.isEmpty { return name }
        for name in certificate._subjectAlternativeNames() where name.nameType == .dnsName {
            return String(decoding: name.contents, as: UTF8.self)
        }
        return nil
    }

    private struct Element {
        var tag: UInt8
        var content: Range<Int>
    }

    /// One DER element at `offset`, within `limit`; nil if it does not fit.
    private static func element(_ der: [UInt8], at offset: Int, limit: Int) -> Element? {
        guard offset >= 0, offset + 2 <= limit, limit <= der.count else { return nil }
        let tag = der[offset]
        var position = offset + 2
        var length = Int(der[offset + 1])
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...4).contains(count), position + count <= limit else { return nil }
            length = 0
            for byte in der[position..<position + count] { length = length << 8 | Int(byte) }
            position += count
        }
        guard length <= limit - position else { return nil }
        return Element(tag: tag, content: position..<position + length)
    }

    private static func children(_ der: [UInt8], of parent: Element) -> [Element] {
        var result: [Element] = []
        var offset = parent.content.lowerBound
        while offset < parent.content.upperBound, let child = element(der, at: offset, limit: parent.content.upperBound)
        {
            result.append(child)
            offset = child.content.upperBound
        }
        return result
    }

    /// The subject's common name (OID 2.5.4.3) of a DER certificate: Certificate → TBSCertificate → [version], serial,
    /// signature, issuer, validity, subject → RDNs (SETs) → attributes (SEQUENCE of OID and string).
    static func commonName(der: [UInt8]) -> String? {
        guard let certificate = element(der, at: 0, limit: der.count), certificate.tag == 0x30,
            let tbs = children(der, of: certificate).first, tbs.tag == 0x30
        else { return nil }
        let fields = children(der, of: tbs)
        let first = fields.first?.tag == 0xA0 ? 1 : 0
        guard fields.count > first + 4, fields[first + 4].tag == 0x30 else { return nil }
        var name: String?
        for rdn in children(der, of: fields[first + 4]) where rdn.tag == 0x31 {
            for attribute in children(der, of: rdn) where attribute.tag == 0x30 {
                let parts = children(der, of: attribute)
                guard parts.count == 2, parts[0].tag == 0x06, Array(der[parts[0].content]) == [0x55, 0x04, 0x03] else {
                    continue
                }
                let bytes = Array(der[parts[1].content])
                switch parts[1].tag {
                // UTF8, Printable, IA5, Teletex
                case 0x0C, 0x13, 0x16, 0x14: name = String(decoding: bytes, as: UTF8.self)
                case 0x1E where bytes.count % 2 == 0:  // BMPString: UTF-16BE
                    name = String(
                        decoding: stride(from: 0, to: bytes.count, by: 2).map {
                            UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])
                        },
                        as: UTF16.self)
                default: continue
                }
            }
        }
        return name
    }
}
