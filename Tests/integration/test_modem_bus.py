"""Self-tests of peers/modem_bus.py: the simulated ModemManager looks like ModemManager 1.20 to a client.

Every check goes through an independent client (busctl --json, dbus-send, busctl monitor), never through the
harness's own reading of its state. Each test has its own bus; no tram-agent needed.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
from pathlib import Path

import pytest
from peers.modem_bus import (LOCATION_IFACE, MM_BUS_NAME, MM_PATH, MODEM_3GPP_IFACE, MODEM_IFACE, SIGNAL_IFACE,
                             UNAUTHORIZED, ModemBus, ModemBusError)

M0 = "/org/freedesktop/ModemManager1/Modem/0"
LTE, NR = 0x4000, 0x8000
FOUR = {MODEM_IFACE, MODEM_3GPP_IFACE, SIGNAL_IFACE, LOCATION_IFACE}


# ----------------------------------------------------------------- independent clients

def busctl(bus: ModemBus, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(["busctl", f"--address={bus.address}", "--json=short", *args], capture_output=True,
                         text=True, timeout=10, stdin=subprocess.DEVNULL)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def prop(bus: ModemBus, path: str, iface: str, name: str) -> dict:
    """busctl get-property as {"type": SIG, "data": VALUE}."""
    return json.loads(busctl(bus, "get-property", MM_BUS_NAME, path, iface, name).stdout)


def value(bus: ModemBus, path: str, iface: str, name: str):
    return prop(bus, path, iface, name)["data"]


def managed_objects(bus: ModemBus) -> dict:
    out = json.loads(busctl(bus, "call", MM_BUS_NAME, MM_PATH, "org.freedesktop.DBus.ObjectManager",
                            "GetManagedObjects").stdout)
    assert out["type"] == "a{oa{sa{sv}}}"
    return out["data"][0]


def a_uv(text: str) -> dict[int, tuple[str, object]]:
    """busctl's text form of an a{uv} (its --json cannot print integer-keyed dicts): {key: (type, value)}.
    Only string and unsigned values occur here (3GPP location strings)."""
    sig, n, *rest = shlex.split(text)
    assert sig == "a{uv}" and len(rest) == 3 * int(n), text
    return {int(rest[i]): (rest[i + 1], rest[i + 2] if rest[i + 1] == "s" else int(rest[i + 2]))
            for i in range(0, len(rest), 3)}


def get_location(bus: ModemBus, path: str = M0) -> dict[int, tuple[str, object]]:
    out = subprocess.run(["busctl", f"--address={bus.address}", "call", MM_BUS_NAME, path, LOCATION_IFACE,
                          "GetLocation"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return a_uv(out.stdout)


def location_property(bus: ModemBus, path: str = M0) -> dict[int, tuple[str, object]]:
    out = subprocess.run(["busctl", f"--address={bus.address}", "get-property", MM_BUS_NAME, path, LOCATION_IFACE,
                          "Location"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return a_uv(out.stdout)


def dbus_send(bus: ModemBus, path: str, method: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dbus-send", f"--bus={bus.address}", "--print-reply", f"--dest={MM_BUS_NAME}", path,
                           method, *args], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)


def doubles(sv: dict) -> dict[str, float]:
    """An a{sv} from busctl --json whose every value must be a double: {key: float}."""
    assert all(v["type"] == "d" for v in sv.values()), sv
    return {k: v["data"] for k, v in sv.items()}


class Monitor:
    """`busctl monitor` on ModemManager's name: the messages it saw, as busctl's JSON objects."""

    def __init__(self, bus: ModemBus):
        self.proc = subprocess.Popen(["busctl", f"--address={bus.address}", "--json=short", "monitor",
                                      MM_BUS_NAME], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL)
        ready = threading.Event()

        def wait_ready():
            self.proc.stderr.readline()   # "Monitoring bus message stream." once BecomeMonitor succeeded
            ready.set()
        threading.Thread(target=wait_ready, daemon=True).start()
        assert ready.wait(10), "busctl monitor did not start"

    def signals(self, member: str, count: int = 1, timeout: float = 10, settle: float = 0.3) -> list[dict]:
        """The `member` signals seen: read until `count` of them have arrived (or `timeout`), then `settle` longer for
        any extra one, so a loaded machine cannot make busctl's output arrive after the test looked."""
        seen: list[dict] = []
        done = threading.Event()

        def pump():
            for line in self.proc.stdout:
                if not line.strip():
                    continue
                message = json.loads(line)
                if message.get("type") == "signal" and message.get("member") == member:
                    seen.append(message)
                    if len(seen) >= count:
                        done.set()
            done.set()
        threading.Thread(target=pump, daemon=True).start()
        done.wait(timeout)
        time.sleep(settle)
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return list(seen)


@pytest.fixture
def bus(modem_bus):
    return modem_bus


# ----------------------------------------------------------------- discovery

def test_object_manager_lists_the_modem_at_modemmanagers_path(bus):
    assert managed_objects(bus) == {}
    assert bus.add_modem(0) == M0
    objects = managed_objects(bus)
    assert list(objects) == [M0]                      # .../Modem/0, not the dbusmock template's .../Modems/N
    ifaces = objects[M0]
    assert set(ifaces) == FOUR
    modem = ifaces[MODEM_IFACE]
    assert modem["State"] == {"type": "i", "data": 8}                 # registered
    assert modem["AccessTechnologies"] == {"type": "u", "data": LTE}
    assert modem["SignalQuality"]["type"] == "(ub)" and modem["SignalQuality"]["data"][1] is True
    assert 0 < modem["SignalQuality"]["data"][0] <= 100
    assert modem["Device"]["type"] == "s" and modem["DeviceIdentifier"]["type"] == "s"
    gpp = ifaces[MODEM_3GPP_IFACE]
    assert gpp["OperatorCode"] == {"type": "s", "data": "45204"}
    assert gpp["OperatorName"] == {"type": "s", "data": "Viettel"}
    assert gpp["RegistrationState"] == {"type": "u", "data": 1}       # home
    sig = ifaces[SIGNAL_IFACE]
    assert sig["Rate"] == {"type": "u", "data": 30}
    assert sig["Lte"]["type"] == "a{sv}" and sig["Nr5g"] == {"type": "a{sv}", "data": {}}
    loc = ifaces[LOCATION_IFACE]
    assert loc["Enabled"] == {"type": "u", "data": 0}
    assert loc["SignalsLocation"] == {"type": "b", "data": False}
    assert loc["Location"] == {"type": "a{uv}", "data": {}}
    # ModemManager's own object: the version; busctl tree shows the modem and its SIM.
    assert value(bus, MM_PATH, "org.freedesktop.ModemManager1", "Version") == "1.20.6"
    tree = subprocess.run(["busctl", f"--address={bus.address}", "tree", MM_BUS_NAME, "--list"],
                          capture_output=True, text=True, timeout=10).stdout.split()
    assert M0 in tree and "/org/freedesktop/ModemManager1/SIM/0" in tree
    assert not any("/Modems/" in p for p in tree)


def test_interfaces_added_carries_all_four_interfaces(bus):
    mon = Monitor(bus)
    bus.add_modem(0)
    bus.add_modem(1, tech="nr5g_sa")
    added = mon.signals("InterfacesAdded")
    assert [(s["path"], s["interface"]) for s in added] == [(MM_PATH, "org.freedesktop.DBus.ObjectManager")] * 2
    assert [s["payload"]["type"] for s in added] == ["oa{sa{sv}}"] * 2
    assert [s["payload"]["data"][0] for s in added] == [M0, "/org/freedesktop/ModemManager1/Modem/1"]
    assert all(set(s["payload"]["data"][1]) == FOUR for s in added)
    assert set(managed_objects(bus)) == {M0, "/org/freedesktop/ModemManager1/Modem/1"}


# ----------------------------------------------------------------- signal

def test_lte_signal_is_doubles_with_modemmanagers_keys(bus):
    bus.add_modem(0, tech="lte", rsrp=-97.5, rsrq=-10.5, snr=13.25, rssi=-67.0, error_rate=1.5)
    lte = prop(bus, M0, SIGNAL_IFACE, "Lte")
    assert lte["type"] == "a{sv}"
    assert doubles(lte["data"]) == {"rsrp": -97.5, "rsrq": -10.5, "snr": 13.25, "rssi": -67.0, "error-rate": 1.5}
    assert value(bus, M0, SIGNAL_IFACE, "Nr5g") == {}           # an LTE modem gives no NR values
    assert value(bus, M0, SIGNAL_IFACE, "Umts") == {}
    assert value(bus, M0, SIGNAL_IFACE, "Rate") == 30


@pytest.mark.parametrize("tech,access,lte_keys,nr_keys", [
    ("lte", LTE, {"rssi", "rsrq", "rsrp", "snr"}, set()),
    ("nr5g_nsa", LTE | NR, {"rssi", "rsrq", "rsrp", "snr"}, {"rsrq", "rsrp", "snr"}),
    ("nr5g_sa", NR, set(), {"rsrq", "rsrp", "snr"}),
    ("3g", 0x20, set(), set()),
])
def test_technologies(bus, tech, access, lte_keys, nr_keys):
    bus.add_modem(0, tech=tech, nr_rsrp=-88.0)
    assert prop(bus, M0, MODEM_IFACE, "AccessTechnologies") == {"type": "u", "data": access}
    assert set(doubles(value(bus, M0, SIGNAL_IFACE, "Lte"))) == lte_keys
    nr = doubles(value(bus, M0, SIGNAL_IFACE, "Nr5g"))
    assert set(nr) == nr_keys
    if nr_keys:
        assert nr["rsrp"] == -88.0
    umts = doubles(value(bus, M0, SIGNAL_IFACE, "Umts"))
    assert set(umts) == ({"rssi", "rscp", "ecio"} if tech == "3g" else set())


def test_set_signal_changes_values_and_emits_properties_changed(bus):
    bus.add_modem(0, tech="nr5g_nsa")
    mon = Monitor(bus)
    bus.set_signal(rsrp=-110.0, nr_snr=3.5, nr_error_rate=2.0)
    changed = mon.signals("PropertiesChanged")
    assert len(changed) == 1 and changed[0]["path"] == M0
    iface, props, _ = changed[0]["payload"]["data"]
    assert changed[0]["payload"]["type"] == "sa{sv}as" and iface == SIGNAL_IFACE
    assert set(props) == {"Lte", "Nr5g"}
    assert doubles(value(bus, M0, SIGNAL_IFACE, "Lte"))["rsrp"] == -110.0
    assert doubles(value(bus, M0, SIGNAL_IFACE, "Nr5g")) == {"rsrq": -12.0, "rsrp": -90.0, "snr": 3.5,
                                                             "error-rate": 2.0}


def test_signal_rate_zero_empties_every_dict_and_setup_turns_it_back_on(bus):
    bus.add_modem(0, tech="nr5g_nsa")
    bus.set_signal_rate(0)
    assert value(bus, M0, SIGNAL_IFACE, "Rate") == 0
    for name in ("Cdma", "Evdo", "Gsm", "Umts", "Lte", "Nr5g"):
        assert prop(bus, M0, SIGNAL_IFACE, name) == {"type": "a{sv}", "data": {}}
    # A client's Signal.Setup(u rate), as ModemManager offers it.
    busctl(bus, "call", MM_BUS_NAME, M0, SIGNAL_IFACE, "Setup", "u", "10")
    assert value(bus, M0, SIGNAL_IFACE, "Rate") == 10
    assert doubles(value(bus, M0, SIGNAL_IFACE, "Lte"))["rsrp"] == -95.0
    calls = bus.calls()
    assert [line.split()[1:] for line in calls if " Setup " in f"{line} "] == [["Setup", "10"]]
    # Only clients' calls: not the harness's control calls, not the emitted signals (they carry every property).
    assert not any("Tram" in line or " emit " in line or "Imei" in line for line in calls), calls
    assert any(" Get " in f" {line} " and line.endswith(f"{SIGNAL_IFACE}.Rate") for line in calls), calls


# ----------------------------------------------------------------- registration

def test_registration_lost_and_regained(bus):
    bus.add_modem(0, tech="nr5g_nsa", operator_code="45204", operator_name="Viettel")
    bus.set_registration(2)                                        # searching
    assert value(bus, M0, MODEM_3GPP_IFACE, "RegistrationState") == 2
    assert value(bus, M0, MODEM_IFACE, "State") == 7
    assert value(bus, M0, MODEM_3GPP_IFACE, "OperatorCode") == ""
    assert value(bus, M0, MODEM_3GPP_IFACE, "OperatorName") == ""
    assert value(bus, M0, MODEM_IFACE, "AccessTechnologies") == 0
    bus.set_registration(5, operator_code="45201", operator_name="MobiFone")   # roaming
    assert value(bus, M0, MODEM_3GPP_IFACE, "RegistrationState") == 5
    assert value(bus, M0, MODEM_IFACE, "State") == 8
    assert value(bus, M0, MODEM_3GPP_IFACE, "OperatorCode") == "45201"
    assert value(bus, M0, MODEM_3GPP_IFACE, "OperatorName") == "MobiFone"
    assert value(bus, M0, MODEM_IFACE, "AccessTechnologies") == LTE | NR


# ----------------------------------------------------------------- location

def test_get_location_gives_the_3gpp_string(bus):
    bus.add_modem(0, location=(0x84CD, 0x1A2B, 0xD30156))
    assert value(bus, M0, LOCATION_IFACE, "Enabled") == 1                       # MM_MODEM_LOCATION_SOURCE_3GPP_LAC_CI
    # "MCC,MNC,LAC,CI,TAC", upper-case hex without leading zeros (mm_location_3gpp_get_string_variant).
    assert get_location(bus) == {1: ("s", "452,04,84CD,D30156,1A2B")}
    assert location_property(bus) == {}                                        # SignalsLocation is off
    bus.set_location((0, 0x6FFE, 0x2BAF))
    assert get_location(bus) == {1: ("s", "452,04,0,2BAF,6FFE")}
    bus.set_location(None)
    assert value(bus, M0, LOCATION_IFACE, "Enabled") == 0
    assert get_location(bus) == {}


def test_location_property_when_signals_location(bus):
    bus.add_modem(0, location=(1, 2, 3), signals_location=True)
    assert prop(bus, M0, LOCATION_IFACE, "SignalsLocation") == {"type": "b", "data": True}
    assert location_property(bus) == {1: ("s", "452,04,1,3,2")}


def test_get_location_unauthorised_raises_modemmanagers_error(bus):
    bus.add_modem(0, location=(1, 2, 3))
    assert dbus_send(bus, M0, LOCATION_IFACE + ".GetLocation").returncode == 0
    bus.make_get_location_unauthorised()
    out = dbus_send(bus, M0, LOCATION_IFACE + ".GetLocation")
    assert out.returncode != 0
    assert out.stderr.startswith(f"Error {UNAUTHORIZED}:"), out.stderr
    bus.add_modem(1, location=(1, 2, 3), location_refused=True)
    assert dbus_send(bus, "/org/freedesktop/ModemManager1/Modem/1",
                     LOCATION_IFACE + ".GetLocation").stderr.startswith(f"Error {UNAUTHORIZED}:")


# ----------------------------------------------------------------- removal and lifecycle

def test_remove_modem_emits_interfaces_removed_and_the_object_is_gone(bus):
    bus.add_modem(0)
    bus.add_modem(1)
    mon = Monitor(bus)
    bus.remove_modem(0)
    removed = mon.signals("InterfacesRemoved")
    assert len(removed) == 1 and removed[0]["payload"]["type"] == "oas"
    path, ifaces = removed[0]["payload"]["data"]
    assert path == M0 and set(ifaces) == FOUR
    assert list(managed_objects(bus)) == ["/org/freedesktop/ModemManager1/Modem/1"]
    gone = dbus_send(bus, M0, "org.freedesktop.DBus.Properties.Get", f"string:{MODEM_IFACE}", "string:State")
    # GDBus (ModemManager) answers a path with no object with UnknownMethod too.
    assert gone.returncode != 0 and gone.stderr.startswith("Error org.freedesktop.DBus.Error.UnknownMethod"), gone
    with pytest.raises(ModemBusError):
        bus.remove_modem(0)
    bus.add_modem(0, tech="nr5g_sa")                    # the modem comes back after its USB reset
    assert value(bus, M0, MODEM_IFACE, "AccessTechnologies") == NR


def test_modemmanager_going_away_and_the_bus_stopping():
    bus = ModemBus().start()
    try:
        bus.add_modem(0)
        owner = lambda: json.loads(busctl(bus, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",  # noqa: E731
                                          "org.freedesktop.DBus", "NameHasOwner", "s", MM_BUS_NAME).stdout)["data"]
        assert owner() == [True]
        bus.stop_modemmanager()
        assert owner() == [False]
        bus.restart_modemmanager()
        assert owner() == [True] and managed_objects(bus) == {}
        pids = [bus.daemon.pid, bus.mock.pid]
        socket_dir = Path(bus.dir)
        assert oct(socket_dir.stat().st_mode & 0o777) == "0o755"    # reachable by an agent running as nobody
    finally:
        bus.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not socket_dir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to nobody")
def test_a_client_running_as_nobody_reaches_the_bus(bus):
    """test_deploy.py runs the agent as nobody: the socket and the bus policy must let it in."""
    bus.add_modem(0)
    out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "busctl",
                          f"--address={bus.address}", "get-property", MM_BUS_NAME, M0, MODEM_IFACE, "State"],
                         capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert (out.returncode, out.stdout) == (0, "i 8\n"), out.stderr
