import TramCompression
import TramSchema

/// Splits an ingest body into frames and decodes them, without touching the store.
///
/// The body is whole Tram frames back to back. Dictionaries in the body serve batches after them in the same body.
/// Every frame must name the authenticated gateway. A batch whose schema is neither in the body nor known is
/// *unknown* (409), not malformed: it may well be fine once its dictionary arrives.
public enum IngestParser {
    public struct Parsed: Sendable {
        public var dictionaries: [(dictionary: SchemaDictionary, schemaID: UInt64, frame: [UInt8])] = []
        public var batches: [DecodedBatch] = []
        /// Bytes the frames' payloads took once decompressed.
        public var decodedBytes = 0
    }

    public enum Failure: Error, Sendable, Equatable {
        /// The frames themselves are malformed: the only answer after which an agent may set a batch aside.
        case malformed(detail: String, frame: Int, offset: Int, batch: BatchIdentity?)
        /// A frame names another gateway than the one whose token came with it.
        case otherGateway(claimed: String, frame: Int)
        /// Batches whose dictionaries the collector does not have (first one first).
        case schemaUnknown(schemaIDs: [UInt64], batches: [BatchIdentity])
        /// The frames are fine, but together they decode to more than one request may (413: send fewer at a time).
        case decodedTooLarge(frame: Int, limit: Int)
        /// A frame of a wire format version the collector does not accept (or know): not malformed, and never to be
        /// set aside for it.
        case unsupportedVersion(version: UInt8, frame: Int)
    }

    /// - Parameters:
    ///   - maximumFrameDecodedSize: the most one frame's payload may expand to (the decompression-bomb cap). A frame
    ///     that claims more is malformed: no Tram encoder writes one (the wire format caps payloads at
    ///     `FrameCodec.maximumPayload`), and it is refused from its header, before anything is allocated.
    ///   - maximumDecodedSize: the budget for the whole body's decoded payloads; over it the request is too large.
    ///   - acceptedVersions: the wire format versions taken (`serve --wire-versions`); a frame of another is refused
    ///     before its payload is read.
    ///   - known: a dictionary the collector already stores for this gateway.
    public static func parse(
        _ body: [UInt8], gateway: String, maximumFrameDecodedSize: Int = FrameCodec.maximumPayload,
        maximumDecodedSize: Int, acceptedVersions: ClosedRange<UInt8> = Frame.versions,
        known: (UInt64) -> SchemaDictionary?
    ) -> Result<Parsed, Failure> {
        var parsed = Parsed()
        var inBody: [UInt64: SchemaDictionary] = [:]
        var unknownIDs: [UInt64] = []
        var unknownBatches: [BatchIdentity] = []
        var offset = 0
        var index = 0
        while offset < body.count {
            let frameSize: Int
            var version = Frame.version
            do {
                frameSize = try body.withUnsafeBytes { raw throws(WireError) -> Int in
                    let opened = try Frame.open(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                    version = opened.version
                    return opened.size
                }
            } catch WireError.unsupportedVersion(let unknown) {
                return .failure(.unsupportedVersion(version: unknown, frame: index))
            } catch {
                return .failure(.malformed(detail: "\(error)", frame: index, offset: offset, batch: nil))
            }
            guard acceptedVersions.contains(version) else {
                return .failure(.unsupportedVersion(version: version, frame: index))
            }
            let frame = Array(body[offset..<offset + frameSize])
            let plain: [UInt8]
            do {
                plain = try FrameCodec.decompress(frame, maximumDecodedSize: maximumFrameDecodedSize)
            } catch {
                return .failure(.malformed(detail: "\(error)", frame: index, offset: offset, batch: nil))
            }
            parsed.decodedBytes += plain.count - Frame.headerSize - Frame.trailerSize
            guard parsed.decodedBytes <= maximumDecodedSize else {
                return .failure(.decodedTooLarge(frame: index, limit: maximumDecodedSize))
            }
            var missing: UInt64?
            do {
                let decoded = try FrameDecoder.decode(plain) { id in
                    if let dictionary = inBody[id] ?? known(id) { return dictionary }
                    missing = id
                    return nil
                }.frame
                switch decoded {
                case .dictionary(let dictionary, let schemaID):
                    guard dictionary.gateway == gateway else {
                        return .failure(.otherGateway(claimed: dictionary.gateway, frame: index))
                    }
                    if inBody[schemaID] == nil {
                        inBody[schemaID] = dictionary
                        parsed.dictionaries.append((dictionary, schemaID, plain))
                    }
                case .batch(let batch):
                    guard batch.gateway == gateway else {
                        return .failure(.otherGateway(claimed: batch.gateway, frame: index))
                    }
                    parsed.batches.append(batch)
                }
            } catch {
                let identity = batchIdentity(plain)
                if let missing {
                    // The header parsed up to its schema id, and that is all that could be checked.
                    if let identity, identity.gateway != gateway {
                        return .failure(.otherGateway(claimed: identity.gateway, frame: index))
                    }
                    if !unknownIDs.contains(missing) { unknownIDs.append(missing) }
                    if let identity {
                        unknownBatches.append(BatchIdentity(epoch: identity.epoch, sequence: identity.sequence))
                    }
                } else {
                    return .failure(
                        .malformed(
                            detail: "\(error)", frame: index, offset: offset,
                            batch: identity.map { BatchIdentity(epoch: $0.epoch, sequence: $0.sequence) }))
                }
            }
            offset += frameSize
            index += 1
        }
        if !unknownIDs.isEmpty { return .failure(.schemaUnknown(schemaIDs: unknownIDs, batches: unknownBatches)) }
        return .success(parsed)
    }

    /// A batch frame's (gateway, epoch, sequence), read from the start of its plain payload; nil when unreadable.
    static func batchIdentity(_ plainFrame: [UInt8]) -> (gateway: String, epoch: UInt64, sequence: UInt64)? {
        guard plainFrame.count > Frame.headerSize, plainFrame[3] == Frame.Kind.batch.rawValue, plainFrame[4] == 0 else {
            return nil
        }
        var index = Frame.headerSize
        func uvarint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < plainFrame.count, shift < 64 {
                let byte = plainFrame[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        guard let length = uvarint(), length <= UInt64(plainFrame.count - index) else { return nil }
        let gateway = String(decoding: plainFrame[index..<index + Int(length)], as: UTF8.self)
        index += Int(length)
        guard let epoch = uvarint(), let sequence = uvarint() else { return nil }
        return (gateway, epoch, sequence)
    }
}
