/// ModemManager's names on the system bus (ModemManager 1.20's introspection XML, `introspection/` in its tree).
enum ModemManagerNames {
    static let service = "org.freedesktop.ModemManager1"
    /// The object manager: its `GetManagedObjects` lists the modems (`/org/freedesktop/ModemManager1/Modem/N`).
    static let root = "/org/freedesktop/ModemManager1"
    static let modem = "org.freedesktop.ModemManager1.Modem"
    static let modem3gpp = "org.freedesktop.ModemManager1.Modem.Modem3gpp"
    static let signal = "org.freedesktop.ModemManager1.Modem.Signal"
    static let location = "org.freedesktop.ModemManager1.Modem.Location"
    /// What ModemManager answers a caller that polkit refused (`MM_CORE_ERROR_UNAUTHORIZED`).
    static let unauthorized = "org.freedesktop.ModemManager1.Error.Core.Unauthorized"

    /// `MMModemLocationSource` bit of the serving cell (3GPP LAC/TAC and cell id); key 1 of `Location`.
    static let location3gppSource: UInt64 = 1 << 0
}
