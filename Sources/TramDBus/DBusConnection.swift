import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// A client connection to the system bus through sd-bus, for read-only calls: properties, `GetManagedObjects`, and
/// methods whose arguments are strings.
///
/// Every call is blocking and waits at most `timeout`: run it on an owned thread, never on Swift's cooperative pool.
/// sd-bus objects are not thread-safe, so a connection is used by the one thread that made it (it is not
/// `Sendable`). Every message is sent with auto-start off (`NO_AUTO_START`): asking for a service that is not
/// running fails with `ServiceUnknown` instead of making the bus start it.
///
/// The address is the system bus's, or `DBUS_SYSTEM_BUS_ADDRESS` when set (sd-bus reads it), which is how the tests
/// point the agent at a private `dbus-daemon`.
public final class DBusConnection {
    private var bus: OpaquePointer?
    /// The longest a call waits for its answer.
    public let timeoutMicroseconds: UInt64

    public init(timeoutMilliseconds: Int64 = 2_000) throws(DBusError) {
        timeoutMicroseconds = UInt64(max(1, timeoutMilliseconds)) * 1000
        var opened: OpaquePointer?
        let result = sd_bus_open_system(&opened)
        guard result >= 0, let opened else {
            throw DBusError(
                name: nil, message: "cannot connect to the system bus: " + String(cString: strerror(-result)),
                errno: -result)
        }
        bus = opened
    }

    deinit { close() }

    /// Whether the connection is still up (false after the bus went away; make a new connection then).
    public var isOpen: Bool { bus.map { sd_bus_is_open($0) > 0 } ?? false }

    /// Closes without flushing: a read-only client has nothing queued worth waiting for (a flush has no timeout).
    public func close() {
        if let bus { sd_bus_close_unref(bus) }
        bus = nil
    }

    /// `org.freedesktop.DBus.Properties.Get`: one property's value.
    public func property(destination: String, path: String, interface: String, name: String) throws(DBusError)
        -> DBusValue
    {
        try call(
            destination: destination, path: path, interface: "org.freedesktop.DBus.Properties", member: "Get",
            arguments: [interface, name]
        ) { reply throws(DBusError) in
            try DBusMessageReader.read(reply) ?? .structure([])
        }
    }

    /// `org.freedesktop.DBus.Properties.GetAll`: an interface's properties as an `a{sv}` dictionary.
    public func properties(destination: String, path: String, interface: String) throws(DBusError) -> DBusValue {
        try call(
            destination: destination, path: path, interface: "org.freedesktop.DBus.Properties", member: "GetAll",
            arguments: [interface]
        ) { reply throws(DBusError) in
            try DBusMessageReader.read(reply) ?? .dictionary([])
        }
    }

    /// `org.freedesktop.DBus.ObjectManager.GetManagedObjects`, reduced to each object's path and interface names.
    /// The property values in the answer are skipped unread, so nothing the caller did not ask for (a modem's IMEI,
    /// say) is ever decoded.
    public func managedObjects(destination: String, path: String) throws(DBusError) -> [(
        path: String, interfaces: [String]
    )] {
        try call(
            destination: destination, path: path, interface: "org.freedesktop.DBus.ObjectManager",
            member: "GetManagedObjects", arguments: []
        ) { reply throws(DBusError) in
            try DBusMessageReader.objectPathsAndInterfaces(reply)
        }
    }

    /// Calls a method with string arguments and returns its first answer value (nil when it answers nothing).
    public func method(destination: String, path: String, interface: String, member: String, arguments: [String] = [])
        throws(DBusError) -> DBusValue?
    {
        try call(destination: destination, path: path, interface: interface, member: member, arguments: arguments) {
            reply throws(DBusError) in
            try DBusMessageReader.read(reply)
        }
    }

    private func call<T>(
        destination: String, path: String, interface: String, member: String, arguments: [String],
        _ body: (OpaquePointer) throws(DBusError) -> T
    ) throws(DBusError) -> T {
        guard let bus else { throw DBusError(name: nil, message: "the bus connection is closed", errno: ENOTCONN) }
        var message: OpaquePointer?
        var result = sd_bus_message_new_method_call(bus, &message, destination, path, interface, member)
        guard result >= 0, let message else {
            throw DBusError(name: nil, message: "cannot make a call to \(interface).\(member)", errno: -result)
        }
        defer { sd_bus_message_unref(message) }
        sd_bus_message_set_auto_start(message, 0)
        for argument in arguments {
            result = argument.withCString { sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), $0) }
            guard result >= 0 else {
                throw DBusError(name: nil, message: "cannot add an argument to \(member)", errno: -result)
            }
        }
        var error = sd_bus_error(name: nil, message: nil, _need_free: 0)
        defer { sd_bus_error_free(&error) }
        var reply: OpaquePointer?
        result = sd_bus_call(bus, message, timeoutMicroseconds, &error, &reply)
        guard result >= 0, let reply else {
            if let name = error.name {
                throw DBusError(
                    name: String(cString: name), message: error.message.map { String(cString: $0) } ?? "",
                    errno: -result)
            }
            throw DBusError(
                name: nil, message: "\(interface).\(member) failed: " + String(cString: strerror(-result)),
                errno: -result)
        }
        defer { sd_bus_message_unref(reply) }
        return try body(reply)
    }
}
