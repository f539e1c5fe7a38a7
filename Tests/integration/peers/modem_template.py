"""dbusmock template: ModemManager 1.20 modems, layered on dbusmock's own `modemmanager` template.

peers/modem_bus.py starts `python3 -m dbusmock --template modemmanager` and then loads this file into the
same mock with org.freedesktop.DBus.Mock.AddTemplate. It runs inside the mock (Debian's /usr/bin/python3 with
python3-dbus), not in pytest.

Why a second template: dbusmock 0.38's `modemmanager` template (since 0.32.1) only offers AddSimpleModem, which
puts one modem at /org/freedesktop/ModemManager1/Modems/8 (real ModemManager: .../Modem/N) with no
Modem.Signal, no Modem.Location and no Modem3gpp.RegistrationState, and its GetManagedObjects lists only paths
under .../Modems/. Here modems are built with dbusmock's own API (AddObject, AddProperties, AddMethods,
UpdateProperties, EmitSignal for ObjectManager.InterfacesAdded/InterfacesRemoved, RemoveObject) at the real path,
with the property names, D-Bus signatures and dictionary keys of ModemManager 1.20's introspection XML.

Control (org.freedesktop.DBus.Mock, on /org/freedesktop/ModemManager1; JSON strings keep the peer's client
free of D-Bus type marshalling):
    TramAddModem(s spec)              -> o   spec: see modem_bus.ModemBus.add_modem
    TramUpdateModem(u index, s changes)       changes: any spec key; emits PropertiesChanged for what changed
    TramRemoveModem(u index)                  unexport, then ObjectManager.InterfacesRemoved
"""

# pylint: disable=invalid-name
import json

import dbus

from dbusmock import MOCK_IFACE, OBJECT_MANAGER_IFACE, mockobject

MAIN_OBJ = "/org/freedesktop/ModemManager1"
MODEM_PREFIX = MAIN_OBJ + "/Modem/"      # MM_DBUS_MODEM_PREFIX
SIM_PREFIX = MAIN_OBJ + "/SIM/"
MODEM_IFACE = "org.freedesktop.ModemManager1.Modem"
MODEM_3GPP_IFACE = MODEM_IFACE + ".Modem3gpp"
SIGNAL_IFACE = MODEM_IFACE + ".Signal"
LOCATION_IFACE = MODEM_IFACE + ".Location"
SIM_IFACE = "org.freedesktop.ModemManager1.Sim"
UNAUTHORIZED = "org.freedesktop.ModemManager1.Error.Core.Unauthorized"   # MM_CORE_ERROR_UNAUTHORIZED

# MMModemAccessTechnology
AT_UMTS, AT_LTE, AT_5GNR = 1 << 5, 1 << 14, 1 << 15
# MMModemCapability
CAP_GSM_UMTS, CAP_LTE, CAP_5GNR = 1 << 2, 1 << 3, 1 << 6
# MMModemMode
MODE_2G, MODE_3G, MODE_4G, MODE_5G = 1 << 1, 1 << 2, 1 << 3, 1 << 4
# MMModemState
STATE_ENABLED, STATE_SEARCHING, STATE_REGISTERED = 6, 7, 8
# MMModem3gppRegistrationState values that count as registered: home, roaming, and their SMS-only / CSFB-not-
# preferred variants (6..9); 1.20 also has 11 attached-rlos.
REGISTERED = {1, 5, 6, 7, 8, 9, 11}
SEARCHING = 2
# MMModemLocationSource
LOC_3GPP_LAC_CI, LOC_GPS_RAW, LOC_GPS_NMEA = 1 << 0, 1 << 1, 1 << 2

TECH_BITS = {"lte": AT_LTE, "nr5g_nsa": AT_LTE | AT_5GNR, "nr5g_sa": AT_5GNR, "3g": AT_UMTS}

# index -> the modem's model: the spec as last set (JSON-shaped). D-Bus properties are rendered from it.
MODELS = {}


def _dict_sv(items):
    """An a{sv}; doubles typed as such, so empty and non-empty dicts both carry signature a{sv}."""
    return dbus.Dictionary({k: dbus.Double(v) for k, v in items.items() if v is not None}, signature="sv")


EMPTY_SV = dbus.Dictionary({}, signature="sv")


def _signal_quality(m):
    """Modem.SignalQuality percentage: from RSSI (LTE/3G) or, for 5G SA, from NR RSRP, linearly over the usual
    span (-113..-51 dBm RSSI, -140..-44 dBm RSRP) unless the spec gives one."""
    if m.get("signal_quality") is not None:
        return int(m["signal_quality"])
    if m["tech"] == "nr5g_sa":
        value, low, high = m["nr_rsrp"], -140.0, -44.0
    else:
        value, low, high = m["rssi"], -113.0, -51.0
    return max(0, min(100, round((value - low) * 100 / (high - low))))


def _registered(m):
    return int(m["registration"]) in REGISTERED


def _modem_state(m):
    if m.get("state") is not None:
        return int(m["state"])
    if _registered(m):
        return STATE_REGISTERED
    return STATE_SEARCHING if int(m["registration"]) == SEARCHING else STATE_ENABLED


def _location_string(m):
    """3GPP LAC/CI value as ModemManager formats it (mm_location_3gpp_get_string_variant):
    "%.3s,%s,%lX,%lX,%lX" of MCC, MNC, LAC, CI, TAC; none without an operator code or a cell."""
    loc = m.get("location")
    code = m["operator_code"] if _registered(m) else ""     # MM clears the 3GPP location when unregistered
    if not loc or not code:
        return None
    lac, tac, ci = (int(x) for x in loc)
    if not (lac or tac) or not ci:
        return None
    return f"{code[:3]},{code[3:]},{lac:X},{ci:X},{tac:X}"


def _location_dict(m):
    s = _location_string(m)
    if s is None or not (int(m["location_enabled"]) & LOC_3GPP_LAC_CI):
        return dbus.Dictionary({}, signature="uv")
    return dbus.Dictionary({dbus.UInt32(LOC_3GPP_LAC_CI): dbus.String(s, variant_level=1)}, signature="uv")


def _render(index, m):
    """interface -> {property: typed value}, as ModemManager 1.20 exports them."""
    tech = m["tech"]
    registered = _registered(m)
    access = TECH_BITS[tech] if registered else 0   # MM resets AccessTechnologies to UNKNOWN when unregistered
    polling = int(m["signal_rate"]) > 0             # Rate 0: MM resets every signal dict (check_interface_reset)
    lte = nr = umts = EMPTY_SV
    if polling and tech in ("lte", "nr5g_nsa"):
        lte = _dict_sv({"rssi": m["rssi"], "rsrq": m["rsrq"], "rsrp": m["rsrp"], "snr": m["snr"],
                        "error-rate": m.get("error_rate")})
    if polling and tech in ("nr5g_nsa", "nr5g_sa"):
        nr = _dict_sv({"rsrq": m["nr_rsrq"], "rsrp": m["nr_rsrp"], "snr": m["nr_snr"],
                       "error-rate": m.get("nr_error_rate")})
    if polling and tech == "3g":
        umts = _dict_sv({"rssi": m["rssi"], "rscp": m["rscp"], "ecio": m["ecio"], "error-rate": m.get("error_rate")})
    caps = {"3g": CAP_GSM_UMTS, "lte": CAP_GSM_UMTS | CAP_LTE}.get(tech, CAP_GSM_UMTS | CAP_LTE | CAP_5GNR)
    modes = {"3g": MODE_2G | MODE_3G, "lte": MODE_2G | MODE_3G | MODE_4G}.get(tech,
                                                                           MODE_2G | MODE_3G | MODE_4G | MODE_5G)
    preferred = {"3g": MODE_3G, "lte": MODE_4G}.get(tech, MODE_5G)
    imei = m["imei"]
    u = dbus.UInt32
    return {
        MODEM_IFACE: {
            "Sim": dbus.ObjectPath(f"{SIM_PREFIX}{index}"),
            "SimSlots": dbus.Array([], signature="o"),
            "PrimarySimSlot": u(0),
            "Bearers": dbus.Array([], signature="o"),
            "SupportedCapabilities": dbus.Array([u(caps)], signature="u"),
            "CurrentCapabilities": u(caps),
            "MaxBearers": u(1),
            "MaxActiveBearers": u(1),
            "MaxActiveMultiplexedBearers": u(1),
            "Manufacturer": dbus.String(m["manufacturer"]),
            "Model": dbus.String(m["model"]),
            "Revision": dbus.String(m["revision"]),
            "CarrierConfiguration": dbus.String("ROW_Generic_3GPP"),
            "CarrierConfigurationRevision": dbus.String("0A010809"),
            "HardwareRevision": dbus.String(m["model"]),
            "DeviceIdentifier": dbus.String(m["device_identifier"]),
            "Device": dbus.String(m["device"]),
            "Drivers": dbus.Array(["qmi_wwan", "option"], signature="s"),
            "Plugin": dbus.String("quectel"),
            "PrimaryPort": dbus.String(f"cdc-wdm{index}"),
            "Ports": dbus.Array([dbus.Struct((f"cdc-wdm{index}", u(6)), signature="su"),    # MM_MODEM_PORT_TYPE_QMI
                                 dbus.Struct((f"ttyUSB{3 * index + 2}", u(3)), signature="su")],  # ..._AT
                                signature="(su)"),
            "EquipmentIdentifier": dbus.String(imei),
            "UnlockRequired": u(1),                                    # MM_MODEM_LOCK_NONE
            "UnlockRetries": dbus.Dictionary({}, signature="uu"),
            "State": dbus.Int32(_modem_state(m)),
            "StateFailedReason": u(0),
            "AccessTechnologies": u(access),
            "SignalQuality": dbus.Struct((u(_signal_quality(m) if registered else 0), dbus.Boolean(True)),
                                         signature="ub"),
            "OwnNumbers": dbus.Array([], signature="s"),
            "PowerState": u(3),                                        # MM_MODEM_POWER_STATE_ON
            "SupportedModes": dbus.Array([dbus.Struct((u(modes), u(preferred)), signature="uu")], signature="(uu)"),
            "CurrentModes": dbus.Struct((u(modes), u(preferred)), signature="uu"),
            "SupportedBands": dbus.Array([u(0)], signature="u"),      # MM_MODEM_BAND_UNKNOWN
            "CurrentBands": dbus.Array([u(0)], signature="u"),
            "SupportedIpFamilies": u(7),                               # IPv4 | IPv6 | IPv4v6
        },
        MODEM_3GPP_IFACE: {
            "Imei": dbus.String(imei),
            "RegistrationState": u(int(m["registration"])),
            "OperatorCode": dbus.String(m["operator_code"] if registered else ""),
            "OperatorName": dbus.String(m["operator_name"] if registered else ""),
            "EnabledFacilityLocks": u(0),
            "SubscriptionState": u(0),                                 # deprecated; unknown
            "EpsUeModeOperation": u(2),                                # MM_MODEM_3GPP_EPS_UE_MODE_OPERATION_PS_2
            "Pco": dbus.Array([], signature="(ubay)"),
            "InitialEpsBearer": dbus.ObjectPath("/"),
            "InitialEpsBearerSettings": EMPTY_SV,
            "PacketServiceState": u(2 if registered else 1),           # attached / detached
            "Nr5gRegistrationSettings": EMPTY_SV,
        },
        SIGNAL_IFACE: {
            "Rate": u(int(m["signal_rate"])),
            "RssiThreshold": u(0),
            "ErrorRateThreshold": dbus.Boolean(False),
            "Cdma": EMPTY_SV,
            "Evdo": EMPTY_SV,
            "Gsm": EMPTY_SV,
            "Umts": umts,
            "Lte": lte,
            "Nr5g": nr,
        },
        LOCATION_IFACE: {
            "Capabilities": u(LOC_3GPP_LAC_CI | LOC_GPS_RAW | LOC_GPS_NMEA),
            "SupportedAssistanceData": u(0),
            "Enabled": u(int(m["location_enabled"])),
            "SignalsLocation": dbus.Boolean(bool(m["signals_location"])),
            # The property carries the location only when SignalsLocation is set; else GetLocation() must be used.
            "Location": _location_dict(m) if m["signals_location"] else dbus.Dictionary({}, signature="uv"),
            "SuplServer": dbus.String(""),
            "AssistanceDataServers": dbus.Array([], signature="s"),
            "GpsRefreshRate": u(30),
        },
    }


def _sim_props(m):
    return {
        "Active": dbus.Boolean(True),
        "SimIdentifier": dbus.String(m["iccid"]),
        "Imsi": dbus.String(m["operator_code"] + "0123456789"[: 15 - len(m["operator_code"])]),
        "OperatorIdentifier": dbus.String(m["operator_code"]),
        "OperatorName": dbus.String(m["operator_name"]),
        "Eid": dbus.String(""),
        "EmergencyNumbers": dbus.Array([], signature="s"),
        "PreferredNetworks": dbus.Array([], signature="(su)"),
    }


# ----------------------------------------------------------------- methods on the modem objects

def _index_of(obj):
    return int(obj.path.rsplit("/", 1)[1])


def _signal_setup(self, rate):
    """Signal.Setup(u rate): changes Rate; 0 empties the dicts, as ModemManager does."""
    index = _index_of(self)
    MODELS[index]["signal_rate"] = int(rate)
    _apply(index)


def _location_get(self):
    """Location.GetLocation() -> a{uv}; raises Core.Unauthorized when the scenario refuses it (polkit says no)."""
    m = MODELS[_index_of(self)]
    if m["location_refused"]:
        raise dbus.exceptions.DBusException(
            "PolicyKit authorization failed: not authorized for 'org.freedesktop.ModemManager1.Location'",
            name=UNAUTHORIZED)
    return _location_dict(m)


def _location_setup(self, sources, signal_location):
    """Location.Setup(u sources, b signal_location)."""
    index = _index_of(self)
    m = MODELS[index]
    if m["location_refused"]:
        raise dbus.exceptions.DBusException(
            "PolicyKit authorization failed: not authorized for 'org.freedesktop.ModemManager1.Location'",
            name=UNAUTHORIZED)
    m["location_enabled"], m["signals_location"] = int(sources), bool(signal_location)
    _apply(index)


# ----------------------------------------------------------------- control

DEFAULTS = {
    "tech": "lte", "rsrp": -95.0, "rsrq": -11.0, "snr": 12.0, "rssi": -65.0,
    "nr_rsrp": -90.0, "nr_rsrq": -12.0, "nr_snr": 15.0, "rscp": -85.0, "ecio": -7.0,
    "error_rate": None, "nr_error_rate": None,
    "registration": 1, "operator_code": "45204", "operator_name": "Viettel", "signal_rate": 30,
    "location": None, "location_refused": False, "signals_location": False, "location_enabled": None,
    "state": None, "signal_quality": None,
    "manufacturer": "Quectel", "model": None, "revision": None, "imei": None, "iccid": None,
    "device": None, "device_identifier": None,
}


def _fill(index, spec):
    unknown = set(spec) - set(DEFAULTS) - {"index"}
    if unknown:
        raise dbus.exceptions.DBusException(f"unknown modem keys {sorted(unknown)}",
                                            name="org.freedesktop.DBus.Mock.InvalidArgs")
    m = dict(DEFAULTS, **spec)
    if m["tech"] not in TECH_BITS:
        raise dbus.exceptions.DBusException(f"tech must be one of {sorted(TECH_BITS)}",
                                            name="org.freedesktop.DBus.Mock.InvalidArgs")
    five_g = m["tech"].startswith("nr5g")
    m["model"] = m["model"] or ("RM520N-GL" if five_g else "EC25")
    m["revision"] = m["revision"] or ("RM520NGLAAR03A03M4G" if five_g else "EC25EFAR06A08M4G")
    m["imei"] = m["imei"] or f"86{index:013d}"
    m["iccid"] = m["iccid"] or f"89840{index:014d}"
    m["device"] = m["device"] or f"/sys/devices/pci0000:00/0000:00:14.0/usb2/2-{index + 1}"
    m["device_identifier"] = m["device_identifier"] or f"{index + 1:040x}"
    if m["location_enabled"] is None:
        m["location_enabled"] = LOC_3GPP_LAC_CI if m["location"] else 0
    return m


def _apply(index):
    """Render the model and UpdateProperties each interface whose values changed (one PropertiesChanged per
    interface, like GDBus skeletons flushing)."""
    obj = mockobject.objects[f"{MODEM_PREFIX}{index}"]
    for iface, props in _render(index, MODELS[index]).items():
        current = obj.props[iface]
        changed = {k: v for k, v in props.items() if k not in current or current[k] != v
                   or getattr(current[k], "signature", None) != getattr(v, "signature", None)}
        if changed:
            obj.UpdateProperties(iface, changed)


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="o")
def TramAddModem(self, spec_json):
    """Export a modem at /org/freedesktop/ModemManager1/Modem/INDEX and emit InterfacesAdded."""
    spec = json.loads(spec_json)
    index = int(spec.get("index", 0))
    path = f"{MODEM_PREFIX}{index}"
    if path in mockobject.objects:
        raise dbus.exceptions.DBusException(f"modem {index} exists", name="org.freedesktop.DBus.Mock.NameError")
    m = _fill(index, spec)
    MODELS[index] = m
    ifaces = _render(index, m)

    self.AddObject(path, MODEM_IFACE, ifaces[MODEM_IFACE], [])
    modem = mockobject.objects[path]
    for iface in (MODEM_3GPP_IFACE, SIGNAL_IFACE, LOCATION_IFACE):
        modem.AddProperties(iface, ifaces[iface])
    modem.AddMethods(SIGNAL_IFACE, [("Setup", "u", "", _signal_setup)])
    modem.AddMethods(LOCATION_IFACE, [("GetLocation", "", "a{uv}", _location_get),
                                      ("Setup", "ub", "", _location_setup)])
    # The SIM is a plain exported object, not one of the ObjectManager's (as in ModemManager).
    self.AddObject(f"{SIM_PREFIX}{index}", SIM_IFACE, _sim_props(m), [])

    self.EmitSignal(OBJECT_MANAGER_IFACE, "InterfacesAdded", "oa{sa{sv}}",
                    [dbus.ObjectPath(path), dbus.Dictionary(modem.props, signature="sa{sv}")])
    return dbus.ObjectPath(path)


@dbus.service.method(MOCK_IFACE, in_signature="us", out_signature="")
def TramUpdateModem(self, index, changes_json):  # pylint: disable=unused-argument
    """Change spec keys of a modem; PropertiesChanged for each interface whose values changed."""
    index = int(index)
    if index not in MODELS:
        raise dbus.exceptions.DBusException(f"no modem {index}", name="org.freedesktop.DBus.Mock.NameError")
    MODELS[index] = _fill(index, dict(MODELS[index], **json.loads(changes_json)))
    _apply(index)


@dbus.service.method(MOCK_IFACE, in_signature="u", out_signature="")
def TramRemoveModem(self, index):
    """Unexport the modem (and its SIM), then emit InterfacesRemoved, the order GDBusObjectManagerServer uses."""
    index = int(index)
    path = f"{MODEM_PREFIX}{index}"
    if path not in mockobject.objects:
        raise dbus.exceptions.DBusException(f"no modem {index}", name="org.freedesktop.DBus.Mock.NameError")
    interfaces = dbus.Array(list(mockobject.objects[path].props), signature="s")
    self.RemoveObject(path)
    self.RemoveObject(f"{SIM_PREFIX}{index}")
    del MODELS[index]
    self.EmitSignal(OBJECT_MANAGER_IFACE, "InterfacesRemoved", "oas", [dbus.ObjectPath(path), interfaces])


def _managed_objects(_self):
    return dbus.Dictionary({dbus.ObjectPath(k): dbus.Dictionary(o.props, signature="sa{sv}")
                            for k, o in mockobject.objects.items() if k.startswith(MODEM_PREFIX)},
                           signature="oa{sa{sv}}")


def load(mock, parameters):  # pylint: disable=unused-argument
    # Replaces the upstream template's GetManagedObjects, which lists .../Modems/ only.
    mock.AddMethod(OBJECT_MANAGER_IFACE, "GetManagedObjects", "", "a{oa{sa{sv}}}", _managed_objects)
