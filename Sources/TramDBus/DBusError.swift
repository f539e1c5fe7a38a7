/// Why a D-Bus call failed: the error the peer or the bus answered (`name`), or a local failure (`errno`).
public struct DBusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The D-Bus error name (`org.freedesktop.DBus.Error.ServiceUnknown`), or nil for a local failure.
    public var name: String?
    public var message: String
    /// The errno sd-bus returned (positive), 0 when the peer answered an error.
    public var errno: Int32

    public init(name: String?, message: String, errno: Int32 = 0) {
        self.name = name
        self.message = message
        self.errno = errno
    }

    /// The well-known names a reader acts on.
    public enum Name {
        /// The destination is not on the bus (and is not started: Tram never asks the bus to start a service).
        public static let serviceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
        public static let nameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner"
        public static let unknownObject = "org.freedesktop.DBus.Error.UnknownObject"
        public static let unknownInterface = "org.freedesktop.DBus.Error.UnknownInterface"
        public static let unknownMethod = "org.freedesktop.DBus.Error.UnknownMethod"
        public static let unknownProperty = "org.freedesktop.DBus.Error.UnknownProperty"
        public static let accessDenied = "org.freedesktop.DBus.Error.AccessDenied"
        public static let noReply = "org.freedesktop.DBus.Error.NoReply"
        public static let timeout = "org.freedesktop.DBus.Error.Timeout"
        public static let disconnected = "org.freedesktop.DBus.Error.Disconnected"
    }

    /// The peer is not on the bus.
    public var isServiceMissing: Bool { name == Name.serviceUnknown || name == Name.nameHasNoOwner }

    /// The object, interface or member is not there (a modem that vanished mid-poll).
    public var isObjectMissing: Bool {
        name == Name.unknownObject || name == Name.unknownInterface || name == Name.unknownMethod
            || name == Name.unknownProperty
    }

    /// The connection to the bus itself failed (the bus restarted): make a new connection before the next call.
    /// sd-bus names local failures too: `System.Error.<errno>` and `org.freedesktop.DBus.Error.Disconnected`.
    public var isConnectionLost: Bool {
        guard let name else { return true }
        return name.hasPrefix("System.Error.") || name == Name.disconnected
    }

    public var description: String {
        if let name { return "\(name): \(message)" }
        return "\(message) (errno \(errno))"
    }
}
