extension StringProtocol {
    /// The first range where `other` occurs, comparing UTF-8 bytes (exact, not by canonical equivalence: the texts
    /// searched here are URLs and library messages).
    ///
    /// Why not the standard `firstRange(of:)` and `contains(_:)`: they live in `_StringProcessing`, and three such
    /// calls were all that linked it and `_RegexParser` into the static agent: 1.0 MB of its 14 MB (measured with
    /// `nm -S` on the stripped release build).
    public func firstByteRange(of other: some StringProtocol) -> Range<Index>? {
        let needle = Array(other.utf8)
        guard !needle.isEmpty else { return startIndex..<startIndex }
        var start = utf8.startIndex
        while start != utf8.endIndex {
            var here = start, matched = 0
            while matched < needle.count, here != utf8.endIndex, utf8[here] == needle[matched] {
                here = utf8.index(after: here)
                matched += 1
            }
            if matched == needle.count { return start..<here }
            start = utf8.index(after: start)
        }
        return nil
    }

    /// Whether `other` occurs in this text, comparing UTF-8 bytes (see `firstByteRange(of:)`).
    public func containsBytes(of other: some StringProtocol) -> Bool { firstByteRange(of: other) != nil }
}
