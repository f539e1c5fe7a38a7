/// Writes JSON text without Foundation: the control socket's answers are small and flat, so a writer that
/// appends to one byte array is all the agent needs.
public struct JSONText {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = [false]

    public init() {}

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public mutating func object(_ body: (inout JSONText) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
        body(&self)
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func array(_ body: (inout JSONText) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
        body(&self)
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// A key inside an object; the next value call writes its value.
    public mutating func key(_ name: String) {
        separate()
        string(name, separated: false)
        bytes.append(UInt8(ascii: ":"))
        needsComma[needsComma.count - 1] = false
    }

    public mutating func field(_ name: String, _ value: String?) { key(name); if let value { string(value) } else { null() } }
    public mutating func field(_ name: String, _ value: Int?) { key(name); if let value { raw("\(value)") } else { null() } }
    public mutating func field(_ name: String, _ value: Int64?) { key(name); if let value { raw("\(value)") } else { null() } }
    public mutating func field(_ name: String, _ value: Bool) { key(name); raw(value ? "true" : "false") }
    public mutating func field(_ name: String, _ value: Double?) { key(name); number(value) }
    public mutating func field(_ name: String, object body: (inout JSONText) -> Void) { key(name); object(body) }
    public mutating func field(_ name: String, array body: (inout JSONText) -> Void) { key(name); array(body) }

    /// A number; NaN and infinities (which JSON cannot hold) become null.
    public mutating func number(_ value: Double?) {
        guard let value, value.isFinite else { return null() }
        raw(value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)")
    }

    public mutating func null() { raw("null") }

    public mutating func string(_ value: String) { string(value, separated: true) }

    private mutating func string(_ value: String, separated: Bool) {
        if separated { separate() }
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func raw(_ text: String) {
        separate()
        bytes += text.utf8
    }

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }
}
