"""The built-in devices end to end: a simulated ModemManager (python-dbusmock on a private dbus-daemon, peers/
modem_bus.py) → tram-agent's `modem` and `gateway` devices → tram-collector (SQLite read back directly).

Each scenario changes what ModemManager shows and waits for the agent's next modem reading at the collector with the
values and qualities it must have. The agent polls the modem every second; every wait is a deadline on a condition.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import TRAMCTL, wait_for
from test_agent import AGENT_BIN, COLLECTOR_BIN, Agent, rows, start_collector

import sys
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from modem_bus import ModemBus  # noqa: E402

# Wire quality codes (docs/wire-format.md): what the collector stores in readings.quality.
GOOD, NOT_AVAILABLE, DISABLED, ABSENT, NOT_READY = 0, 1, 8, 9, 10
SIGNAL = ("lte_rsrp", "lte_rsrq", "lte_snr", "lte_rssi", "lte_error_rate", "nr_rsrp", "nr_rsrq", "nr_snr",
          "nr_error_rate")
IDENTIFYING = ("EquipmentIdentifier", "Imei", "OwnNumbers", "Sim", "Imsi", "SimIdentifier", "Msisdn")


@pytest.fixture
def bus():
    with ModemBus() as modem_bus:
        yield modem_bus


def config(tmp_path: Path, collector_url: str | None, token_file: Path | None, *, modem: dict | None = None,
           health: dict | None = None) -> Path:
    doc = {
        "gateway": {"id": "gw-e2e", "site": "Thang Long II", "health": health or {"poll_interval": "1s"}},
        "links": [],
        "devices": [],
        "spool": {"directory": str(tmp_path / "spool"), "sync_interval": "100ms"},
        "batch": {"max_age": "200ms"},
        "control": {"socket": str(tmp_path / "agent.sock"), "metrics_port": None},
    }
    if modem is not None:
        doc["modem"] = modem
    if collector_url:
        doc["sinks"] = [{"name": "park", "url": collector_url + "/v1/ingest", "token_file": str(token_file),
                         "connect_timeout": "2s", "request_timeout": "5s"}]
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Readings:
    """The collector's stored readings of one device, newest first per point."""

    def __init__(self, db: Path, device: str):
        self.db, self.device = db, device

    def latest(self) -> dict[str, tuple]:
        """point → (time_ms, value, raw_int, raw_text, quality) of its newest reading."""
        out: dict[str, tuple] = {}
        for name, t, value, raw, text, quality in rows(
                self.db, "SELECT p.name, r.time_ms, r.value, r.raw_int, r.raw_text, r.quality FROM readings r "
                         "JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device "
                         f"WHERE d.name = '{self.device}' ORDER BY r.time_ms"):
            out[name] = (t, value, raw, text, quality)
        return out

    def wait(self, predicate, what: str, timeout: float = 20) -> dict[str, tuple]:
        """The newest readings once `predicate(latest)` holds for a cycle stamped after this call."""
        since = int(time.time() * 1000)
        found: dict = {}

        def ready():
            nonlocal found
            found = self.latest()
            return found and min(v[0] for v in found.values()) > since and predicate(found)
        try:
            wait_for(ready, timeout, what)
        except AssertionError as error:
            raise AssertionError(f"{error}; last seen {json.dumps(found, default=str)[:1500]}") from None
        return found


def quality(found, *names):
    return {found[name][4] for name in names}


def test_modem_scenarios_against_simulated_modemmanager(procs, bus, tmp_path):
    collector, db, token_file = start_collector(procs, tmp_path)
    bus.add_modem(0, "lte", rsrp=-95.5, rsrq=-11.0, snr=12.25, rssi=-65.0, operator_name="Viettel")
    agent = Agent(procs, config(tmp_path, collector.url, token_file, modem={"poll_interval": "1s"}), tmp_path,
                  env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
    modem = Readings(db, "modem")

    # An LTE modem: values exactly as ModemManager gives them; NR not available; no location source: disabled.
    found = modem.wait(lambda f: f.get("lte_rsrp", (0, None))[1] == -95.5, "an LTE modem's readings")
    assert found["lte_rsrq"][1] == -11.0 and found["lte_snr"][1] == 12.25 and found["lte_rssi"][1] == -65.0
    assert quality(found, "lte_rsrp", "lte_rsrq", "lte_snr", "lte_rssi") == {GOOD}
    assert quality(found, "lte_error_rate", "nr_rsrp", "nr_rsrq", "nr_snr", "nr_error_rate") == {NOT_AVAILABLE}
    assert found["technology"][2] == 4 and found["access_technologies"][2] == 0x4000
    assert found["operator_code"][2] == 45204 and found["operator_name"][3] == "Viettel"
    assert found["registration_state"][2] == 1 and found["signal_rate"][2] == 30
    assert quality(found, "cell_lac", "cell_tac", "cell_id") == {DISABLED}
    link = agent.status()["link"]
    assert link["technology"] == "LTE" and link["rsrp"] == -95.5 and link["snr"] == 12.25
    assert link["operator"] == "Viettel" and link["quality"] == "good"
    screen = subprocess.run([str(TRAMCTL), "status", "--socket", str(agent.socket)], capture_output=True, text=True,
                            timeout=10).stdout
    assert "LINK LTE  RSRP -95.5 dBm  SNR 12.2 dB  Viettel" in screen or "LINK LTE  RSRP -95.5 dBm  SNR 12.3 dB  Viettel" in screen, screen

    # 5G NSA: both dictionaries filled; the status line shows the NR leg.
    bus.set_signal(tech="nr5g_nsa", nr_rsrp=-101.0, nr_rsrq=-13.5, nr_snr=9.0)
    found = modem.wait(lambda f: f["technology"][2] == 5 and f["nr_rsrp"][1] == -101.0, "5G NSA readings")
    assert found["nr_rsrq"][1] == -13.5 and found["nr_snr"][1] == 9.0 and found["lte_rsrp"][4] == GOOD
    assert found["access_technologies"][2] == 0xC000
    link = agent.status()["link"]
    assert link["technology"] == "5G NSA" and link["rsrp"] == -101.0 and link["snr"] == 9.0

    # Signal polling off (Rate 0, dictionaries empty): the signal points say disabled; the rest is still read.
    bus.set_signal_rate(0)
    found = modem.wait(lambda f: f["lte_rsrp"][4] == DISABLED, "signal polling off")
    assert quality(found, *SIGNAL) == {DISABLED}
    assert found["signal_rate"][2] == 0 and found["operator_name"][4] == GOOD and found["technology"][2] == 5
    assert "signal polling off" in subprocess.run([str(TRAMCTL), "status", "--socket", str(agent.socket)],
                                                  capture_output=True, text=True, timeout=10).stdout
    bus.set_signal_rate(30)

    # Not registered (searching): operator and signal are not ready; the registration state itself is read.
    bus.set_registration(2)
    found = modem.wait(lambda f: f["registration_state"][2] == 2, "a modem searching for a network")
    assert quality(found, "operator_code", "operator_name", *SIGNAL) == {NOT_READY}
    bus.set_registration(1, operator_code="45204", operator_name="Viettel")
    modem.wait(lambda f: f["lte_rsrp"][4] == GOOD and f["registration_state"][2] == 1, "registered again")

    # The serving cell, once a location source is enabled (by root, not the agent).
    bus.set_location((0, 0x7D1, 0x1A2B3C4))
    found = modem.wait(lambda f: f["cell_id"][4] == GOOD, "the serving cell")
    assert found["cell_tac"][2] == 0x7D1 and found["cell_id"][2] == 0x1A2B3C4 and found["cell_lac"][4] == NOT_AVAILABLE

    # GetLocation refused by polkit: the cell points say disabled, everything else goes on, the agent keeps running.
    bus.make_get_location_unauthorised()
    found = modem.wait(lambda f: f["cell_id"][4] == DISABLED, "a refused location read")
    assert found["lte_rsrp"][4] == GOOD and agent.proc.poll() is None
    bus.make_get_location_unauthorised(refused=False)

    # A USB reset: the modem vanishes (every point absent), then comes back under a new path and is read again.
    bus.remove_modem(0)
    found = modem.wait(lambda f: f["state"][4] == ABSENT, "a vanished modem")
    assert {v[4] for v in found.values()} == {ABSENT}
    assert agent.status()["link"]["quality"] == "absent"
    bus.add_modem(1, "lte", rsrp=-88.0, operator_name="Viettel")
    found = modem.wait(lambda f: f["lte_rsrp"][1] == -88.0, "the modem back after its USB reset")

    # A second modem appears: the device stays on the one it reads.
    bus.add_modem(2, "lte", rsrp=-120.0, operator_name="Mobifone", operator_code="45201")
    found = modem.wait(lambda f: True, "readings after a second modem appeared")
    assert found["lte_rsrp"][1] == -88.0 and found["operator_name"][3] == "Viettel"

    # What the agent asked ModemManager so far (the log starts again with the mock, below): reads only, and no property that identifies the subscriber or the device.
    asked = [line.split()[1:] for line in bus.calls() if len(line.split()) > 1]
    asked = [call for call in asked if call[0] != "emit" and not call[0].startswith("Tram")]
    # dbusmock answers a Get through its own GetAll, which it logs as a call of its own right after the Get.
    asked = [call for i, call in enumerate(asked)
             if not (call[0] == "GetAll" and i > 0 and asked[i - 1][0] == "Get"
                     and asked[i - 1][2].rsplit(".", 1)[0] == call[2])]
    assert {call[0] for call in asked} <= {"Get", "GetAll", "GetManagedObjects", "GetLocation"}, asked
    got = {call[2].rsplit(".", 1)[1] for call in asked if call[0] == "Get"}
    assert got == {"State", "AccessTechnologies", "SignalQuality", "RegistrationState", "OperatorCode",
                   "OperatorName"}, got
    assert not got & set(IDENTIFYING)
    assert {call[2] for call in asked if call[0] == "GetAll"} == {
        "org.freedesktop.ModemManager1.Modem.Signal", "org.freedesktop.ModemManager1.Modem.Location"}
    assert any(call[0] == "GetLocation" for call in asked)

    # ModemManager stops (and is never started by the agent), then comes back with no modem, then with one.
    bus.stop_modemmanager()
    found = modem.wait(lambda f: f["state"][4] == ABSENT, "ModemManager gone")
    # A call in flight when it went may say NoReply first; the next poll says why.
    wait_for(lambda: "ModemManager is not running" in (agent.status()["link"]["problem"] or ""), 10,
             "the link's problem naming ModemManager gone")
    bus.restart_modemmanager()
    wait_for(lambda: "ModemManager has no modem" in (agent.status()["link"]["problem"] or ""), 10,
             "ModemManager back with no modem")
    modem.wait(lambda f: f["state"][4] == ABSENT, "no modem: every point absent")
    bus.add_modem(0, "nr5g_sa", nr_rsrp=-84.0, operator_name="Viettel")
    found = modem.wait(lambda f: f["technology"][2] == 6 and f["nr_rsrp"][1] == -84.0, "a 5G SA modem")
    assert quality(found, "lte_rsrp", "lte_rsrq") == {NOT_AVAILABLE}
    assert agent.status()["link"]["technology"] == "5G SA"

    # The point set never changed: one schema's worth of modem points, whatever happened.
    assert rows(db, "SELECT count(*) FROM points p JOIN devices d ON d.id = p.device WHERE d.name = 'modem'")[0][0] == 20

    rc, _ = agent.terminate()
    assert rc == 0, agent.log()


def test_no_modem_means_no_modem_device_and_the_gateway_reports_itself(procs, bus, tmp_path):
    collector, db, token_file = start_collector(procs, tmp_path)
    # enabled: auto (the default) and ModemManager with no modem: no modem device at all.
    agent = Agent(procs, config(tmp_path, collector.url, token_file), tmp_path,
                  env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
    gateway = Readings(db, "gateway")
    found = gateway.wait(lambda f: f.get("sink_park_state", (0, 0, None))[2] == 0 and f["sink_park_bytes_today"][2] > 0,
                         "the gateway's health readings")
    assert found["agent_version"][3] == agent.status()["agent"]["version"]
    assert found["devices_online"][2] == 0 and found["devices_offline"][2] == 0
    assert found["memory_rss"][2] > 1 << 20 and 0 <= found["cpu_usage"][1] < 400
    assert found["sink_park_failures"][2] == 0 and found["sink_park_bytes_today"][2] > 0
    assert found["spool_fill"][1] >= 0 and found["dropped_overflow"][2] == 0
    assert {v[4] for v in found.values()} == {GOOD}
    assert rows(db, "SELECT count(*) FROM devices WHERE name = 'modem'")[0][0] == 0
    assert agent.status().get("link") is None
    # A modem that ModemManager finds later (at boot it often has none yet): the agent asks again every 15 s and
    # reloads itself to add the device.
    bus.add_modem(0, "lte", rsrp=-91.0)
    Readings(db, "modem").wait(lambda f: f.get("lte_rsrp", (0, None))[1] == -91.0, "the modem device, added later",
                               timeout=45)
    assert agent.status()["link"]["technology"] == "LTE"
    assert agent.status()["agent"]["reloads"] == 1
    rc, _ = agent.terminate()
    assert rc == 0, agent.log()


def test_the_shipped_dbus_policy_allows_the_agents_reads_and_refuses_every_write(procs, tmp_path):
    """deploy/dbus/tram-agent.conf on a bus of its own, for this test's user instead of `tram`: the agent reads its
    modem through it, and the bus itself refuses Enable, Reset and Signal.Setup from that user."""
    import getpass
    import re
    shipped = (Path(__file__).resolve().parents[2] / "deploy" / "dbus" / "tram-agent.conf").read_text()
    [policy] = re.findall(r'<policy user="tram">.*?</policy>', shipped, re.S)
    user = getpass.getuser()
    # The harness drives the mock through its Mock interface as this same user: allowed after the shipped rules.
    control = (f'<policy user="{user}"><allow send_destination="org.freedesktop.ModemManager1" '
               'send_interface="org.freedesktop.DBus.Mock"/></policy>')
    with ModemBus(extra_policy=policy.replace('user="tram"', f'user="{user}"') + control) as bus:
        bus.add_modem(0, "lte", rsrp=-97.0, location=(0, 0x7D1, 0x1A2B3C4))
        collector, db, token_file = start_collector(procs, tmp_path)
        agent = Agent(procs, config(tmp_path, collector.url, token_file, modem={"poll_interval": "1s"}), tmp_path,
                      env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
        found = Readings(db, "modem").wait(lambda f: f.get("lte_rsrp", (0, None))[1] == -97.0, "readings through the policy")
        assert found["cell_id"][2] == 0x1A2B3C4 and found["operator_name"][3] == "Viettel"
        path = bus.modem_path(0)
        for call in (["org.freedesktop.ModemManager1.Modem", "Enable", "b", "false"],
                     ["org.freedesktop.ModemManager1.Modem", "Reset"],
                     ["org.freedesktop.ModemManager1.Modem.Signal", "Setup", "u", "5"],
                     ["org.freedesktop.ModemManager1.Modem.Location", "Setup", "ub", "1", "false"],
                     ["org.freedesktop.DBus.Properties", "Set", "ssv", "org.freedesktop.ModemManager1.Modem",
                      "PowerState", "u", "1"]):
            proc = subprocess.run(["busctl", f"--address={bus.address}", "call", "org.freedesktop.ModemManager1", path,
                                   *call], capture_output=True, text=True, timeout=10)
            assert proc.returncode != 0 and "denied" in proc.stderr.lower(), (call, proc.stdout, proc.stderr)
        rc, _ = agent.terminate()
        assert rc == 0, agent.log()


def test_end_to_end_the_console_and_victoriametrics_show_the_gateway_and_its_link(procs, bus, tmp_path):
    """Agent → collector (console on, relay to a real VictoriaMetrics): the modem's link on the fleet page and the
    gateway's health on its page, as stored; the same points in VictoriaMetrics under tram_<point>."""
    import http.cookiejar
    import shutil
    import urllib.parse
    import urllib.request
    from test_collector_relay import VictoriaMetrics
    from test_console import serve_with_console

    if not shutil.which("victoria-metrics"):
        pytest.skip("victoria-metrics is not installed (scripts/setup --test)")
    vm = VictoriaMetrics(procs, shutil.which("victoria-metrics"), tmp_path / "vm")
    db = tmp_path / "collector.db"
    token = subprocess.run([str(COLLECTOR_BIN), "gateway", "add", "gw-e2e", "--site", "Thang Long II", "--db", db],
                           capture_output=True, text=True, check=True).stdout.strip()
    reader = subprocess.run([str(COLLECTOR_BIN), "token", "add-reader", "e2e", "--db", db],
                            capture_output=True, text=True, check=True).stdout.strip()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    _, ingest, console = serve_with_console(procs, db, "--relay-influx", vm.url, "--relay-max-backoff", "1")
    bus.add_modem(0, "nr5g_nsa", rsrp=-93.5, snr=14.0, nr_rsrp=-99.25, nr_rsrq=-12.5, nr_snr=8.5,
                  operator_name="Viettel <NR>")
    agent = Agent(procs, config(tmp_path, ingest, token_file, modem={"poll_interval": "1s"}), tmp_path,
                  env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
    modem = Readings(db, "modem").wait(lambda f: f.get("nr_rsrp", (0, None))[1] == -99.25, "the modem's readings")
    gateway = Readings(db, "gateway").wait(lambda f: "agent_version" in f, "the gateway's readings")

    # The console, signed in with a read token: the fleet's link cell and the gateway page's health, as stored.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    opener.open(console + "/login", data=urllib.parse.urlencode({"token": reader}).encode(), timeout=10).read()
    fleet = opener.open(console + "/", timeout=10).read().decode()
    cell = re.search(r'<td class="link"[^>]*>', fleet)
    assert cell, fleet[:2000]
    attributes = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', cell.group(0)))
    assert attributes["link"] == "modem" and attributes["technology"] == "5g-nsa" and attributes["radio"] == "NR", attributes
    assert float(attributes["rsrp"]) == modem["nr_rsrp"][1] and float(attributes["snr"]) == modem["nr_snr"][1]
    assert "Viettel &lt;NR&gt;" in fleet and "Viettel <NR>" not in fleet
    page = opener.open(console + "/gateways/gw-e2e", timeout=10).read().decode()
    health = dict(re.findall(r'<dd data-point="([a-z_]+)" data-value="([^"]*)"', page))
    assert health.get("agent_version") == gateway["agent_version"][3], health

    # The problems page: signal polling off is how the modem is set up, not a problem; losing the network is.
    def modem_problems():
        html = opener.open(console + "/problems", timeout=10).read().decode()
        return re.findall(r'<tr class="problem"[^>]*data-device="modem"[^>]*>', html)
    bus.set_signal_rate(0)
    Readings(db, "modem").wait(lambda f: f["nr_rsrp"][4] == DISABLED, "signal polling off")
    assert modem_problems() == []
    assert 'data-device="modem"' in opener.open(console + "/gateways/gw-e2e", timeout=10).read().decode()
    bus.set_registration(2)
    Readings(db, "modem").wait(lambda f: f["operator_code"][4] == NOT_READY, "a modem searching")
    problems = {(re.search(r'data-kind="([a-z-]+)"', p).group(1), re.search(r'data-point="([a-z_]*)"', p).group(1))
                for p in modem_problems()}
    # One degraded device, and its points not ready (the signal points are still off, so they say disabled).
    assert problems == {("degraded", ""), ("bad-quality", "operator_code"), ("bad-quality", "operator_name")}, problems
    bus.set_registration(1, operator_code="45204", operator_name="Viettel")
    bus.set_signal_rate(30)

    # VictoriaMetrics, through the relay: the numbers under tram_<point>, with device="modem" or "gateway".
    def vm_value(query: str):
        args = urllib.parse.urlencode({"query": query})
        with urllib.request.urlopen(f"{vm.url}/api/v1/query?{args}", timeout=10) as reply:
            result = json.loads(reply.read())["data"]["result"]
        return float(result[0]["value"][1]) if result else None
    wait_for(lambda: vm_value('tram_nr_rsrp{gateway="gw-e2e",device="modem"}') == -99.25, 30,
             "the modem's NR RSRP in VictoriaMetrics")
    # Registered again: the newest samples relayed are 5G NSA on Viettel (searching had made technology 0).
    wait_for(lambda: vm_value('tram_technology{gateway="gw-e2e",device="modem"}') == 5, 30, "technology 5 relayed")
    wait_for(lambda: vm_value('tram_operator_code{gateway="gw-e2e",device="modem"}') == 45204, 30,
             "the operator code relayed")
    wait_for(lambda: vm_value('tram_memory_rss{gateway="gw-e2e",device="gateway"}') is not None, 30,
             "the gateway's RSS in VictoriaMetrics")
    rc, _ = agent.terminate()
    assert rc == 0, agent.log()


def test_modem_qualities_wait_for_a_collector_that_takes_version_2_and_nothing_is_dead_lettered(procs, bus, tmp_path):
    """The modem's qualities (absent here: ModemManager has no modem) are wire format version 2. Against a collector
    that accepts only version 1 the agent's uplink pauses with a clear problem and sets nothing aside; the same
    collector, upgraded (restarted accepting 1 and 2), gets every reading at the uplink's next try."""
    from test_collector import Collector
    collector, db, token_file = start_collector(procs, tmp_path)
    port = collector.port
    procs.kill(collector.proc)
    old = Collector(procs, COLLECTOR_BIN, db, "--listen", f"127.0.0.1:{port}", "--wire-versions", "1")
    agent = Agent(procs, config(tmp_path, old.url, token_file, modem={"enabled": True, "poll_interval": "1s"}),
                  tmp_path, env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})

    def uplink():
        return agent.status()["uplinks"][0]
    wait_for(lambda: uplink()["state"] == "paused", 20, "the uplink pausing at the first version-2 batch")
    assert "version" in (uplink()["problem"] or ""), uplink()
    assert uplink()["batches_rejected"] == 0
    assert rows(db, "SELECT count(*) FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device "
                    "WHERE d.name = 'modem'")[0][0] == 0
    dead_letters = list((tmp_path / "spool").glob("*dead*"))
    assert all(path.stat().st_size == 0 for path in dead_letters), dead_letters

    procs.kill(old.proc)
    Collector(procs, COLLECTOR_BIN, db, "--listen", f"127.0.0.1:{port}")
    # The uplink asks again after its pause (60 s): then every spooled batch goes, the first ones included.
    wait_for(lambda: uplink()["state"] == "delivering" and agent.status()["spool"]["buffered"]["readings"] == 0, 90,
             "delivery resuming after the upgrade")
    stored = rows(db, "SELECT count(*), min(r.quality), max(r.quality) FROM readings r JOIN points p ON p.id = r.point "
                      "JOIN devices d ON d.id = p.device WHERE d.name = 'modem'")[0]
    assert stored[0] > 0 and stored[1] == stored[2] == ABSENT, stored
    assert uplink()["batches_rejected"] == 0
    rc, _ = agent.terminate()
    assert rc == 0, agent.log()
