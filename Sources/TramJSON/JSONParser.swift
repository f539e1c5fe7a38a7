/// Reads JSON text (RFC 8259) strictly, and safely on hostile input: it never traps, bounds its nesting and the
/// input's size, and answers every flaw with a ``JSONParseError``.
///
/// Strict: no comments, trailing commas, leading zeros, raw control characters, invalid UTF-8, unpaired surrogates
/// or duplicate keys. Integers that fit `Int64` (or, above it, `UInt64`) stay exact; other numbers become doubles.
public struct JSONParser {
    /// The limits that keep a hostile input from costing more than a legitimate one.
    public struct Limits: Sendable {
        /// Nested arrays and objects (each level is a stack frame).
        public var depth: Int
        /// Bytes of input.
        public var bytes: Int

        public init(depth: Int = 64, bytes: Int = 16 << 20) {
            self.depth = depth
            self.bytes = bytes
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The one JSON value `text` holds (whitespace around it allowed).
    public func parse(_ text: [UInt8]) throws(JSONParseError) -> JSON {
        guard text.count <= limits.bytes else { throw JSONParseError(.tooLarge(limit: limits.bytes), at: 0) }
        var reader = Reader(bytes: text, depthLimit: limits.depth)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == text.count else { throw JSONParseError(.trailingContent, at: reader.index) }
        return value
    }

    /// The one JSON value the UTF-8 of `text` holds.
    public func parse(_ text: String) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8))
    }
}

extension JSON {
    /// Parses JSON text with the default ``JSONParser/Limits``.
    public init(parsing text: [UInt8]) throws(JSONParseError) {
        self = try JSONParser().parse(text)
    }

    /// Parses JSON text with the default ``JSONParser/Limits``.
    public init(parsing text: String) throws(JSONParseError) {
        self = try JSONParser().parse(text)
    }
}

private struct Reader {
    let bytes: [UInt8]
    let depthLimit: Int
    var index = 0

    init(bytes: [UInt8], depthLimit: Int) {
        self.bytes = bytes
        self.depthLimit = depthLimit
    }

    mutating func skipSpace() {
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09
        {
            index += 1
        }
    }

    func fail(_ kind: JSONParseError.Kind) -> JSONParseError { JSONParseError(kind, at: index) }

    func peek() throws(JSONParseError) -> UInt8 {
        guard index < bytes.count else { throw fail(.unexpectedEnd) }
        return bytes[index]
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSON {
        switch try peek() {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        case let byte: throw fail(.unexpectedByte(byte))
        }
    }

    mutating func literal(_ word: String) throws(JSONParseError) {
        for byte in word.utf8 {
            guard try peek() == byte else { throw fail(.unexpectedByte(bytes[index])) }
            index += 1
        }
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSON {
        guard depth <= depthLimit else { throw fail(.tooDeep(limit: depthLimit)) }
        index += 1
        var members: [(String, JSON)] = []
        var keys = Set<String>()
        skipSpace()
        if try peek() == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipSpace()
            guard try peek() == UInt8(ascii: "\"") else { throw fail(.unexpectedByte(bytes[index])) }
            let keyOffset = index
            let key = try string()
            guard keys.insert(key).inserted else { throw JSONParseError(.duplicateKey(key), at: keyOffset) }
            skipSpace()
            guard try peek() == UInt8(ascii: ":") else { throw fail(.unexpectedByte(bytes[index])) }
            index += 1
            skipSpace()
            members.append((key, try value(depth: depth)))
            skipSpace()
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            case let byte: throw fail(.unexpectedByte(byte))
            }
        }
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSON {
        guard depth <= depthLimit else { throw fail(.tooDeep(limit: depthLimit)) }
        index += 1
        var items: [JSON] = []
        skipSpace()
        if try peek() == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth))
            skipSpace()
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(items)
            case let byte: throw fail(.unexpectedByte(byte))
            }
        }
    }

    mutating func number() throws(JSONParseError) -> JSON {
        let start = index
        var integral = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw JSONParseError(.invalidNumber, at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw JSONParseError(.invalidNumber, at: start) }
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONParseError(.invalidNumber, at: start) }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONParseError(.invalidNumber, at: start) }
            skipDigits()
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral {
            if let value = Int64(text) { return .int(value) }
            if let value = UInt64(text) { return .uint(value) }
        }
        guard let value = Double(text), value.isFinite else { throw JSONParseError(.invalidNumber, at: start) }
        return .double(value)
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    mutating func string() throws(JSONParseError) -> String {
        let start = index
        index += 1
        var out: [UInt8] = []
        while true {
            let byte = try peek()
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: out, as: UTF8.self) else {
                    throw JSONParseError(.invalidUTF8, at: start)
                }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                try escape(into: &out)
            case 0..<0x20:
                throw fail(.invalidString)
            default:
                out.append(byte)
                index += 1
            }
        }
    }

    mutating func escape(into out: inout [UInt8]) throws(JSONParseError) {
        let byte = try peek()
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate: only a low one may follow, and the two make one scalar.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else {
                    throw fail(.invalidString)
                }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail(.invalidString) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw fail(.invalidString)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw fail(.invalidString) }
            UTF8.encode(unicode) { out.append($0) }
        default:
            index -= 1
            throw fail(.invalidString)
        }
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = try peek()
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail(.invalidString)
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
