import CZstd
import TramSchema

/// Decodes frames whether or not their payload is compressed: what tramctl and the collector call.
public enum FrameCodec {
    /// Largest payload a compressed frame may expand to (a decompression bomb is an error, not an OOM).
    public static let maximumPayload = 64 << 20

    /// Undoes payload compression: the same frame with a plain payload (a copy), or the input when it was plain.
    /// - Parameter maximumDecodedSize: the largest payload a compressed frame may expand to; a frame that claims
    ///   more is rejected before anything is allocated (the collector passes what is left of a request's budget).
    public static func decompress(_ bytes: [UInt8], maximumDecodedSize: Int = maximumPayload) throws(WireError)
        -> [UInt8]
    {
        do {
            return try bytes.withUnsafeBytes { raw throws(WireError) -> [UInt8] in
                let (kind, flags, payload, size, version) = try Frame.open(raw)
                guard flags & Frame.compressedFlag != 0 else { return Array(raw[..<size]) }
                let expected = ZSTD_getFrameContentSize(payload.baseAddress, payload.count)
                guard expected != TRAM_ZSTD_CONTENTSIZE_ERROR, expected != TRAM_ZSTD_CONTENTSIZE_UNKNOWN else {
                    throw .invalid("compressed payload without a zstd content size")
                }
                let cap = UInt64(max(0, maximumDecodedSize))
                guard expected <= cap else {
                    throw .invalid("compressed payload expands to \(expected) bytes, over the limit of \(cap)")
                }
                var plain = [UInt8](repeating: 0, count: Int(expected))
                let got = plain.withUnsafeMutableBytes {
                    ZSTD_decompress($0.baseAddress, $0.count, payload.baseAddress, payload.count)
                }
                guard ZSTD_isError(got) == 0, got == Int(expected) else {
                    throw .invalid("zstd payload does not decompress")
                }
                return Frame.wrap(kind: kind, payload: plain, flags: flags & ~Frame.compressedFlag, version: version)
            }
        } catch let error as WireError {
            throw error
        } catch {
            throw .invalid("\(error)")
        }
    }

    /// Decodes one frame, compressed or not. `size` is the size of the frame as it was in `bytes`.
    /// - Parameter maximumDecodedSize: see ``decompress(_:maximumDecodedSize:)``.
    public static func decode(
        _ bytes: [UInt8], maximumDecodedSize: Int = maximumPayload,
        dictionary: (UInt64) -> SchemaDictionary?
    ) throws(WireError) -> (frame: FrameDecoder.Decoded, size: Int) {
        let size: Int
        do {
            size = try bytes.withUnsafeBytes { raw throws(WireError) in try Frame.open(raw).size }
        } catch let error as WireError {
            throw error
        } catch {
            throw .invalid("\(error)")
        }
        let plain = try decompress(bytes, maximumDecodedSize: maximumDecodedSize)
        return (try FrameDecoder.decode(plain, dictionary: dictionary).frame, size)
    }
}
