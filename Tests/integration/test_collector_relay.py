"""tram-collector's relay to a REAL VictoriaMetrics (Debian `victoria-metrics`), by Influx line protocol.

The frames: the golden vectors (bytes written by Tram's encoder) and batches built with test_wire_python's
builders, which reproduce the encoder's golden bytes exactly (test_builders_reproduce_the_vectors). Expected
values come from tram_wire's independent decoder. Checked: values and timestamps in VictoriaMetrics, an outage of
VictoriaMetrics loses nothing and duplicates nothing, unsynchronised 1970 readings are held back and counted, the
position survives a collector restart.

    TRAM_COLLECTOR=.build/debug/tram-collector python3 -m pytest -q Tests/integration/test_collector_relay.py
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import tram_wire as tw
from conftest import find_free_port, port_accepts, wait_for
from test_collector import Collector, collector_bin, run  # noqa: F401  (collector_bin is a fixture)
from test_wire_python import BASE_TIME, BATCH_BYTES, DICT_BYTES, G1_VALUES, batch, group, s, z

EARLIEST_MS = 1_577_836_800_000  # 2020-01-01: the relay's hold-back floor (docs/collector.md, Relay)


class VictoriaMetrics:
    """A single-node VictoriaMetrics on a loopback port, its storage in a temp dir; stop() and start() again."""

    def __init__(self, procs, binary: str, data: Path):
        self.procs, self.binary, self.data = procs, binary, data
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self):
        self.proc = self.procs.spawn([
            self.binary, f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={self.data}",
            "-retentionPeriod=100y",  # the golden vectors are from 2025; anything outside retention is silently dropped
            "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"], "victoria-metrics")
        wait_for(lambda: self._get("/health") == "OK", 20, "victoria-metrics /health")

    def stop(self):
        self.procs.kill(self.proc)  # SIGTERM (it flushes), SIGKILL after 5 s
        assert not port_accepts(self.port)

    def _get(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as reply:
                return reply.read().decode()
        except OSError:
            return None

    def samples(self) -> dict[tuple[str, str, str, int], list[float]]:
        """Every tram_* sample: (metric, gateway, device, time_ms) -> values (more than one would be a duplicate)."""
        urllib.request.urlopen(self.url + "/internal/force_flush", timeout=10).read()
        body = urllib.parse.urlencode({"match[]": '{__name__=~"tram_.*"}'}).encode()
        with urllib.request.urlopen(self.url + "/api/v1/export", data=body, timeout=10) as reply:
            text = reply.read().decode()
        out: dict[tuple[str, str, str, int], list[float]] = {}
        for line in text.splitlines():
            series = json.loads(line)
            m = series["metric"]
            for value, t in zip(series["values"], series["timestamps"]):
                out.setdefault((m["__name__"], m.get("gateway", ""), m.get("device", ""), t), []).append(value)
        return out


def expected_samples(frames: bytes, now_ms: int) -> tuple[dict, dict]:
    """What the relay must send from these frames (by tram_wire's decoder), and what it holds back or skips."""
    dicts: dict[int, tw.Dictionary] = {}
    sent: dict[tuple[str, str, str, int], float] = {}
    counts = {"held_unsynchronised": 0, "held_synchronised": 0, "unsynchronised_sent": 0, "skipped": 0}
    offset = 0
    while offset < len(frames):
        frame, size = tw.decode_frame(frames[offset:], dicts)
        offset += size
        if isinstance(frame, tw.Dictionary):
            dicts[frame.schema_id] = frame
            continue
        d = dicts[frame.schema_id]
        for g in frame.groups:
            for point, raw, engineering in tw.group_readings(d, g):
                if not (EARLIEST_MS <= g.time_ms <= now_ms + 86_400_000):
                    counts["held_synchronised" if g.synchronised else "held_unsynchronised"] += 1
                    continue
                if isinstance(raw, bool):
                    value = 1.0 if raw else 0.0
                elif isinstance(raw, (tw.Missing, str)) or engineering is None or engineering != engineering:
                    counts["skipped"] += 1
                    continue
                else:
                    value = engineering
                sent[(f"tram_{point.name}", frame.gateway, point.device, g.time_ms)] = value
                if not g.synchronised:
                    counts["unsynchronised_sent"] += 1
    return sent, counts


def same_value(got: float, want: float) -> bool:
    """Exact, except that VictoriaMetrics keeps about 12 significant decimal digits of a float (it stores values as
    decimal mantissa and exponent): float32 230.4 = 230.39999389648438 comes back as 230.3999938964. The relay itself
    sends the shortest round-trip text (RelayTests checks those bytes)."""
    return got == want or float(f"{got:.12g}") == float(f"{want:.12g}")


def check_samples(vm: VictoriaMetrics, want: dict):
    got = vm.samples()
    duplicates = {k: v for k, v in got.items() if len(v) > 1}
    assert not duplicates, f"duplicated samples: {list(duplicates.items())[:5]}"
    assert set(got) == set(want), f"missing {sorted(set(want) - set(got))[:5]}, unexpected {sorted(set(got) - set(want))[:5]}"
    wrong = [(k, got[k][0], want[k]) for k in want if not same_value(got[k][0], want[k])]
    assert not wrong, wrong[:5]
    return got


def metrics(collector: Collector) -> dict[str, float]:
    with urllib.request.urlopen(collector.url + "/metrics", timeout=5) as reply:
        text = reply.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(tram_collector_relay_\w+)(?:\{relay="[^"]*"(?:,clock="(\w+)")?\})? (\S+)$', line)
        if m:
            out[m.group(1) + (f":{m.group(2)}" if m.group(2) else "")] = float(m.group(3))
    return out


def caught_up(collector: Collector, readings: int):
    def done():
        m = metrics(collector)
        return m.get("tram_collector_relay_position") == readings and m.get("tram_collector_relay_lag_readings") == 0 and m
    return wait_for(done, 30, f"the relay to reach rowid {readings}")


def demo_batch(sequence: int, base: int, power: int, *, clock: int = 1) -> bytes:
    """A batch under the golden dictionary: the golden group 1 (230.4 V, 12345 → 1234.5 kWh, true) and a pv group
    (power with its SunSpec exponent w_sf = -1, model string), both with these clock flags."""
    return batch([group(G1_VALUES, count=3, clock=clock),
                  group(z(power) + z(-1) + s("SE7600"), dt=3, clock=clock, first=3, count=3)],
                 epoch=3, sequence=sequence, base=base)


@pytest.fixture
def vm_bin() -> str:
    path = shutil.which("victoria-metrics")
    if not path:
        pytest.skip("victoria-metrics is not installed (scripts/setup --test)")
    return path


def test_relay_to_victoriametrics_exact_through_an_outage(collector_bin, vm_bin, procs, tmp_path):
    vm = VictoriaMetrics(procs, vm_bin, tmp_path / "vm")
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-demo", "--db", db)
    relay_args = ["--rate", 0, "--relay-influx", vm.url, "--relay-batch", 7, "--relay-max-backoff", 1]
    collector = Collector(procs, collector_bin, db, *relay_args)
    now = int(time.time() * 1000)

    # 1. The golden vectors: every type, NaN, a missing reading, a string, a SunSpec exponent.
    frames = DICT_BYTES + BATCH_BYTES
    status, answer = collector.post(frames, token)
    assert status == 200 and answer["stored"] == [42], answer
    status, answer = collector.post(frames, token)
    assert status == 200 and answer["duplicates"] == [42], answer  # dedupe: nothing stored twice, nothing relayed twice
    want, counts = expected_samples(frames, now)
    assert len(want) == 9 and counts["skipped"] == 3
    m = caught_up(collector, 12)
    got = check_samples(vm, want)
    assert got[("tram_energy", "gw-demo", "incomer", BASE_TIME)] == [1234.5]
    assert got[("tram_power", "gw-demo", "pv", BASE_TIME + 1003)] == [1782.2]
    assert got[("tram_breaker_closed", "gw-demo", "incomer", BASE_TIME + 2001)] == [0]
    assert m["tram_collector_relay_readings_total"] == 9 and m["tram_collector_relay_skipped_total"] == 3

    # 2. An outage: VictoriaMetrics stops; batches keep arriving (synchronised ones, one unsynchronised with a
    #    plausible time, and one unsynchronised from a gateway whose clock says 1970).
    vm.stop()
    outage = b""
    recent = now - 3_600_000
    for i in range(40):
        outage += demo_batch(100 + i, recent + i * 10_000, 17_000 + i)
    outage += demo_batch(200, recent + 500_000, 18_000, clock=0)   # unsynchronised, plausible: sent, counted
    outage += demo_batch(201, 5_000, 18_001, clock=0)               # unsynchronised, 1970: held back
    outage += demo_batch(202, 1_000_000, 18_002, clock=2)           # stepped but not synchronised, 1970: held back
    status, answer = collector.post(outage, token)
    assert status == 200 and len(answer["stored"]) == 43, answer
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM readings").fetchone()[0]
    assert stored == 12 + 43 * 6
    wait_for(lambda: metrics(collector).get("tram_collector_relay_failures_total", 0) >= 2, 20, "relay failures while VM is down")
    m = metrics(collector)
    assert m["tram_collector_relay_position"] == 12 and m["tram_collector_relay_lag_readings"] == 43 * 6
    assert m["tram_collector_relay_lag_seconds"] > 0

    # 3. VictoriaMetrics comes back: everything arrives, once.
    vm.start()
    m = caught_up(collector, stored)
    more, more_counts = expected_samples(DICT_BYTES + outage, now)
    want.update(more)
    check_samples(vm, want)
    assert more_counts["held_unsynchronised"] == 12 and more_counts["unsynchronised_sent"] == 5
    assert m["tram_collector_relay_held_back_total:unsynchronised"] == 12
    assert m["tram_collector_relay_held_back_total:synchronised"] == 0
    assert m["tram_collector_relay_unsynchronised_sent_total"] == 5
    assert m["tram_collector_relay_readings_total"] == len(want)
    assert m["tram_collector_relay_readings_total"] + 12 + m["tram_collector_relay_skipped_total"] == stored
    assert all(t >= EARLIEST_MS for (_, _, _, t) in vm.samples())  # nothing from 1970 reached VictoriaMetrics

    # 4. The position is durable: a restarted collector sends nothing twice, and relays what comes next.
    os.killpg(collector.proc.pid, signal.SIGTERM)
    assert collector.proc.wait(timeout=10) == 0
    status_line = run(collector_bin, "relay", "status", "--db", db)
    assert f"position={stored}\tlag=0\tsent={len(want)}\theld_unsynchronised=12" in status_line
    collector = Collector(procs, collector_bin, db, *relay_args)
    assert collector.post(demo_batch(300, now, 19_000), token)[0] == 200
    caught_up(collector, stored + 6)
    want.update(expected_samples(DICT_BYTES + demo_batch(300, now, 19_000), now)[0])
    check_samples(vm, want)
    assert metrics(collector)["tram_collector_relay_readings_total"] == len(want)


def test_relay_throughput_into_victoriametrics(collector_bin, vm_bin, procs, tmp_path):
    """A backlog relayed at the default batch size: prints readings/s (store read + encode + HTTP + VM ingest)."""
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-demo", "--db", db)
    collector = Collector(procs, collector_bin, db, "--rate", 0)
    base = int(time.time() * 1000) - 86_400_000
    body = DICT_BYTES + b"".join(demo_batch(1000 + i, base + i * 1000, 10_000 + i % 5000) for i in range(20_000))
    assert collector.post(body, token)[0] == 200
    total = 20_000 * 6
    os.killpg(collector.proc.pid, signal.SIGTERM)
    collector.proc.wait(timeout=10)

    vm = VictoriaMetrics(procs, vm_bin, tmp_path / "vm")
    collector = Collector(procs, collector_bin, db, "--rate", 0, "--relay-influx", vm.url)
    start = time.monotonic()
    m = caught_up(collector, total)
    took = time.monotonic() - start
    print(f"relayed {m['tram_collector_relay_readings_total']:.0f} of {total} readings in {took:.2f} s: "
          f"{m['tram_collector_relay_readings_total'] / took:,.0f} readings/s, {m['tram_collector_relay_requests_total']:.0f} requests")
    assert m["tram_collector_relay_readings_total"] == 20_000 * 5  # V, kWh, bool, power, w_sf sent; model (string) skipped
    assert len(vm.samples()) == 20_000 * 5


def test_builtin_gateway_and_modem_points_arrive_under_their_names(collector_bin, vm_bin, procs, tmp_path):
    """The agent's built-in devices (docs/builtin-devices.md) through the relay: `tram_<point>` with device="modem" or
    "gateway"; technology and operator_code as numbers; operator_name and agent_version (strings) not sent
    (docs/collector.md, "Relay")."""
    import frames as fr

    vm = VictoriaMetrics(procs, vm_bin, tmp_path / "vm")
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-cell", "--db", db)
    collector = Collector(procs, collector_bin, db, "--rate", 0, "--relay-influx", vm.url, "--relay-max-backoff", 1)
    points = [
        fr.PointSpec("modem", "technology", "uint16"), fr.PointSpec("modem", "operator_code", "uint32"),
        fr.PointSpec("modem", "operator_name", "string"), fr.PointSpec("modem", "lte_rsrp", "float64", "dBm"),
        fr.PointSpec("modem", "nr_snr", "float64", "dB"), fr.PointSpec("gateway", "agent_version", "string"),
        fr.PointSpec("gateway", "spool_backlog", "uint64"), fr.PointSpec("gateway", "sink_collector_state", "uint16"),
    ]
    dictionary, schema_id = fr.dictionary("gw-cell", points)
    now = int(time.time() * 1000) // 1000 * 1000
    groups = [(now - 60_000 + i * 30_000, [5, 45204, "Viettel", -95.5 + i, 11.25, "0.8.0", 1200 + i, i % 2])
              for i in range(2)]
    status, answer = collector.post(dictionary + fr.batch("gw-cell", schema_id, 1, 0, points, groups), token)
    assert status == 200, answer
    m = caught_up(collector, len(points) * len(groups))
    assert m["tram_collector_relay_readings_total"] == 6 * len(groups)
    assert m["tram_collector_relay_skipped_total"] == 2 * len(groups)  # the two strings
    got = vm.samples()
    want = {}
    for t, values in groups:
        for p, v in zip(points, values):
            if p.type != "string":
                want[(f"tram_{p.name}", "gw-cell", p.device, t)] = float(v)
    assert {k: v[0] for k, v in got.items()} == want
    assert not [k for k in got if k[0] in ("tram_operator_name", "tram_agent_version")]
    # The same names through VictoriaMetrics' query API.
    query = urllib.parse.urlencode({"query": 'tram_technology{device="modem"}', "time": str(now / 1000)})
    with urllib.request.urlopen(f"{vm.url}/api/v1/query?{query}", timeout=10) as reply:
        result = json.loads(reply.read())["data"]["result"]
    assert [(r["metric"]["gateway"], r["value"][1]) for r in result] == [("gw-cell", "5")]
