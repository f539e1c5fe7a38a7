import TramDBus

/// Reads a modem from ModemManager over D-Bus: read-only property reads, each with auto-start off.
///
/// The calls, and nothing else (the shipped D-Bus policy allows the agent exactly these):
/// - `ObjectManager.GetManagedObjects` on `/org/freedesktop/ModemManager1`, to list modems. Only object paths and
///   interface names are decoded; property values in that answer are skipped unread.
/// - `Properties.Get` of `Modem`'s `State`, `AccessTechnologies`, `SignalQuality`, `Device`, `DeviceIdentifier`,
///   and of `Modem3gpp`'s `OperatorCode`, `OperatorName`, `RegistrationState`.
/// - `Properties.GetAll` of `Modem.Signal` (its rate and signal dictionaries) and `Modem.Location`.
/// - `Location.GetLocation`, only when the serving-cell source is enabled but not published as a property.
///
/// Never `Signal.Setup`, `Enable`, `Reset`, `SetPowerState` or `Location.Setup`: the agent changes nothing.
/// Not thread-safe: one owner thread, like the connection it uses.
public final class ModemReader {
    private let connection: DBusConnection

    public init(connection: DBusConnection) {
        self.connection = connection
    }

    /// The modems ModemManager has, by object path, in path order.
    public func modems() throws(DBusError) -> [String] {
        try connection.managedObjects(destination: ModemManagerNames.service, path: ModemManagerNames.root)
            .filter { $0.interfaces.contains(ModemManagerNames.modem) }
            .map(\.path).sorted()
    }

    /// Whether the modem at `path` is the one a `modem: device:` setting names: its path, or its `Device` (sysfs
    /// path) or `DeviceIdentifier` (ModemManager's hash of the hardware, not a subscriber id).
    public func matches(_ path: String, selector: String) throws(DBusError) -> Bool {
        if path == selector { return true }
        for name in ["Device", "DeviceIdentifier"] {
            if try modemProperty(path, ModemManagerNames.modem, name).string == selector { return true }
        }
        return false
    }

    /// One poll of the modem at `path`. Throws when the modem itself cannot be read (it vanished, or ModemManager
    /// is gone); a part that is missing or refused is recorded in the snapshot instead.
    public func read(_ path: String) throws(DBusError) -> ModemSnapshot {
        let modem = ModemManagerNames.modem
        let state = try modemProperty(path, modem, "State").int ?? 0
        let technologies = try modemProperty(path, modem, "AccessTechnologies").uint ?? 0
        let quality = try modemProperty(path, modem, "SignalQuality").members?.first?.uint ?? 0
        var snapshot = ModemSnapshot(
            path: path, state: state, accessTechnologies: technologies, signalQuality: quality,
            registration: .notAvailable, operatorCode: .notAvailable, operatorName: .notAvailable,
            signalRate: .notAvailable, lte: .notAvailable, nr: .notAvailable, cell: .notAvailable, refusal: nil)
        readNetwork(into: &snapshot)
        try readSignal(into: &snapshot)
        try readCell(into: &snapshot)
        return snapshot
    }

    private func readNetwork(into snapshot: inout ModemSnapshot) {
        let gpp = ModemManagerNames.modem3gpp
        guard let registration = try? modemProperty(snapshot.path, gpp, "RegistrationState").uint else { return }
        snapshot.registration = .value(registration)
        guard snapshot.isRegistered else {
            snapshot.operatorCode = .notReady
            snapshot.operatorName = .notReady
            return
        }
        let code = (try? modemProperty(snapshot.path, gpp, "OperatorCode").string) ?? ""
        snapshot.operatorCode = Self.operatorCode(code).map { .value($0) } ?? .notAvailable
        let name = (try? modemProperty(snapshot.path, gpp, "OperatorName").string) ?? ""
        snapshot.operatorName = name.isEmpty ? .notAvailable : .value(name)
    }

    private func readSignal(into snapshot: inout ModemSnapshot) throws(DBusError) {
        // No Signal interface: ModemManager built without it, or a modem that cannot say.
        guard let all = try interfaceProperties(snapshot.path, ModemManagerNames.signal) else { return }
        guard let rate = all["Rate"]?.uint else { return }
        snapshot.signalRate = .value(rate)
        guard rate > 0 else {
            snapshot.lte = .disabled
            snapshot.nr = .disabled
            return
        }
        guard snapshot.isRegistered else {
            snapshot.lte = .notReady
            snapshot.nr = .notReady
            return
        }
        snapshot.lte = Self.signal(all["Lte"])
        snapshot.nr = Self.signal(all["Nr5g"])
    }

    private func readCell(into snapshot: inout ModemSnapshot) throws(DBusError) {
        guard let all = try interfaceProperties(snapshot.path, ModemManagerNames.location) else { return }
        guard let enabled = all["Enabled"]?.uint, enabled & ModemManagerNames.location3gppSource != 0 else {
            snapshot.cell = .disabled  // the agent never enables a location source
            return
        }
        var location = all["Location"]
        if all["SignalsLocation"]?.bool != true {
            do {
                location = try connection.method(
                    destination: ModemManagerNames.service, path: snapshot.path,
                    interface: ModemManagerNames.location, member: "GetLocation")
            } catch  where error.name == ModemManagerNames.unauthorized || error.name == DBusError.Name.accessDenied {
                snapshot.cell = .disabled
                snapshot.refusal = "reading the serving cell was refused (\(error)); the cell points say disabled"
                return
            }
        }
        guard let text = location?[ModemManagerNames.location3gppSource]?.string, let cell = Self.cell(text) else {
            snapshot.cell = snapshot.isRegistered ? .notAvailable : .notReady
            return
        }
        snapshot.cell = .value(cell)
    }

    /// An interface's properties (`GetAll`), or nil when the modem does not have the interface.
    private func interfaceProperties(_ path: String, _ interface: String) throws(DBusError) -> DBusValue? {
        do throws(DBusError) {
            return try connection.properties(destination: ModemManagerNames.service, path: path, interface: interface)
        } catch  where error.isObjectMissing {
            return nil
        }
    }

    private func modemProperty(_ path: String, _ interface: String, _ name: String) throws(DBusError) -> DBusValue {
        try connection.property(destination: ModemManagerNames.service, path: path, interface: interface, name: name)
    }

    /// `"45204"` → 45204. MCC and MNC are digits (MCC never starts with 0), so the number keeps every code apart.
    static func operatorCode(_ text: String) -> UInt32? {
        guard (5...6).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt32(text)
    }

    static func signal(_ value: DBusValue?) -> ModemSnapshot.Part<ModemSnapshot.Signal> {
        guard case .dictionary(let entries)? = value, !entries.isEmpty else { return .notAvailable }
        var values: [String: Double] = [:]
        for entry in entries {
            if let key = entry.key.string, let number = entry.value.double { values[key] = number }
        }
        return .value(ModemSnapshot.Signal(values: values))
    }

    /// ModemManager's 3GPP location string, `MCC,MNC,LAC,CI,TAC` with the last three in hex
    /// (`mm_location_3gpp_get_*`; LAC is 0 on LTE, TAC is 0 before LTE). Each field is read on its own, so a field
    /// that does not parse leaves the others; a 5G NR cell id has 36 bits.
    static func cell(_ text: String) -> ModemSnapshot.Cell? {
        let fields = text.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count >= 4 else { return nil }
        func hex(_ index: Int) -> UInt64? { fields.count > index ? UInt64(fields[index], radix: 16) : nil }
        let lac = hex(2).flatMap { UInt32(exactly: $0) }, tac = hex(4).flatMap { UInt32(exactly: $0) }, id = hex(3)
        guard lac != nil || tac != nil || id != nil else { return nil }
        return ModemSnapshot.Cell(lac: lac == 0 ? nil : lac, tac: tac == 0 ? nil : tac, cellID: id)
    }
}
