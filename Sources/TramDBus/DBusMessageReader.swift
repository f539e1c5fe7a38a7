import CSystemd

/// Reads values out of an sd-bus message by peeking at each one's type: no signature is compiled in, so a peer
/// that adds a field or changes a width is read as it is, and a reader checks what it got.
enum DBusMessageReader {
    /// Containers deeper than this are refused, so a hostile peer cannot recurse the reader off its stack.
    static let maximumDepth = 32

    /// The next complete value, or nil at the end of the message (or of the container being read).
    static func read(_ message: OpaquePointer, depth: Int = 0) throws(DBusError) -> DBusValue? {
        guard depth < maximumDepth else { throw DBusError(name: nil, message: "a D-Bus answer nests too deep") }
        var type: CChar = 0
        var contents: UnsafePointer<CChar>?
        let peeked = sd_bus_message_peek_type(message, &type, &contents)
        try check(peeked, "read")
        guard peeked > 0 else { return nil }
        switch UInt8(bitPattern: type) {
        case UInt8(ascii: "y"): return .uint(UInt64(try basic(message, type, UInt8(0))))
        case UInt8(ascii: "b"): return .bool(try basic(message, type, Int32(0)) != 0)
        case UInt8(ascii: "n"): return .int(Int64(try basic(message, type, Int16(0))))
        case UInt8(ascii: "q"): return .uint(UInt64(try basic(message, type, UInt16(0))))
        case UInt8(ascii: "i"), UInt8(ascii: "h"): return .int(Int64(try basic(message, type, Int32(0))))
        case UInt8(ascii: "u"): return .uint(UInt64(try basic(message, type, UInt32(0))))
        case UInt8(ascii: "x"): return .int(try basic(message, type, Int64(0)))
        case UInt8(ascii: "t"): return .uint(try basic(message, type, UInt64(0)))
        case UInt8(ascii: "d"): return .double(try basic(message, type, Double(0)))
        case UInt8(ascii: "s"), UInt8(ascii: "o"), UInt8(ascii: "g"):
            let pointer = try basic(message, type, UnsafePointer<CChar>?.none)
            return .string(pointer.map { String(cString: $0) } ?? "")
        case UInt8(ascii: "v"):
            try enter(message, type, contents)
            let inner = try read(message, depth: depth + 1)
            try exit(message)
            return inner ?? .structure([])
        case UInt8(ascii: "r"), UInt8(ascii: "e"):
            try enter(message, type, contents)
            var members: [DBusValue] = []
            while let member = try read(message, depth: depth + 1) { members.append(member) }
            try exit(message)
            return .structure(members)
        case UInt8(ascii: "a"):
            try enter(message, type, contents)
            var items: [DBusValue] = []
            while let item = try read(message, depth: depth + 1) { items.append(item) }
            try exit(message)
            if contents?.pointee == CChar(UInt8(ascii: "{")) {
                return .dictionary(
                    items.compactMap { item in
                        guard case .structure(let pair) = item, pair.count == 2 else { return nil }
                        return (key: pair[0], value: pair[1])
                    })
            }
            return .array(items)
        default:
            throw DBusError(
                name: nil,
                message: "a D-Bus answer has an unknown type '\(Character(UnicodeScalar(UInt8(bitPattern: type))))'")
        }
    }

    /// `a{oa{sa{sv}}}` → each object's path and interface names; every property value is skipped, not decoded.
    static func objectPathsAndInterfaces(_ message: OpaquePointer) throws(DBusError) -> [(
        path: String, interfaces: [String]
    )] {
        var objects: [(path: String, interfaces: [String])] = []
        try enter(message, CChar(UInt8(ascii: "a")), "{oa{sa{sv}}}")
        while try enterIfMore(message, CChar(UInt8(ascii: "e")), "oa{sa{sv}}") {
            let pointer = try basic(message, CChar(UInt8(ascii: "o")), UnsafePointer<CChar>?.none)
            var interfaces: [String] = []
            try enter(message, CChar(UInt8(ascii: "a")), "{sa{sv}}")
            while try enterIfMore(message, CChar(UInt8(ascii: "e")), "sa{sv}") {
                let name = try basic(message, CChar(UInt8(ascii: "s")), UnsafePointer<CChar>?.none)
                interfaces.append(name.map { String(cString: $0) } ?? "")
                try check(sd_bus_message_skip(message, "a{sv}"), "skip")
                try exit(message)
            }
            try exit(message)
            try exit(message)
            objects.append((pointer.map { String(cString: $0) } ?? "", interfaces))
        }
        try exit(message)
        return objects
    }

    private static func basic<T>(_ message: OpaquePointer, _ type: CChar, _ initial: T) throws(DBusError) -> T {
        var value = initial
        try check(withUnsafeMutablePointer(to: &value) { sd_bus_message_read_basic(message, type, $0) }, "read")
        return value
    }

    private static func enter(_ message: OpaquePointer, _ type: CChar, _ contents: UnsafePointer<CChar>?)
        throws(DBusError)
    {
        try check(sd_bus_message_enter_container(message, type, contents), "enter")
    }

    /// Enters the next container of this type; false at the end of the enclosing one.
    private static func enterIfMore(_ message: OpaquePointer, _ type: CChar, _ contents: String) throws(DBusError)
        -> Bool
    {
        let result = sd_bus_message_enter_container(message, type, contents)
        try check(result, "enter")
        return result > 0
    }

    private static func exit(_ message: OpaquePointer) throws(DBusError) {
        try check(sd_bus_message_exit_container(message), "leave")
    }

    private static func check(_ result: Int32, _ what: String) throws(DBusError) {
        guard result < 0 else { return }
        throw DBusError(
            name: nil, message: "cannot \(what) a D-Bus answer: it does not have the expected shape", errno: -result)
    }
}
