/// The order of bytes on the wire for a multi-register value, named by the
/// bytes of a 32-bit value `A B C D` (A most significant).
///
/// - `ABCD`: big-endian, high word first (the Modbus convention).
/// - `CDAB`: low word first, each word big-endian ("word swap").
/// - `BADC`: high word first, bytes swapped inside each word.
/// - `DCBA`: little-endian.
///
/// For 64-bit values the rule extends to four words; for 16-bit values
/// `BADC` and `DCBA` swap the two bytes.
public enum WordOrder: String, Sendable, Hashable, CaseIterable {
    case abcd = "ABCD"
    case cdab = "CDAB"
    case badc = "BADC"
    case dcba = "DCBA"

    /// Words come lowest first.
    public var reversesWords: Bool { self == .cdab || self == .dcba }
    /// Bytes inside each word come low first.
    public var swapsBytes: Bool { self == .badc || self == .dcba }

    static let spellings: [(String, WordOrder)] = WordOrder.allCases.map { ($0.rawValue, $0) }
}
