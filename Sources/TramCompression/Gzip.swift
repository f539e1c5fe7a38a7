import CZlib

/// gzip (RFC 1952) for upload bodies: libcurl does not compress what it sends, and line protocol is text that
/// shrinks about tenfold, which a metered link pays for. Tram's own frames are already zstd and go as they are.
///
/// One reused deflate stream: `compress` resets it rather than allocating zlib's ~256 KB of state per body.
public final class Gzip {
    private var stream = z_stream()
    private var output: [UInt8] = []
    public let level: Int32

    public init(level: Int32 = 6) {
        self.level = level
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        let code = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)
        )
        precondition(code == Z_OK, "deflateInit2 failed: \(code)")
    }

    deinit { deflateEnd(&stream) }

    /// The gzip member for `input`; the returned array is a copy the caller owns.
    public func compress(_ input: [UInt8]) -> [UInt8] {
        deflateReset(&stream)
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 32
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        var produced = 0
        input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                stream.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(source.count)
                stream.next_out = target.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(target.count)
                let code = deflate(&stream, Z_FINISH)
                precondition(code == Z_STREAM_END, "deflate did not finish within deflateBound: \(code)")
                produced = target.count - Int(stream.avail_out)
            }
        }
        return Array(output[..<produced])
    }
}
