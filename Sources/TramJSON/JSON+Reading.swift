/// Reading values out of a parsed document: optional views for tolerant code, and throwing field readers for the
/// contract types, whose errors name the path and what was expected there.
extension JSON {
    /// The member named `key`, when this is an object that has one.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var isNull: Bool { if case .null = self { true } else { false } }

    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }

    public var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }

    public var arrayValue: [JSON]? { if case .array(let items) = self { items } else { nil } }

    public var objectMembers: [(String, JSON)]? { if case .object(let members) = self { members } else { nil } }

    /// An integer that fits `Int64` exactly (never a double: `1.5` or `1e3` is no integer here).
    public var int64Value: Int64? {
        switch self {
        case .int(let value): value
        case .uint(let value): Int64(exactly: value)
        default: nil
        }
    }

    /// A non-negative integer that fits `UInt64` exactly.
    public var uint64Value: UInt64? {
        switch self {
        case .int(let value): UInt64(exactly: value)
        case .uint(let value): value
        default: nil
        }
    }

    public var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

    /// Any number, as a double.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .uint(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}

/// A document that parsed but has not the shape a contract type expects.
public struct JSONShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where: the member names from the top, e.g. `spool.dropped.queue_full`.
    public var path: String
    /// What should be there: "a string", "an integer", …
    public var expected: String

    public init(path: String, expected: String) {
        self.path = path
        self.expected = expected
    }

    public var description: String { "\(path.isEmpty ? "the answer" : path) should be \(expected)" }
}

extension JSON {
    /// The member `key` read by `view`; missing, null or of another kind is an error.
    public func field<T>(_ key: String, _ expected: String, _ view: (JSON) -> T?) throws(JSONShapeError) -> T {
        guard let member = self[key], let value = view(member) else {
            throw JSONShapeError(path: key, expected: expected)
        }
        return value
    }

    /// The member `key` read by `view`; missing or null is nil, another kind is an error.
    public func optionalField<T>(_ key: String, _ expected: String, _ view: (JSON) -> T?) throws(JSONShapeError) -> T? {
        guard let member = self[key], !member.isNull else { return nil }
        guard let value = view(member) else { throw JSONShapeError(path: key, expected: expected) }
        return value
    }

    public func string(_ key: String) throws(JSONShapeError) -> String { try field(key, "a string", \.stringValue) }
    public func optionalString(_ key: String) throws(JSONShapeError) -> String? {
        try optionalField(key, "a string", \.stringValue)
    }
    public func bool(_ key: String) throws(JSONShapeError) -> Bool { try field(key, "true or false", \.boolValue) }
    public func int(_ key: String) throws(JSONShapeError) -> Int { try field(key, "an integer", \.intValue) }
    public func optionalInt(_ key: String) throws(JSONShapeError) -> Int? {
        try optionalField(key, "an integer", \.intValue)
    }
    public func int64(_ key: String) throws(JSONShapeError) -> Int64 { try field(key, "an integer", \.int64Value) }
    public func optionalInt64(_ key: String) throws(JSONShapeError) -> Int64? {
        try optionalField(key, "an integer", \.int64Value)
    }
    public func uint64(_ key: String) throws(JSONShapeError) -> UInt64 {
        try field(key, "an unsigned integer", \.uint64Value)
    }
    public func double(_ key: String) throws(JSONShapeError) -> Double { try field(key, "a number", \.doubleValue) }
    public func optionalDouble(_ key: String) throws(JSONShapeError) -> Double? {
        try optionalField(key, "a number", \.doubleValue)
    }
    public func array(_ key: String) throws(JSONShapeError) -> [JSON] { try field(key, "an array", \.arrayValue) }
    public func optionalArray(_ key: String) throws(JSONShapeError) -> [JSON]? {
        try optionalField(key, "an array", \.arrayValue)
    }

    /// The object at `key`.
    public func object(_ key: String) throws(JSONShapeError) -> JSON {
        try field(key, "an object") { $0.objectMembers == nil ? nil : $0 }
    }

    /// The array at `key`, each item read by `read`; an error names the item (`points[3].unit`).
    public func items<T>(_ key: String, _ read: (JSON) throws(JSONShapeError) -> T) throws(JSONShapeError) -> [T] {
        var result: [T] = []
        for (index, item) in try array(key).enumerated() {
            result.append(try nested("\(key)[\(index)]") { () throws(JSONShapeError) -> T in try read(item) })
        }
        return result
    }

    /// Reads a nested part, prefixing the errors it throws with `key`, so they name the whole path.
    public func nested<T>(_ key: String, _ read: () throws(JSONShapeError) -> T) throws(JSONShapeError) -> T {
        do { return try read() } catch { throw JSONShapeError(path: "\(key).\(error.path)", expected: error.expected) }
    }
}
