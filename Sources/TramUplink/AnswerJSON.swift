/// Reads the few fields the uplink needs from the collector's compact JSON answers, without Foundation.
/// Tolerant: a missing or odd field gives nil, never a crash.
public enum AnswerJSON {
    /// The string value of `"key"` at the top level or anywhere (the collector's keys are unique enough).
    public static func string(_ key: String, in body: [UInt8]) -> String? {
        guard var index = valueStart(of: key, in: body), index < body.count, body[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        return readString(body, &index)
    }

    /// The array of strings at `"key"`.
    static func strings(_ key: String, in body: [UInt8]) -> [String]? {
        guard var index = valueStart(of: key, in: body), index < body.count, body[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        var result: [String] = []
        while index < body.count {
            skipSpace(body, &index)
            guard index < body.count else { return nil }
            switch body[index] {
            case UInt8(ascii: "]"): return result
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "\""):
                index += 1
                guard let s = readString(body, &index) else { return nil }
                result.append(s)
            default: return nil
            }
        }
        return nil
    }

    /// The unsigned integer at `"key"`, searching from `from`.
    static func uint(_ key: String, in body: [UInt8], from: Int = 0) -> (UInt64, end: Int)? {
        guard var index = valueStart(of: key, in: body, from: from) else { return nil }
        let start = index
        while index < body.count, body[index] >= 0x30, body[index] <= 0x39 { index += 1 }
        guard index > start, let value = UInt64(String(decoding: body[start..<index], as: UTF8.self)) else { return nil }
        return (value, index)
    }

    /// The 422 answer's `"batch":{"epoch":E,"sequence":S}`.
    static func malformedBatch(in body: [UInt8]) -> (epoch: UInt64, sequence: UInt64)? {
        guard let object = valueStart(of: "batch", in: body), let epoch = uint("epoch", in: body, from: object),
              let sequence = uint("sequence", in: body, from: epoch.end) else { return nil }
        return (epoch.0, sequence.0)
    }

    private static func valueStart(of key: String, in body: [UInt8], from: Int = 0) -> Int? {
        let needle = Array("\"\(key)\"".utf8)
        guard needle.count <= body.count else { return nil }
        var i = from
        while i + needle.count <= body.count {
            if body[i] == needle[0], Array(body[i..<i + needle.count]) == needle {
                var j = i + needle.count
                skipSpace(body, &j)
                if j < body.count, body[j] == UInt8(ascii: ":") {
                    j += 1
                    skipSpace(body, &j)
                    return j
                }
            }
            i += 1
        }
        return nil
    }

    private static func skipSpace(_ body: [UInt8], _ index: inout Int) {
        while index < body.count, body[index] == 0x20 || body[index] == 0x0A || body[index] == 0x0D || body[index] == 0x09 { index += 1 }
    }

    /// Reads up to the closing quote (escapes kept simple: `\"` and `\\`; the fields read here are plain ASCII).
    private static func readString(_ body: [UInt8], _ index: inout Int) -> String? {
        var out: [UInt8] = []
        while index < body.count {
            let b = body[index]
            index += 1
            if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if b == UInt8(ascii: "\\"), index < body.count { out.append(body[index]); index += 1; continue }
            out.append(b)
        }
        return nil
    }
}
