import Testing
import TramJSON

@Suite("TramJSON: writer and parser")
struct JSONTests {
    func parse(_ text: String) throws -> JSON { try JSON(parsing: text) }

    @Test("compact text, members in order, and back to the same value")
    func roundTrip() throws {
        let value = JSON.object([
            ("z", .int(1)), ("a", .array([.null, .bool(true), .bool(false), .double(47.3), .string("x")])),
            ("nested", .object([("empty", .object([])), ("list", .array([]))])),
        ])
        #expect(value.rendered == #"{"z":1,"a":[null,true,false,47.3,"x"],"nested":{"empty":{},"list":[]}}"#)
        #expect(try JSON(parsing: value.bytes) == value)
    }

    @Test("escapes quotes, backslashes and control characters; non-ASCII passes through")
    func escapes() throws {
        let text = "a\"b\\c\n\r\t\u{01}\u{1F}é€😀/"
        let rendered = JSON.string(text).rendered
        #expect(rendered == "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001fé€😀/\"")
        #expect(try parse(rendered) == .string(text))
        #expect(try parse(#""\u00e9\ud83d\ude00\/\b\f""#) == .string("é😀/\u{08}\u{0C}"))
    }

    @Test("64-bit integers stay exact; doubles round-trip")
    func numbers() throws {
        #expect(JSON.int(-9_007_199_254_740_993).rendered == "-9007199254740993")
        #expect(try parse("-9007199254740993").int64Value == -9_007_199_254_740_993)
        #expect(JSON.uint(.max).rendered == "18446744073709551615")
        #expect(try parse("18446744073709551615").uint64Value == .max)
        #expect(try parse(String(Int64.min)).int64Value == .min)
        #expect(try parse("18446744073709551616").doubleValue == 18446744073709551616.0)
        for value in [0.1, 47.3, 1e-5, 1e300, -2.5e-300, 1.0 / 3, 5e15, Double.leastNonzeroMagnitude] {
            #expect(try parse(JSON.double(value).rendered).doubleValue == value)
        }
        #expect(JSON.double(.nan).rendered == "null")
        #expect(JSON.double(.infinity).rendered == "null")
        #expect(try parse("1.5").int64Value == nil)
        #expect(try parse("1E3").doubleValue == 1000)
    }

    @Test(
        "malformed input is an error, never a trap",
        arguments: [
            "", " ", "{", "[", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "01", "-", "1.", ".5", "1e", "+1", "tru",
            "nul",
            "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}\"", "[1 2]", "1 2",
            "{\"a\":1,\"a\":2}",
            "1e999", "NaN", "Infinity", "//", "[1]]", "\u{FEFF}1",
        ])
    func malformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON(parsing: text) }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSON(parsing: [0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSON(parsing: [0x22, 0xFF, 0x22]) }
    }

    @Test("a depth bomb stops at the depth limit; the size limit holds")
    func limits() throws {
        let bomb = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError(.tooDeep(limit: 64), at: 64)) { try JSON(parsing: bomb) }
        let objects = String(repeating: "{\"a\":", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSON(parsing: objects) }
        let nested64 = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try JSON(parsing: nested64).arrayValue != nil)
        let parser = JSONParser(limits: .init(depth: 64, bytes: 8))
        #expect(throws: JSONParseError(.tooLarge(limit: 8), at: 0)) { try parser.parse("[1,2,3,4,5]") }
    }

    @Test("readers name the path and what was expected")
    func shapes() throws {
        let value = try parse(#"{"a":{"b":"x"},"n":null,"i":5}"#)
        #expect(try value.int("i") == 5)
        #expect(try value.optionalString("n") == nil)
        #expect(try value.optionalString("missing") == nil)
        #expect(throws: JSONShapeError(path: "a.b", expected: "an integer")) {
            try value.nested("a") { () throws(JSONShapeError) in try value.object("a").int("b") }
        }
        #expect(throws: JSONShapeError(path: "i", expected: "a string")) { try value.string("i") }
        #expect(JSON.int(5) == .uint(5))
        #expect(JSON.int(5) != .double(5))
    }
}
