"""Report by exception end to end with real peers on loopback: a pymodbus PLC → tram-agent → tram-collector.

The agent polls two devices on one PLC every 500 ms: `tank` reports by exception (`report: {deadband: 1%,
heartbeat: 4s}`; `level`, a holding register with `range: [0, 1000]`, so a deadband of 10; `pump_on`, a coil, sent on
every change) and `meter` sends every poll (it keeps the gateway's newest reading moving, which the collector judges
staleness against). What the agent sent is read back from the collector's SQLite, its read API (held values, `?step=`)
and its console; what it held back from its control socket, `tramctl status` and /metrics.

Timing: a quiet point is sent at the first poll more than heartbeat − 1¼ poll intervals (3375 ms) after its last send,
so every 3.5 s here, and never more than the heartbeat (4 s) apart. Every wait polls a condition against a deadline;
the checks that depend on when a heartbeat falls look at the reading times the agent stamped, not at when this test
happened to look.

A failed request keeps its points' last good timestamps in the poller; the group is stamped with the cycle's own time,
so the last two tests check that a failure is stored when it happened and that a failing request does not stop its
device's clock (its good points keep their heartbeats).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import TRAMCTL, Plc, wait_for
from test_agent import (COLLECTOR_BIN, Agent, agent_config, agent_metrics, rows, spool_stats, start_collector,
                        _binaries)  # noqa: F401  (_binaries: the autouse fixture that skips without the binaries)
from test_collector import Collector, run
from tramtest import encode, start_plc_at

GATEWAY = "gw-e2e"
POLL_MS = 500
HEARTBEAT_MS = 4000
RANGE = (0, 1000)
DEADBAND = 10.0                                    # 1% of the range's span
DUE_AFTER_MS = HEARTBEAT_MS - POLL_MS * 5 // 4     # ExceptionFilter.dueAfter: 3375 ms
HOLD_LIMIT_MS = HEARTBEAT_MS + POLL_MS + 2000      # RollupRules.holdLimit: 6500 ms
STAMP_SLACK_MS = 100   # a reading is stamped at its response, the heartbeat counted from its poll's monotonic time
LATE_MS = 300          # how late a poll may come on this loaded 2-core machine (debug build)
METER_WORDS = encode("float32", 230.5) + encode("uint32", 123456) + [7]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Send:
    """One reading the agent sent, as the collector stored it."""
    time: int
    value: float | None   # engineering value (a bool: its raw 0/1); None when missing
    quality: int          # 0 good, else the wire code

    @property
    def good(self) -> bool:
        return self.quality == 0


def sends(db: Path, device: str, point: str) -> list[Send]:
    return [Send(t, raw if value is None else value, quality) for t, value, raw, quality in rows(db, """
        SELECT r.time_ms, r.value, r.raw_int, r.quality FROM readings r JOIN points p ON p.id = r.point
        JOIN devices d ON d.id = p.device WHERE d.name = ? AND p.name = ? ORDER BY r.time_ms, r.rowid""",
        (device, point))]


def wait_send(db: Path, device: str, point: str, predicate, after: int, timeout: float, what: str) -> Send:
    """The first stored send of device/point later than `after` (reading time) that satisfies `predicate`."""
    def found():
        return next((s for s in sends(db, device, point) if s.time > after and predicate(s)), None)
    return wait_for(found, timeout, what, interval=0.05)


def point_status(agent: Agent, device: str, point: str) -> dict:
    """The agent's newest poll of a point (control socket): value, quality, time_ms."""
    d = next(d for d in agent.status()["devices"] if d["name"] == device)
    return next(p for p in d["points"] if p["name"] == point)


def wait_polled(agent: Agent, point: str, value: float, timeout: float = 10) -> dict:
    """The agent's first status that shows tank/point polled good at `value` (its time_ms: that poll's)."""
    def polled():
        p = point_status(agent, "tank", point)
        return p if p["value"] == value and p["quality"] == "good" else None
    return wait_for(polled, timeout, f"the agent to poll tank/{point} = {value}", interval=0.1)


def live_fleet(collector: Collector) -> dict:
    """The console's fleet line for the gateway: its devices online, degraded, offline (staleness counted)."""
    status, body = collector.console_get("/live/fleet")
    assert status == 200, body
    return next(g for g in json.loads(body)["gateways"] if g["gateway"] == GATEWAY)


def held_values(collector: Collector, reader: str, point: str, start: int, end: int, step: int) -> list[dict]:
    query = urllib.parse.urlencode({"from": start, "to": end, "step": step, "limit": 100_000})
    answer = collector.get_json(f"/v1/points/{GATEWAY}/tank/{point}?{query}", reader)
    assert answer["step_ms"] == step
    return answer["held"]


def expected_held(history: list[Send], t: int) -> tuple[float | None, int | None]:
    """HoldRule by hand: the newest send at or before t, while within its hold limit (no losses here)."""
    before = [s for s in history if s.time <= t]
    if not before or (t != before[-1].time and t - before[-1].time >= HOLD_LIMIT_MS):
        return None, None
    return before[-1].value, before[-1].time


def check_sends(history: list[Send], deadband: float, plc_values: list[tuple[int, float]], what: str) -> None:
    """What every consumer may assume of a point reported by exception, over its whole stored history:

    - two sends are at most a heartbeat apart (the agent sends at the last poll that keeps the gap under it);
    - a send that neither moved more than the deadband from the previous one nor changed its quality is a heartbeat:
      it came at least heartbeat − 1¼ intervals after the previous send (nothing is sent early);
    - a good value sent is one the PLC held at most a poll before (no stale or invented values)."""
    assert history, f"{what}: nothing sent"
    for a, b in zip(history, history[1:]):
        gap = b.time - a.time
        # (After a failed poll the link may be in its reconnect backoff, with no cycles to send a heartbeat at.)
        assert not a.good or gap <= HEARTBEAT_MS + LATE_MS, \
            f"{what}: {gap} ms between sends at {a} and {b} (heartbeat {HEARTBEAT_MS})"
        same = a.quality == b.quality and (not b.good or abs(b.value - a.value) <= deadband)
        if same:
            assert gap >= DUE_AFTER_MS - STAMP_SLACK_MS, \
                f"{what}: {b} sent {gap} ms after {a}, within the deadband and before its heartbeat was due"
    for s in history:
        if s.good:
            # The values the PLC held over the poll's window: the one in force at its start and any set during it.
            start = s.time - POLL_MS - LATE_MS
            held = {v for i, (t, v) in enumerate(plc_values)
                    if t <= s.time and (i + 1 == len(plc_values) or plc_values[i + 1][0] > start)}
            assert s.value in held, f"{what}: {s} sent, but the PLC held {sorted(held)} then"


def spool_snapshot_batches(spool: Path) -> list[tuple[str, set[tuple[int, str]]]]:
    """`tramctl spool dump --decode`: each batch's header line and its readings as (time, device/point)."""
    proc = subprocess.run([str(TRAMCTL), "spool", "dump", "--dir", str(spool), "--decode"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    batches: list[tuple[str, set]] = []
    for line in proc.stdout.splitlines():
        if line.startswith("batch gateway "):
            batches.append((line, set()))
        elif batches and (m := re.match(r"^\s+(\d+)\s+(\S+)\s", line)):
            batches[-1][1].add((int(m.group(1)), m.group(2)))
    return batches


def assert_snapshot_batch(spool: Path, at: int, what: str) -> None:
    """The first batch that holds tank's group at `at` flags a snapshot group (the wire format's group flag bit 2)."""
    holding = [header for header, readings in spool_snapshot_batches(spool) if (at, "tank/level") in readings]
    assert holding, f"{what}: no batch in the spool holds tank/level at {at}"
    assert "snapshot group" in holding[0], f"{what}: {holding}"


def tank_agent(tmp_path: Path, plc_url: str, collector: Collector, token_file: Path, metrics_port: int | None = None,
               *, link_timeout: str | None = None, extra_points: tuple = ()) -> Path:
    """agent_config's `meter` (every poll sent) plus `tank`, reported by exception."""
    tank = {
        "name": "tank", "link": "plc", "unit": 2, "address_base": 0, "poll_interval": f"{POLL_MS}ms",
        "report": {"deadband": "1%", "heartbeat": f"{HEARTBEAT_MS // 1000}s"},
        "points": [
            {"name": "level", "table": "holding", "address": 0, "type": "uint16", "unit": "mm", "range": list(RANGE)},
            {"name": "pump_on", "table": "coil", "address": 0},
            *extra_points,
        ],
    }
    config = agent_config(tmp_path, plc_url, collector.url, token_file, poll=f"{POLL_MS}ms", batch_age="200ms",
                          extra_devices=[tank], metrics_port=metrics_port)
    if link_timeout:
        doc = yaml.safe_load(config.read_text())
        doc["links"][0].update({"response_timeout": link_timeout, "connect_timeout": link_timeout})
        config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config


def plc_values(level: int, pump_on: int) -> dict:
    return {1: {"holding": {0: METER_WORDS}}, 2: {"holding": {0: [level]}, "coil": {0: [pump_on]}}}


def test_deadband_drift_heartbeat_and_held_values(procs, plc_tcp, tmp_path, free_port):
    plc = plc_tcp(plc_values(500, 1), units=[1, 2])
    collector, db, token_file = start_collector(procs, tmp_path, extra=("--console-listen", "127.0.0.1:0"))
    reader = run(COLLECTOR_BIN, "token", "add-reader", "rbe", "--db", db)
    collector.console_sign_in(reader)
    metrics_port = free_port()
    agent = Agent(procs, tank_agent(tmp_path, plc.url, collector, token_file, metrics_port), tmp_path)
    level_on_plc: list[tuple[int, float]] = [(0, 500.0)]
    pump_on_plc: list[tuple[int, float]] = [(0, 1)]

    def set_level(value: int) -> int:
        at = now_ms()
        plc.set(2, "holding", 0, value)
        level_on_plc.append((at, float(value)))
        return at

    # Start: a snapshot, both points in one group; the dictionary carried each point's rule.
    first = wait_send(db, "tank", "level", lambda s: True, 0, 20, "tank's first reading at the collector")
    first_pump = wait_send(db, "tank", "pump_on", lambda s: True, 0, 5, "pump_on's first reading")
    assert (first.value, first.quality) == (500.0, 0) and (first_pump.time, first_pump.value) == (first.time, 1), \
        (first, first_pump)
    rules = {name: (deadband, heartbeat, interval) for name, deadband, heartbeat, interval in rows(db, """
        SELECT p.name, p.deadband, p.heartbeat_ms, p.interval_ms FROM points p JOIN devices d ON d.id = p.device""")}
    assert rules == {"level": (DEADBAND, HEARTBEAT_MS, POLL_MS), "pump_on": (0.0, HEARTBEAT_MS, POLL_MS),
                     "voltage": (None, None, POLL_MS), "energy": (None, None, POLL_MS),
                     "status": (None, None, POLL_MS)}, rules

    wait_for(lambda: sends(db, "meter", "status"), 10, "meter's first reading")

    # Still: re-sent once a heartbeat, and meanwhile the console counts tank online (its points are quiet for up to
    # the heartbeat while meter moves the gateway's newest reading on every poll; only a missed heartbeat is stale).
    quiet_ages: list[int] = []

    def three_sends():
        fleet = live_fleet(collector)
        assert (fleet["online"], fleet["degraded"], fleet["offline"]) == (2, 0, 0), fleet
        (horizon, newest), = rows(db, """SELECT max(l.time_ms), max(CASE WHEN p.name = 'level' THEN l.time_ms END)
            FROM point_latest l JOIN points p ON p.id = l.point""")
        quiet_ages.append(horizon - newest)
        return len(sends(db, "tank", "level")) >= 3
    wait_for(three_sends, 20, "two heartbeats of a still level", interval=0.25)
    quiet = sends(db, "tank", "level")
    assert [s.value for s in quiet[:3]] == [500.0] * 3, quiet
    for a, b in zip(quiet[:3], quiet[1:3]):
        assert DUE_AFTER_MS - STAMP_SLACK_MS <= b.time - a.time <= HEARTBEAT_MS + LATE_MS, (a, b)
    assert [s.time for s in sends(db, "tank", "pump_on")[:3]] == [s.time for s in quiet[:3]], "both on one heartbeat"
    assert max(quiet_ages) > 2 * POLL_MS + 1000, \
        f"level was never quiet long enough to tell a heartbeat's hold from an every-poll one: {quiet_ages}"

    # Held back, and counted: the control socket, tramctl status and /metrics agree; the writer's books balance
    # (polled = sealed + held back + its drops, less the open batch: 200 ms, about a cycle of each device).
    asked = now_ms()
    status = agent.status()
    writer = status["writer"]
    held_back = writer["readings_suppressed"]
    metric = agent_metrics(metrics_port)["tram_readings_suppressed_total"]
    later = agent.status()["writer"]["readings_suppressed"]
    assert 0 < held_back <= metric <= later, (held_back, metric, later)
    open_batch = writer["readings_produced"] - writer["readings_sealed"] - held_back \
        - writer["readings_dropped_queue_full"] - writer["readings_dropped_unencodable"]
    assert 0 <= open_batch <= 3 * (3 + 2), writer
    # Only tank's readings are held back: two a cycle, less those sent (both points at the snapshot and each
    # heartbeat so far), give or take the cycle in flight.
    tank_cycles = next(d for d in status["devices"] if d["name"] == "tank")["cycles"]
    wait_for(lambda: sends(db, "meter", "status")[-1].time > asked + 3 * POLL_MS, 10, "the batches of that moment")
    sent = len([s for s in sends(db, "tank", "level") if s.time <= asked])
    assert 2 * tank_cycles - 2 * sent - held_back in range(-4, 5), (tank_cycles, sent, held_back)
    screen = subprocess.run([str(TRAMCTL), "status", "--socket", str(agent.socket)], capture_output=True, text=True,
                            timeout=10)
    assert screen.returncode == 0, screen.stderr
    assert re.search(r"held back by exception \d+", screen.stdout), screen.stdout

    # Within the deadband (5 < 10): held back until the heartbeat, which then sends the value polled.
    last = sends(db, "tank", "level")[-1]
    suppressed_before = agent.status()["writer"]["readings_suppressed"]
    set_level(505)
    polled = wait_polled(agent, "level", 505)
    beat = wait_send(db, "tank", "level", lambda s: s.value == 505, last.time, 15, "505 to come with a heartbeat")
    before_beat = [s for s in sends(db, "tank", "level") if s.time < beat.time][-1]
    assert before_beat.value == 500.0 and beat.time - before_beat.time >= DUE_AFTER_MS - STAMP_SLACK_MS, \
        f"505 (within the deadband of 500) was sent {beat.time - before_beat.time} ms after the last send: not a heartbeat"
    assert polled["time_ms"] < beat.time, "the agent sent 505 at the first poll that saw it"
    # Meanwhile the collector held the old value: the read API's held values between the poll and the heartbeat.
    held = held_values(collector, reader, "level", polled["time_ms"], beat.time, 100)
    assert held and all((h["value"], h["reading_ms"]) == (500.0, before_beat.time) for h in held), held
    assert agent.status()["writer"]["readings_suppressed"] >= suppressed_before + 2, "the held-back polls were counted"

    # More than the deadband (25): sent at the first poll, alone (a sparse group: pump_on did not change).
    at = set_level(530)
    jump = wait_send(db, "tank", "level", lambda s: s.value == 530, beat.time, 10, "530 at the collector")
    assert jump.time - at <= POLL_MS + LATE_MS, f"530 sent {jump.time - at} ms after it was set"
    assert jump.time - beat.time < DUE_AFTER_MS, "530 came with a heartbeat, not for its change"
    assert jump.time not in {s.time for s in sends(db, "tank", "pump_on")}, "pump_on was sent without a change"

    # Slow drift: steps of 4, each within the deadband of the one before, are held back until the sum of them since the
    # last value *sent* exceeds it (530 → 534 → 538 held back, 542 sent; compared with the last value polled, it never
    # would be). Conclusive when the agent polled the last step before a heartbeat was due: then nothing but that step
    # may be the first send after the base, at that poll at the latest. Else (a slow moment) a fresh jump retries.
    base, tries = jump, []
    for attempt in range(3):
        if attempt:
            target = base.value + 50
            set_level(int(target))
            base = wait_send(db, "tank", "level", lambda s: s.value == target, base.time, 10, "a fresh jump")
        steps = [int(base.value) + 4 * k for k in (1, 2, 3)]
        for value in steps:
            at = set_level(value)
            last_step = wait_polled(agent, "level", value)
        crossing = wait_send(db, "tank", "level", lambda s: True, base.time, 10, "the drift to be sent")
        tries.append((base, steps, last_step["time_ms"], crossing))
        if last_step["time_ms"] - base.time >= DUE_AFTER_MS - STAMP_SLACK_MS:
            base = sends(db, "tank", "level")[-1]
            continue
        assert crossing.value == steps[-1] and crossing.time <= last_step["time_ms"], \
            f"drift {base.value} → {steps} (the last polled {last_step['time_ms'] - base.time} ms after {base.value} " \
            f"was sent): the first send after it was {crossing}, {crossing.time - base.time} ms after"
        assert crossing.time - at <= POLL_MS + LATE_MS, f"{steps[-1]} sent {crossing.time - at} ms after it was set"
        break
    else:
        raise AssertionError(f"each drift attempt took longer than a heartbeat (the machine is too slow): {tries}")

    # A bool is sent on every change.
    pump_sends = sends(db, "tank", "pump_on")
    at = now_ms()
    plc.set(2, "coil", 0, 0)
    pump_on_plc.append((at, 0))
    off = wait_send(db, "tank", "pump_on", lambda s: s.value == 0, pump_sends[-1].time, 10, "pump_on false")
    assert off.time - at <= POLL_MS + LATE_MS, f"pump_on sent {off.time - at} ms after it changed"

    # The whole history, then every held value at 250 ms steps, as HoldRule says.
    wait_for(lambda: sends(db, "meter", "status")[-1].time > off.time + 2 * POLL_MS, 10, "batches after the last step")
    level, pump = sends(db, "tank", "level"), sends(db, "tank", "pump_on")
    check_sends(level, DEADBAND, level_on_plc, "level")
    check_sends(pump, 0, pump_on_plc, "pump_on")
    end = level[-1].time + 1000
    for point, history in (("level", level), ("pump_on", pump)):
        held = held_values(collector, reader, point, first.time, end, 250)
        assert len(held) == (end - first.time + 249) // 250
        for h in held:
            assert (h["value"], h["reading_ms"]) == expected_held(history, h["time_ms"]), (point, h)
    answer = collector.get_json(f"/v1/points/{GATEWAY}/tank/level?from={first.time}&to={end}", reader)
    assert [(r["time_ms"], r["value"]) for r in answer["readings"]] == [(s.time, s.value) for s in level]
    status_code, _ = collector.get(f"/v1/points/{GATEWAY}/tank/level?step=250", reader)
    assert status_code == 400, "step without from and to"

    # The console draws tank's points step-hold, meter's as lines.
    plots = {}
    for device in ("tank", "meter"):
        code, page = collector.console_get(f"/gateways/{GATEWAY}/devices/{device}")
        assert code == 200, page[:500]
        for svg in re.findall(r'<svg class="plot"[^>]*>', page):
            plots[re.search(r'data-point="([^"]*)"', svg).group(1)] = re.search(r'data-hold="([^"]*)"', svg).group(1)
    assert plots.get("level") == "step" and plots.get("pump_on", "step") == "step", plots
    assert [plots.get(p) for p in ("voltage", "energy", "status")] == ["line"] * 3, plots

    rc, _ = agent.terminate()
    assert rc == 0, agent.log()
    counters = spool_stats(tmp_path / "spool")
    assert counters["balances"] is True
    stored = rows(db, "SELECT count(*) FROM readings")[0][0]
    assert stored == counters["delivered"]["readings"], (stored, counters)  # held back: in no spool book
    assert_snapshot_batch(tmp_path / "spool", first.time, "the start")


def outage_plant(procs, tmp_path: Path, port: int, **tank) -> tuple[Plc, Collector, Path, str, Agent]:
    """PLC on a fixed port (to restart it there), a collector with its console signed in, the agent (300 ms link
    timeouts)."""
    plc = start_plc_at(procs, tmp_path, port, plc_values(500, 1) | tank.pop("values", {}), units=[1, 2])
    collector, db, token_file = start_collector(procs, tmp_path, extra=("--console-listen", "127.0.0.1:0"))
    reader = run(COLLECTOR_BIN, "token", "add-reader", "rbe", "--db", db)
    collector.console_sign_in(reader)
    config = tank_agent(tmp_path, f"tcp://127.0.0.1:{port}", collector, token_file, link_timeout="300ms", **tank)
    return plc, collector, db, reader, Agent(procs, config, tmp_path)


def kill(plc: Plc) -> int:
    """SIGKILL (a crash: no goodbye on the connection); the wall time just before."""
    killed = now_ms()
    os.killpg(plc.proc.pid, signal.SIGKILL)
    plc.proc.wait(timeout=10)
    return killed


def test_plc_outage_sends_the_quality_change_and_a_snapshot_on_return(procs, tmp_path, free_port):
    port = free_port()
    plc, collector, db, reader, agent = outage_plant(procs, tmp_path, port)
    good = wait_send(db, "tank", "level", lambda s: True, 0, 20, "tank's first reading")
    assert (good.value, good.quality) == (500.0, 0)

    # The PLC dies: the quality change is sent at once, for both points, however still their values were.
    # (Found by stored order, not by reading time: see test_a_failed_poll_is_stamped_when_it_failed.)
    killed = kill(plc)
    down = wait_for(lambda: next((s for s in sends(db, "tank", "level") if not s.good), None), 5,
                    "the failure at the collector", interval=0.05)
    seen = now_ms()
    assert seen - killed <= 3000, f"the quality change took {seen - killed} ms to reach the collector"
    pump_down = wait_for(lambda: next((s for s in sends(db, "tank", "pump_on") if not s.good), None), 5,
                         "pump_on's failure", interval=0.05)
    assert (pump_down.time, pump_down.quality) == (down.time, down.quality)
    answer = collector.get_json(f"/v1/points/{GATEWAY}/tank/level?from={down.time}&to={down.time + 1}", reader)
    assert answer["readings"][-1]["quality"] in ("timeout", "link_down", "io_error"), answer
    wait_for(lambda: live_fleet(collector)["offline"] == 2, 10, "the console to count both devices offline",
             interval=0.2)
    wait_for(lambda: next(d for d in agent.status()["devices"] if d["name"] == "tank")["health"] == "offline", 10,
             "the agent to call tank offline", interval=0.1)

    # Back, with level 503: within the deadband of the 500 sent before the outage, and sent all the same (the
    # device is back online: a snapshot of every point, flagged as one). Down for less than a heartbeat.
    restarted = now_ms()
    start_plc_at(procs, tmp_path, port, plc_values(503, 1), units=[1, 2])
    back = wait_send(db, "tank", "level", lambda s: s.good, down.time, 15, "level after the PLC came back")
    assert back.value == 503.0 and back.time > restarted, back
    pump_back = wait_send(db, "tank", "pump_on", lambda s: s.good, down.time, 5, "pump_on after the PLC came back")
    assert (pump_back.time, pump_back.value) == (back.time, 1), (back, pump_back)
    wait_for(lambda: live_fleet(collector)["online"] == 2, 10, "the console to count both devices online",
             interval=0.2)
    # What the collector held meanwhile: the failure (no value), from its reading to the first one back.
    held = held_values(collector, reader, "level", down.time, back.time + 1, 100)
    assert [h["value"] for h in held if h["time_ms"] < back.time] == [None] * ((back.time - down.time + 99) // 100)
    held = held_values(collector, reader, "level", back.time, back.time + 1, 1)
    assert [(h["value"], h["reading_ms"]) for h in held] == [(503.0, back.time)], held
    wait_for(lambda: sends(db, "meter", "status")[-1].time > back.time + 2 * POLL_MS, 10, "batches after the return")
    check_sends(sends(db, "tank", "level"), DEADBAND, [(0, 500.0), (restarted, 503.0)], "level")
    check_sends(sends(db, "tank", "pump_on"), 0, [(0, 1)], "pump_on")

    rc, _ = agent.terminate()
    assert rc == 0, agent.log()
    assert_snapshot_batch(tmp_path / "spool", good.time, "the start")
    assert_snapshot_batch(tmp_path / "spool", back.time, "the return")


def test_a_failed_poll_is_stamped_when_it_failed(procs, tmp_path, free_port):
    """An outage longer than the heartbeat: the failure is stored at the poll that failed, and re-sent once a
    heartbeat while it lasts, as a still value would be."""
    port = free_port()
    plc, collector, db, reader, agent = outage_plant(procs, tmp_path, port)
    wait_send(db, "tank", "level", lambda s: True, 0, 20, "tank's first reading")
    wait_for(lambda: point_status(agent, "tank", "level")["time_ms"] > now_ms() - POLL_MS, 5, "a fresh poll")
    killed = kill(plc)
    down = wait_for(lambda: next((s for s in sends(db, "tank", "level") if not s.good), None), 5,
                    "the failure at the collector", interval=0.05)
    assert down.time >= killed - STAMP_SLACK_MS, \
        f"the failure is stamped {killed - down.time} ms before the PLC was killed"
    wait_for(lambda: len([s for s in sends(db, "tank", "level") if not s.good]) >= 2, 2 * HEARTBEAT_MS / 1000,
             "the failure's heartbeat")
    failures = [s for s in sends(db, "tank", "level") if not s.good]
    assert DUE_AFTER_MS - STAMP_SLACK_MS <= failures[1].time - failures[0].time <= HEARTBEAT_MS + LATE_MS, failures


def test_a_failing_request_does_not_stop_its_devices_clock(procs, tmp_path, free_port):
    """tank with a third point in a request of its own (holding 100), which the PLC then refuses (exception 02):
    tank is degraded, and level, still good and quiet, keeps its heartbeat with times that move on; a change of
    level is stored at the poll that saw it."""
    temp = {"name": "temp", "table": "holding", "address": 100, "type": "int16", "unit": "°C", "range": [-40, 120]}
    plc, collector, db, reader, agent = outage_plant(procs, tmp_path, free_port(), extra_points=(temp,),
                                                     values={2: {"holding": {0: [500], 100: [21]}, "coil": {0: [1]}}})
    wait_send(db, "tank", "temp", lambda s: True, 0, 20, "tank's first reading")
    refused = now_ms()
    plc.unset(2, "holding", 100)
    failure = wait_for(lambda: next((s for s in sends(db, "tank", "temp") if not s.good), None), 5,
                       "temp's exception at the collector", interval=0.05)
    assert failure.time >= refused - STAMP_SLACK_MS, \
        f"temp's exception is stamped {refused - failure.time} ms before the PLC refused it"
    start = sends(db, "tank", "level")[-1]
    wait_for(lambda: sends(db, "tank", "level")[-1].time > start.time, 2 * HEARTBEAT_MS / 1000,
             "level's heartbeat while temp fails")
    at = now_ms()
    plc.set(2, "holding", 0, 560)
    moved = wait_send(db, "tank", "level", lambda s: s.value == 560, 0, 5, "level's change while temp fails")
    assert moved.time >= at, f"560 is stamped {at - moved.time} ms before it was set"


