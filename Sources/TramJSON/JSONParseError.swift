/// Why a text is not JSON the parser accepts, and where (a byte offset into the input).
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The input ended inside a value (or held none).
        case unexpectedEnd
        /// A byte that no JSON value may have here.
        case unexpectedByte(UInt8)
        /// Something after the one top-level value.
        case trailingContent
        /// A number outside the JSON grammar, or too large for a Double (JSON has no infinity).
        case invalidNumber
        /// A bad escape, an unpaired surrogate or a raw control character in a string.
        case invalidString
        /// Bytes that are not UTF-8.
        case invalidUTF8
        /// An object names the same key twice (which of the two counts is ambiguous).
        case duplicateKey(String)
        /// More nested arrays and objects than the limit.
        case tooDeep(limit: Int)
        /// A larger input than the limit.
        case tooLarge(limit: Int)
    }

    public var kind: Kind
    public var offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        switch kind {
        case .unexpectedEnd: "JSON ends early (at byte \(offset))"
        case .unexpectedByte(let byte): "unexpected byte 0x\(String(byte, radix: 16)) at byte \(offset)"
        case .trailingContent: "content after the JSON value at byte \(offset)"
        case .invalidNumber: "invalid number at byte \(offset)"
        case .invalidString: "invalid string at byte \(offset)"
        case .invalidUTF8: "invalid UTF-8 in the string at byte \(offset)"
        case .duplicateKey(let key): "duplicate key '\(key)' at byte \(offset)"
        case .tooDeep(let limit): "JSON nested deeper than \(limit) at byte \(offset)"
        case .tooLarge(let limit): "JSON larger than \(limit) bytes"
        }
    }
}
