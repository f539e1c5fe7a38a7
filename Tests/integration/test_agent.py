"""tram-agent end to end with real peers: pymodbus PLC → tram-agent → tram-collector (SQLite read back directly).

Every wait polls a condition against a deadline. Values are checked against what the PLC holds; delivery is checked
exactly (no reading missing, none twice) through the spool's books and the collector's rows.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import urllib.request
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import TRAMCTL, wait_for
from test_collector import Collector, run
from tramtest import encode

ROOT = Path(__file__).resolve().parents[2]
AGENT_BIN = Path(os.environ.get("TRAM_AGENT", ROOT / ".build" / "debug" / "tram-agent"))
COLLECTOR_BIN = Path(os.environ.get("TRAM_COLLECTOR", ROOT / ".build" / "debug" / "tram-collector"))


@pytest.fixture(autouse=True)
def _binaries():
    for path in (AGENT_BIN, COLLECTOR_BIN, TRAMCTL):
        if not path.exists():
            pytest.skip(f"{path} is not built (swift build)")


def agent_config(tmp_path: Path, plc_url: str, collector_url: str | None, token_file: Path | None, *,
                 poll: str = "100ms", batch_age: str = "500ms", extra_devices: list | None = None,
                 metrics_port: int | None = None, builtins: bool = False) -> Path:
    """An agent file for the test PLC. The built-in devices (gateway health, modem) are off unless `builtins`: these
    tests count the PLC's readings exactly; test_builtin_devices.py covers the built-in ones."""
    doc = {
        "gateway": {"id": "gw-e2e", **({} if builtins else {"health": {"enabled": False}})},
        "links": [{"name": "plc", "url": plc_url}],
        "devices": [{
            "name": "meter", "link": "plc", "unit": 1, "address_base": 0, "poll_interval": poll,
            "points": [
                {"name": "voltage", "table": "holding", "address": 0, "type": "float32", "unit": "V"},
                {"name": "energy", "table": "holding", "address": 2, "type": "uint32", "scale": 0.1, "unit": "kWh"},
                {"name": "status", "table": "holding", "address": 4, "type": "uint16"},
            ],
        }] + (extra_devices or []),
        "spool": {"directory": str(tmp_path / "spool"), "sync_interval": "100ms"},
        "batch": {"max_age": batch_age},
        "control": {"socket": str(tmp_path / "agent.sock"), "metrics_port": metrics_port},
    }
    if not builtins:
        doc["modem"] = {"enabled": False}
    if collector_url:
        doc["sinks"] = [{"name": "collector", "url": collector_url + "/v1/ingest", "token_file": str(token_file),
                         "connect_timeout": "2s", "request_timeout": "5s"}]
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Agent:
    def __init__(self, procs, config: Path, tmp_path: Path, env: dict | None = None):
        self.procs, self.config, self.tmp = procs, config, tmp_path
        self.socket = tmp_path / "agent.sock"
        # The agent logs to standard output (journald under systemd); the test keeps it for failure messages.
        self.out_path = tmp_path / f"agent-{time.monotonic_ns()}.out"
        with open(self.out_path, "wb") as out:
            self.proc = procs.spawn([AGENT_BIN, "--config", config, "--log-level", "debug"], "agent", stdout=out,
                                    env={**os.environ, **(env or {})})
        wait_for(lambda: self.proc.poll() is not None or self._answers(), 15, "the agent's control socket")
        assert self.proc.poll() is None, f"agent exited rc={self.proc.returncode}\n{procs.stderr_of(self.proc)}"

    def _answers(self) -> bool:
        try:
            self.status()
            return True
        except (AssertionError, json.JSONDecodeError):
            return False

    def status(self) -> dict:
        proc = subprocess.run([str(TRAMCTL), "status", "--json", "--socket", str(self.socket)], capture_output=True, text=True, timeout=10)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def terminate(self, timeout: float = 10) -> tuple[int, float]:
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        return rc, time.monotonic() - start

    def log(self) -> str:
        return self.procs.stderr_of(self.proc) + self.out_path.read_text(errors="replace")


def spool_stats(spool: Path) -> dict:
    proc = subprocess.run([str(TRAMCTL), "spool", "stats", "--dir", str(spool), "--json"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def rows(db: Path, sql: str, params=()):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def start_plc(plc_tcp, voltage: float = 230.5, energy: int = 123456, status: int = 7, units=(1,)):
    words = encode("float32", voltage) + encode("uint32", energy) + [status]
    return plc_tcp({unit: {"holding": {0: words}} for unit in units}, units=list(units))


def start_collector(procs, tmp_path: Path, port: int | None = None, extra: tuple = ()) -> tuple[Collector, Path, Path]:
    """A collector with gw-e2e enrolled (its token in tmp_path/token); `extra`: more `serve` arguments."""
    db = tmp_path / "collector.db"
    token = run(COLLECTOR_BIN, "gateway", "add", "gw-e2e", "--db", db)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    listen = ["--listen", f"127.0.0.1:{port}"] if port else []
    return Collector(procs, COLLECTOR_BIN, db, *listen, *extra), db, token_file


def agent_metrics(port: int) -> dict[str, float]:
    """The agent's /metrics (control.metrics_port) as {'name{labels}': value}."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
            if line and not line.startswith("#")}


def readings_by_point(db: Path) -> dict[str, list[tuple[int, float | None, int | None]]]:
    out: dict[str, list] = {}
    for name, time_ms, value, raw in rows(db, "SELECT p.name, r.time_ms, r.value, r.raw_int FROM readings r JOIN points p ON p.id = r.point "
                                              "ORDER BY r.time_ms"):
        out.setdefault(name, []).append((time_ms, value, raw))
    return out


def test_agent_delivers_exact_values_and_reports_status(procs, plc_tcp, tmp_path):
    plc = start_plc(plc_tcp)
    collector, db, token_file = start_collector(procs, tmp_path)
    agent = Agent(procs, agent_config(tmp_path, plc.url, collector.url, token_file), tmp_path)
    wait_for(lambda: len(rows(db, "SELECT 1 FROM readings LIMIT 30")) >= 30, 20, "readings at the collector")

    by_point = readings_by_point(db)
    assert set(by_point) == {"voltage", "energy", "status"}
    assert {v for _, v, _ in by_point["voltage"]} == {230.5}
    assert {v for _, v, _ in by_point["energy"]} == {12345.6}
    assert {v for _, v, _ in by_point["status"]} == {7.0}

    status = agent.status()
    assert status["agent"]["gateway"] == "gw-e2e" and status["agent"]["alive"] is True
    [meter] = status["devices"]
    assert meter["health"] == "online" and meter["cycles"] > 0
    assert {p["name"]: p["value"] for p in meter["points"]} == {"voltage": 230.5, "energy": 12345.6, "status": 7}
    [uplink] = status["uplinks"]
    assert uplink["state"] == "delivering" and uplink["batches_delivered"] > 0 and uplink["bytes_on_wire"] > 0

    # The human screen names the device, the spool and the uplink.
    screen = subprocess.run([str(TRAMCTL), "status", "--socket", str(agent.socket)], capture_output=True, text=True, timeout=10)
    assert screen.returncode == 0, screen.stderr
    assert "meter" in screen.stdout and "SPOOL" in screen.stdout and "UPLINK collector DELIVERING" in screen.stdout

    # A value change on the PLC shows up exactly.
    plc.set(1, "holding", 0, *encode("float32", 231.25))
    wait_for(lambda: rows(db, "SELECT count(*) FROM readings r JOIN points p ON p.id = r.point "
                              "WHERE p.name = 'voltage' AND r.value = 231.25")[0][0] > 0, 20, "the new voltage")

    rc, took = agent.terminate()
    assert rc == 0, agent.log()
    assert took < 5, f"SIGTERM took {took:.1f} s"
    counters = spool_stats(tmp_path / "spool")
    assert counters["balances"] is True
    assert counters["appended"] == {"readings": counters["delivered"]["readings"] + counters["buffered"]["readings"],
                                    "batches": counters["delivered"]["batches"] + counters["buffered"]["batches"]}
    stored = rows(db, "SELECT count(*), count(DISTINCT point || '/' || time_ms) FROM readings")[0]
    assert stored[0] == stored[1], "a reading was stored twice"
    assert stored[0] == counters["delivered"]["readings"], (stored, counters)


def test_sighup_with_a_broken_config_keeps_the_old_one_running(procs, plc_tcp, tmp_path):
    plc = start_plc(plc_tcp, units=(1, 2))
    collector, db, token_file = start_collector(procs, tmp_path)
    config = agent_config(tmp_path, plc.url, collector.url, token_file)
    agent = Agent(procs, config, tmp_path)
    wait_for(lambda: agent.status()["devices"][0]["cycles"] > 3, 15, "polling")
    good = config.read_text()
    config.write_text(good.replace("poll_interval: 100ms", "poll_intervall: 100ms"))
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: agent.status()["agent"]["last_reload_error"] is not None, 10, "the refused reload")
    assert "poll_intervall" in agent.log() and "did you mean 'poll_interval'" in agent.log(), agent.log()
    before = agent.status()["devices"][0]["cycles"]
    wait_for(lambda: agent.status()["devices"][0]["cycles"] > before + 3, 10, "polling to go on with the old config")
    count = rows(db, "SELECT count(*) FROM readings")[0][0]
    wait_for(lambda: rows(db, "SELECT count(*) FROM readings")[0][0] > count, 10, "delivery to go on")

    # A valid change (a second device) applies without a restart; the first device keeps being read.
    doc = yaml.safe_load(good)
    doc["devices"].append({**doc["devices"][0], "name": "meter2", "unit": 2})
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: agent.status()["agent"]["reloads"] == 1, 10, "the reload")
    wait_for(lambda: rows(db, "SELECT count(*) FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device "
                              "WHERE d.name = 'meter2'")[0][0] > 0, 20, "meter2 at the collector")
    assert agent.proc.pid and agent.proc.poll() is None
    rc, _ = agent.terminate()
    assert rc == 0


def test_collector_outage_loses_nothing_and_duplicates_nothing(procs, plc_tcp, tmp_path, free_port):
    plc = start_plc(plc_tcp)
    port = free_port()
    collector, db, token_file = start_collector(procs, tmp_path, port)
    agent = Agent(procs, agent_config(tmp_path, plc.url, collector.url, token_file), tmp_path)
    wait_for(lambda: rows(db, "SELECT count(*) FROM readings")[0][0] > 0, 20, "first readings")
    procs.kill(collector.proc)
    wait_for(lambda: agent.status()["uplinks"][0]["state"] == "backing-off", 20, "the uplink to notice the outage")
    wait_for(lambda: agent.status()["spool"]["buffered"]["batches"] >= 6, 20, "a backlog")
    collector = Collector(procs, COLLECTOR_BIN, db, "--listen", f"127.0.0.1:{port}")

    def drained():
        s = agent.status()
        return s["spool"]["buffered"]["batches"] <= 1 and s["uplinks"][0]["state"] == "delivering"
    wait_for(drained, 60, "the backlog to drain")
    rc, took = agent.terminate()
    assert rc == 0 and took < 5, (rc, took)
    counters = spool_stats(tmp_path / "spool")
    stored = rows(db, "SELECT count(*), count(DISTINCT point || '/' || time_ms) FROM readings")[0]
    assert stored[0] == stored[1], "a reading was stored twice"
    assert stored[0] == counters["delivered"]["readings"], (stored, counters)
    assert counters["dropped"] == {cause: {"readings": 0, "batches": 0} for cause in counters["dropped"]}
    # Every cycle produced is in the spool's books: sealed before the clean stop.
    times = [t for (t,) in rows(db, "SELECT r.time_ms FROM readings r JOIN points p ON p.id = r.point WHERE p.name = 'status' ORDER BY r.time_ms")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) < 2000, f"a hole of {max(gaps)} ms in the stored readings"


def test_kill_9_during_polling_and_delivery_delivers_every_appended_reading_exactly_once(procs, plc_tcp, tmp_path):
    plc = start_plc(plc_tcp)
    collector, db, token_file = start_collector(procs, tmp_path)
    config = agent_config(tmp_path, plc.url, collector.url, token_file, poll="50ms", batch_age="200ms")
    rng = random.Random(7)
    kills = 12
    killed_at: list[int] = []
    for _ in range(kills):
        agent = Agent(procs, config, tmp_path)
        wait_for(lambda: agent.status()["writer"]["batches_sealed"] > 0, 10, "a first sealed batch")
        time.sleep(rng.uniform(0.3, 1.5))
        killed_at.append(int(time.time() * 1000))
        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait(timeout=10)
    # A last clean run delivers what the killed ones spooled.
    agent = Agent(procs, config, tmp_path)
    wait_for(lambda: agent.status()["spool"]["buffered"]["batches"] <= 1, 60, "the backlog to drain")
    rc, _ = agent.terminate()
    assert rc == 0
    counters = spool_stats(tmp_path / "spool")
    assert counters["balances"] is True
    assert counters["buffered"]["readings"] == 0 or counters["buffered"]["batches"] <= 1
    stored = rows(db, "SELECT count(*), count(DISTINCT point || '/' || time_ms) FROM readings")[0]
    assert stored[0] == stored[1], "a reading was stored twice"
    # Appended before each kill = delivered now (nothing was dropped: no bound was hit, no damage is possible from kill -9).
    assert stored[0] == counters["delivered"]["readings"] == counters["appended"]["readings"] - counters["buffered"]["readings"], (stored, counters)
    assert sum(v["readings"] for v in counters["dropped"].values()) == 0, counters
    assert counters["epoch"] >= kills + 1, "every unclean start begins a new epoch"
    # The window between a poll and its append: a kill loses at most the open batch, the readings of the last
    # batch.max_age (200 ms here) plus one poll interval (50 ms) and the wall-clock slack of this test (250 ms).
    times = [t for (t,) in rows(db, "SELECT r.time_ms FROM readings r JOIN points p ON p.id = r.point WHERE p.name = 'status'")]
    for kill in killed_at:
        last_kept = max(t for t in times if t <= kill)
        assert kill - last_kept <= 200 + 50 + 250, f"{kill - last_kept} ms of readings before a kill were lost"


def test_sigterm_mid_upload_exits_cleanly_and_loses_nothing(procs, plc_tcp, tmp_path):
    """A sink that takes 30 s to answer: SIGTERM while the upload is in flight ends the agent within 5 s; the
    unacknowledged batches go to the real collector after the restart, exactly once."""
    plc = start_plc(plc_tcp)
    peer = procs.spawn([os.environ.get("PYTHON", "python3"), ROOT / "Tests" / "integration" / "peers" / "misbehaving_http.py",
                        "--listen", "127.0.0.1:0", "--record", tmp_path / "peer", "--script", "slow:30*"], "peer",
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    port = int(peer.stdout.readline().decode().split()[1])
    assert peer.stdout.readline().decode().strip() == "READY"
    token_file = tmp_path / "token"
    token_file.write_text("not-the-real-one\n")
    token_file.chmod(0o600)
    config = agent_config(tmp_path, plc.url, f"http://127.0.0.1:{port}", token_file)
    agent = Agent(procs, config, tmp_path)
    records = tmp_path / "peer" / "requests.jsonl"

    def upload_in_flight():
        peer.stdin.write(b"requests\n")
        peer.stdin.flush()
        return int(peer.stdout.readline().decode().split()[1]) >= 1
    wait_for(upload_in_flight, 15, "an upload to reach the slow sink")
    rc, took = agent.terminate()
    assert rc == 0, agent.log()
    assert took < 5, f"SIGTERM mid-upload took {took:.1f} s"
    counters = spool_stats(tmp_path / "spool")
    assert counters["delivered"]["readings"] == 0 and counters["buffered"]["batches"] >= 1, counters
    assert counters["balances"] is True
    assert not records.exists() or all(json.loads(line)["outcome"] != "accepted" for line in records.read_text().splitlines())

    # Restart against the real collector: everything spooled arrives, once.
    collector, db, token_file = start_collector(procs, tmp_path)
    config = agent_config(tmp_path, plc.url, collector.url, token_file)
    agent = Agent(procs, config, tmp_path)
    wait_for(lambda: agent.status()["spool"]["buffered"]["batches"] <= 1 and agent.status()["uplinks"][0]["batches_delivered"] > 0,
             30, "the backlog to drain")
    rc, _ = agent.terminate()
    assert rc == 0
    counters = spool_stats(tmp_path / "spool")
    stored = rows(db, "SELECT count(*), count(DISTINCT point || '/' || time_ms) FROM readings")[0]
    assert stored[0] == stored[1] == counters["delivered"]["readings"], (stored, counters)
    assert counters["buffered"]["readings"] == 0 or counters["buffered"]["batches"] <= 1


def test_systemd_notify_watchdog_and_metrics_while_the_uplink_is_down(procs, plc_tcp, tmp_path, free_port):
    """READY=1 once running; WATCHDOG=1 keeps coming while the collector is unreachable (an outage is not a hang);
    STOPPING=1 on SIGTERM; /metrics counts the readings and names the uplink's state."""
    plc = start_plc(plc_tcp)
    notify_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(0.2)
    token_file = tmp_path / "token"
    token_file.write_text("unused\n")
    token_file.chmod(0o600)
    metrics_port = free_port()
    config = agent_config(tmp_path, plc.url, f"http://127.0.0.1:{free_port()}", token_file, metrics_port=metrics_port)
    agent = Agent(procs, config, tmp_path, env={"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "1000000"})
    messages: list[str] = []

    def received(what: str, count: int = 1) -> bool:
        try:
            while True:
                messages.append(listener.recv(4096).decode())
        except socket.timeout:
            pass
        return sum(what in m.split("\n") for m in messages) >= count
    wait_for(lambda: received("READY=1"), 10, "READY=1")
    wait_for(lambda: agent.status()["uplinks"][0]["state"] == "backing-off", 15, "the uplink to fail")
    start = len([m for m in messages if "WATCHDOG=1" in m])
    wait_for(lambda: received("WATCHDOG=1", start + 4), 10, "watchdog pings during the outage")

    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line and not line.startswith("#")}
    assert samples['tram_uplink_state{sink="collector",state="backing-off"}'] == 1.0, body
    assert samples["tram_readings_produced_total"] > 0
    assert samples['tram_device_healthy{device="meter"}'] == 1.0
    assert urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/health", timeout=5).status == 200

    rc, took = agent.terminate()
    assert rc == 0 and took < 5
    wait_for(lambda: received("STOPPING=1"), 5, "STOPPING=1")
    listener.close()


def test_read_and_scan_on_a_serial_port_the_agent_holds_go_through_the_agent(procs, plc_rtu, tmp_path):
    """The agent owns the RTU bus (and its lock); `tramctl read` and `scan` on that port are served by the agent,
    queued between its poll cycles, instead of failing on the lock."""
    words = encode("float32", 230.5) + encode("uint32", 123456) + [7]
    plc = plc_rtu({1: {"holding": {0: words, 100: [4242, 4343]}}, 3: {"holding": {0: [1]}}}, units=[1, 3])
    config = agent_config(tmp_path, plc.url, None, None, poll="200ms")
    agent = Agent(procs, config, tmp_path)
    wait_for(lambda: agent.status()["devices"][0]["health"] == "online", 15, "the agent polling over RTU")
    before = agent.status()["devices"][0]["cycles"]

    read = subprocess.run([str(TRAMCTL), "read", "--link", plc.url, "--unit", "1", "--address", "100", "--count", "2",
                           "--agent-socket", str(agent.socket), "--json"], capture_output=True, text=True, timeout=30)
    assert read.returncode == 0, read.stderr
    assert "reading through it" in read.stderr
    assert [v["values"]["ABCD"] for v in json.loads(read.stdout)] == [4242, 4343]

    scan = subprocess.run([str(TRAMCTL), "scan", "--link", plc.url, "--from", "1", "--to", "4", "--agent-socket", str(agent.socket),
                           "--json"], capture_output=True, text=True, timeout=60)
    assert scan.returncode == 0, scan.stderr
    assert [entry["unit"] for entry in json.loads(scan.stdout)] == [1, 3]
    # Polling went on meanwhile, and the device stayed healthy.
    wait_for(lambda: agent.status()["devices"][0]["cycles"] > before + 3, 10, "polling to go on")
    assert agent.status()["devices"][0]["health"] == "online"
    rc, _ = agent.terminate()
    assert rc == 0


def test_agent_to_victoriametrics_and_the_collector_at_once(procs, plc_tcp, tmp_path):
    """Two sinks, each with its own delivery state: the collector (exactly once) and VictoriaMetrics by line protocol
    (at least once); the values arrive exactly in both, checked in VictoriaMetrics' storage (it answers 204 even to
    lines it drops)."""
    import shutil
    from test_collector_relay import VictoriaMetrics
    binary = shutil.which("victoria-metrics")
    if not binary:
        pytest.skip("victoria-metrics is not installed (scripts/setup --test)")
    plc = start_plc(plc_tcp)
    collector, db, token_file = start_collector(procs, tmp_path)
    vm = VictoriaMetrics(procs, binary, tmp_path / "vm")
    config = agent_config(tmp_path, plc.url, collector.url, token_file)
    doc = yaml.safe_load(config.read_text())
    doc["sinks"].append({"name": "vm", "kind": "line_protocol", "url": f"{vm.url}/write?precision=ms"})
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    agent = Agent(procs, config, tmp_path)
    wait_for(lambda: all(u["batches_delivered"] >= 5 for u in agent.status()["uplinks"]), 30, "both sinks to take batches")
    rc, _ = agent.terminate()
    assert rc == 0
    # A last run delivers what the stop left buffered, then nothing is pending for either sink.
    agent = Agent(procs, config, tmp_path)
    wait_for(lambda: agent.status()["spool"]["buffered"]["batches"] <= 1, 30, "both sinks to catch up")
    rc, _ = agent.terminate()
    assert rc == 0

    stored = {t for (t,) in rows(db, "SELECT r.time_ms FROM readings r JOIN points p ON p.id = r.point WHERE p.name = 'status'")}
    counters = spool_stats(tmp_path / "spool")
    assert counters["buffered"]["batches"] == 0, counters

    def by_metric() -> dict[str, dict[int, list[float]]]:
        out: dict[str, dict[int, list[float]]] = {}
        for (metric, gateway, device, t), values in vm.samples().items():
            assert gateway == "gw-e2e" and device == "meter"
            out.setdefault(metric, {})[t] = values
        return out
    # VictoriaMetrics makes rows searchable a moment after it answers; its store is checked until it has caught up.
    wait_for(lambda: set(by_metric().get("tram_status", {})) == stored, 15, "VictoriaMetrics to hold what the collector holds")
    samples = by_metric()
    assert set(samples) == {"tram_voltage", "tram_energy", "tram_status"}, set(samples)
    assert {v for vs in samples["tram_voltage"].values() for v in vs} == {230.5}
    assert {v for vs in samples["tram_energy"].values() for v in vs} == {12345.6}
    assert {v for vs in samples["tram_status"].values() for v in vs} == {7.0}
    assert set(samples["tram_voltage"]) == set(samples["tram_energy"]) == stored


def agent_connections(pid: int, port: int) -> set[str]:
    """The agent's established TCP connections to 127.0.0.1:port, as local addresses (one per connection)."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", "dst", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=10).stdout
    return {line.split()[2] for line in out.splitlines() if f"pid={pid}," in line}


def test_sighup_keeps_the_connections_of_links_whose_devices_did_not_change(procs, plc_tcp, tmp_path):
    plc_a = start_plc(plc_tcp)
    plc_b = start_plc(plc_tcp, units=(1, 2))
    config = agent_config(tmp_path, plc_a.url, None, None, poll="200ms")
    doc = yaml.safe_load(config.read_text())
    doc["links"].append({"name": "plc-b", "url": plc_b.url})
    doc["devices"].append({**doc["devices"][0], "name": "b1", "link": "plc-b"})
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    agent = Agent(procs, config, tmp_path)
    wait_for(lambda: all(d["health"] == "online" for d in agent.status()["devices"]), 15, "both links polling")

    def meter_cycles() -> int:
        return next(d["cycles"] for d in agent.status()["devices"] if d["name"] == "meter")
    wait_for(lambda: meter_cycles() > 5, 10, "a few cycles of link A")
    cycles_before = meter_cycles()
    a_before, b_before = agent_connections(agent.proc.pid, plc_a.port), agent_connections(agent.proc.pid, plc_b.port)
    assert len(a_before) == 1 and len(b_before) == 1, (a_before, b_before)

    # A second device on link B, and a batch setting untouched: link A keeps its connection, link B reconnects.
    doc["devices"].append({**doc["devices"][0], "name": "b2", "link": "plc-b", "unit": 2})
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: agent.status()["agent"]["reloads"] == 1, 10, "the reload")
    wait_for(lambda: {d["name"]: d["health"] for d in agent.status()["devices"]} == {"meter": "online", "b1": "online", "b2": "online"},
             15, "the new device online")
    assert agent_connections(agent.proc.pid, plc_a.port) == a_before, "link A was reconnected though nothing of it changed"
    assert agent_connections(agent.proc.pid, plc_b.port) != b_before, "link B's devices changed: it starts anew"
    wait_for(lambda: meter_cycles() > cycles_before, 5, f"link A to go on polling; the agent's log:\n{agent.log()[-3000:]}")
    rc, _ = agent.terminate()
    assert rc == 0
    counters = spool_stats(tmp_path / "spool")
    assert counters["balances"] is True


def raw_control(sock: Path, line: str) -> dict:
    """One request on the control socket as any client would send it, and its answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        out = b""
        while chunk := s.recv(1 << 16):
            out += chunk
    return json.loads(out)


def test_status_comes_in_pages_of_devices_and_tramctl_puts_them_together(procs, plc_tcp, tmp_path):
    # 250 devices (two links of 125 unit ids on the pymodbus PLC): three of tramctl's 100-device pages.
    units = range(1, 126)
    plcs = [start_plc(plc_tcp, voltage=200 + k, units=units) for k in range(2)]
    devices = [{"name": f"m{k}-{unit:03d}", "link": f"plc{k}", "unit": unit, "address_base": 0, "poll_interval": "500ms",
                "points": [{"name": "voltage", "table": "holding", "address": 0, "type": "float32"}]}
               for k in range(2) for unit in units]
    config = agent_config(tmp_path, plcs[0].url, None, None)
    doc = yaml.safe_load(config.read_text())
    doc["links"] = [{"name": f"plc{k}", "url": plc.url} for k, plc in enumerate(plcs)]
    doc["devices"] = devices
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    agent = Agent(procs, config, tmp_path)
    names = sorted(d["name"] for d in devices)
    wait_for(lambda: all(d["health"] == "online" for d in agent.status()["devices"]), 30, "every device online")

    # tramctl asks page by page and prints one whole answer, every device once, in name order, with its points.
    whole = agent.status()
    assert [d["name"] for d in whole["devices"]] == names
    assert "devices_total" not in whole and "devices_from" not in whole
    assert {d["points"][0]["value"] for d in whole["devices"]} == {200.0, 201.0}

    # The agent's pages: where each starts, how many devices there are, and the devices of that window only.
    page = raw_control(agent.socket, "status 100 100")
    assert (page["devices_from"], page["devices_total"]) == (100, 250)
    assert [d["name"] for d in page["devices"]] == names[100:200]
    last = raw_control(agent.socket, "status 240 100")
    assert [d["name"] for d in last["devices"]] == names[240:]
    beyond = raw_control(agent.socket, "status 900 10")
    assert (beyond["devices"], beyond["devices_from"], beyond["devices_total"]) == ([], 250, 250)
    # A window past Int.max is answered, not a crash.
    assert raw_control(agent.socket, f"status {2**63 - 1} 10")["devices"] == []
    # A bare `status` (an older tramctl, a script) is still every device in one answer.
    assert [d["name"] for d in raw_control(agent.socket, "status")["devices"]] == names
    assert "error" in raw_control(agent.socket, "status 0 0")

    # The human screen and top count all of them.
    screen = subprocess.run([str(TRAMCTL), "status", "--socket", str(agent.socket)], capture_output=True, text=True,
                            timeout=20)
    assert screen.returncode == 0, screen.stderr
    assert "DEVICES 250/250 online" in screen.stdout
    top = subprocess.run([str(TRAMCTL), "top", "--iterations", "1", "--socket", str(agent.socket)], capture_output=True,
                         text=True, timeout=20)
    assert top.returncode == 0 and "DEVICES 250/250 online" in top.stdout, top.stderr
