/// The console's one escaping rule, for every text that reaches a page: element content, attribute values (always
/// double-quoted) and SVG alike. Names come from gateways' dictionaries, which are untrusted input.
public enum HTML {
    /// `&`, `<`, `>`, `"` and `'` as character references; everything else as it is.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// A path segment of a console URL: percent-encoded UTF-8, everything but unreserved characters (RFC 3986), so a
    /// name with `/`, `?` or `#` stays one segment. The result still goes through ``escape(_:)`` in an attribute.
    public static func pathSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// A query value: as a path segment (so `&`, `=`, `+` and spaces are encoded too).
    public static func queryValue(_ text: String) -> String { pathSegment(text) }
}
