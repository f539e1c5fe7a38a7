/// A schema id as ingest answers write it: 16 lowercase hex digits, zero-padded (`00000000000000ff`).
public enum SchemaIDText {
    public static func encode(_ id: UInt64) -> String {
        let digits = String(id, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Reads hex digits (padded or not); nil for anything else.
    public static func decode(_ text: String) -> UInt64? {
        UInt64(text, radix: 16)
    }
}
