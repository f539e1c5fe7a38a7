import CZstd
import TramSchema

/// Compresses sealed frames' payloads with zstd, into its own reused buffer.
///
/// zstd was chosen by measurement (README, Performance): on the standard trace it
/// matches gzip's size (0.65 vs 0.67 B a reading at 60 s batches) at a fraction of
/// the CPU. The envelope stays readable: flags bit 0 marks the payload compressed,
/// and the CRC covers the compressed bytes, so corruption is caught before
/// decompression. A payload that would not shrink is left as it is.
public final class FrameCompressor {
    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    public let level: Int32

    /// zstd's match-finder tables, as powers of two. Level 3 sizes them for its input (2^17 and 2^16 entries for a
    /// 256 KiB batch, a 1.04 MB context); 2^14 each make a 0.65 MB context, with frames within 0.1% of the size on
    /// the standard trace and 0.7% smaller on a 500-device batch (README, Performance: Agent).
    public static let matchTableLog: Int32 = 14

    /// - Parameter capacity: the largest frame this compressor will see.
    public init(level: Int32 = 3, capacity: Int) {
        self.level = level
        context = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_hashLog, Self.matchTableLog)
        ZSTD_CCtx_setParameter(context, ZSTD_c_chainLog, Self.matchTableLog)
        output = .allocate(byteCount: Frame.headerSize + ZSTD_compressBound(capacity) + Frame.trailerSize, alignment: 8)
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
    }

    /// The compressed frame, valid until the next call; or `frame` itself when compression does not pay.
    public func compress(_ frame: UnsafeRawBufferPointer) throws(WireError) -> UnsafeRawBufferPointer {
        let (kind, flags, payload, _, version) = try Frame.open(frame)
        guard flags & Frame.compressedFlag == 0 else { return frame }
        let room = output.count - Frame.headerSize - Frame.trailerSize
        guard ZSTD_compressBound(payload.count) <= room else { throw .bufferFull(capacity: output.count) }
        let size = ZSTD_compress2(
            context, output.baseAddress! + Frame.headerSize, room, payload.baseAddress, payload.count)
        guard ZSTD_isError(size) == 0 else {
            throw .invalid("zstd: \(String(cString: ZSTD_getErrorName(size)))")
        }
        guard size < payload.count else { return frame }
        Frame.writeHeader(
            kind: kind, flags: flags | Frame.compressedFlag, payloadLength: size, into: output, version: version)
        let total = Frame.writeTrailer(output, length: Frame.headerSize + size)
        return UnsafeRawBufferPointer(rebasing: output[..<total])
    }
}
