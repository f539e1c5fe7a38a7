import CZstd

/// One-shot zstd, for tools and benchmarks (the agent's path uses ``FrameCompressor``, which reuses its context).
public enum Zstd {
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 3) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let size = output.withUnsafeMutableBytes {
            ZSTD_compress($0.baseAddress, bound, input.baseAddress, input.count, level)
        }
        guard ZSTD_isError(size) == 0 else { return [] }
        output.removeSubrange(size...)
        return output
    }
}
