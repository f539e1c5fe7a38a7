"""Modbus RTU: socat pty pairs with the pymodbus RTU server, RTU over TCP, and the serial port lock."""
from __future__ import annotations

import json
import os
import re
import signal
import struct

from conftest import mbpoll_read, wait_for
from tramtest import encode, hexwords, poll_json, points, read_json, tramctl_background, write_agent

PI_WORDS = list(struct.unpack(">HH", struct.pack(">f", 3.14159265)))

TWO_UNITS = {
    1: {"holding": {0: [101, 102, *encode("int32", -100001)]}, "input": {10: PI_WORDS}},
    2: {"holding": {0: [201, 202, *encode("int32", -200002)]}, "input": {10: encode("float32", 230.5)}},
}


def test_rtu_read(tramctl, plc_rtu):
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    rows = read_json(tramctl, "--link", f"rtu://{plc.device}", "--unit", 1, "--table", "holding",
                     "--address", 0, "--count", 2, "--type", "uint16")
    assert [r["values"]["ABCD"] for r in rows] == [101, 102]
    [row] = read_json(tramctl, "--link", f"rtu://{plc.device}", "--unit", 2, "--table", "input",
                      "--address", 10, "--type", "float32")
    assert int(row["bits"]["ABCD"], 16) == struct.unpack(">I", struct.pack(">f", 230.5))[0]
    assert row["values"]["ABCD"] == 230.5
    # the bytes really went over the pty: the PLC logged both requests
    assert (1, 3, 0, 2) in plc.log() and (2, 4, 10, 2) in plc.log()


def test_rtu_exception_and_absent_unit(tramctl, plc_rtu):
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    proc = tramctl("read", "--link", f"rtu://{plc.device}", "--unit", 1, "--address", 50, "--timeout", "300ms")
    assert proc.returncode != 0 and "exception 2" in proc.stderr, proc.stderr
    proc = tramctl("read", "--link", f"rtu://{plc.device}", "--unit", 7, "--address", 0, "--timeout", "200ms")
    assert proc.returncode != 0 and "timeout" in proc.stderr, proc.stderr


def test_two_units_on_one_rtu_bus(tramctl, plc_rtu, tmp_path):
    """Two devices on one rtu:// link each get their own unit's values (the bus is shared, not mixed up)."""
    plc = plc_rtu(TWO_UNITS, units=[1, 2])

    def device(name, unit):
        return {"name": name, "link": "bus", "unit": unit, "address_base": 0, "points": [
            {"name": "a", "table": "holding", "address": 0, "type": "uint16"},
            {"name": "b", "table": "holding", "address": 1, "type": "uint16"},
            {"name": "c", "table": "holding", "address": 2, "type": "int32"},
            {"name": "f", "table": "input", "address": 10, "type": "float32"},
        ]}
    agent = write_agent(tmp_path / "agent.yaml",
                        [{"name": "bus", "url": f"rtu://{plc.device}", "serial": {"baud": 9600, "parity": "none"},
                          "response_timeout": "500ms"}],
                        [device("meter1", 1), device("meter2", 2)])
    readings = poll_json(tramctl, agent, "--cycles", 3, "--interval", "50ms")
    assert sorted((r["device"], r["cycle"]) for r in readings) == \
        [("meter1", 1), ("meter1", 2), ("meter1", 3), ("meter2", 1), ("meter2", 2), ("meter2", 3)]
    for r in readings:
        unit = 1 if r["device"] == "meter1" else 2
        p = points(r)
        assert r["health"] == "online" and r["failed_requests"] == 0, r
        assert all(q["quality"] == "good" for q in r["points"]), r
        assert (p["a"]["raw"], p["b"]["raw"]) == (unit * 100 + 1, unit * 100 + 2), r
        assert p["c"]["raw"] == -100001 * unit, r
        want = struct.unpack(">I", struct.pack(">f", 3.14159265 if unit == 1 else 230.5))[0]
        assert int(p["f"]["bits"], 16) == want, r
    assert {u for u, *_ in plc.log()} == {1, 2}


def test_rtu_over_tcp_bridge(tramctl, plc_rtu, rtu_over_tcp_bridge, tmp_path):
    """rtu+tcp://: raw RTU frames over a TCP socket (a serial device server), via socat to the pty.

    One tramctl run per bridge: the fixture's `socat ... fork` child lingers ~0.5 s after a client
    disconnects and keeps reading the pty, so a second connection right after the first can lose
    its answer to the old child (a harness limit, not tramctl's)."""
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    port = rtu_over_tcp_bridge(plc.device)

    def device(name, unit):
        return {"name": name, "link": "nport", "unit": unit, "address_base": 0, "points": [
            {"name": "ab", "table": "holding", "address": 0, "type": "uint32"},
            {"name": "c", "table": "holding", "address": 2, "type": "int32"}]}
    agent = write_agent(tmp_path / "agent.yaml",
                        [{"name": "nport", "url": f"rtu+tcp://127.0.0.1:{port}", "response_timeout": "500ms"}],
                        [device("m1", 1), device("m2", 2)])
    readings = poll_json(tramctl, agent, "--cycles", 2, "--interval", "50ms")
    assert len(readings) == 4
    for r in readings:
        unit = int(r["device"][1])
        p = points(r)
        assert r["health"] == "online", r
        assert p["ab"]["raw"] == ((unit * 100 + 1) << 16) | (unit * 100 + 2), r
        assert p["c"]["raw"] == -100001 * unit, r
    assert sorted({u for u, *_ in plc.log()}) == [1, 2]


def test_rtu_framing_over_tcp_to_plc(tramctl, plc_tcp, tmp_path):
    """rtu+tcp:// against a TCP server that speaks RTU framing (no MBAP header), polled via a config."""
    plc = plc_tcp(TWO_UNITS, units=[1, 2], framer="rtu")
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "nport", "url": f"rtu+tcp://127.0.0.1:{plc.port}"}],
                        [{"name": "m2", "link": "nport", "unit": 2, "address_base": 0, "points": [
                            {"name": "c", "table": "holding", "address": 2, "type": "int32"}]}])
    [reading] = poll_json(tramctl, agent)
    assert points(reading)["c"]["quality"] == "good" and points(reading)["c"]["raw"] == -200002, reading


def test_mbpoll_and_tramctl_agree_on_rtu(tramctl, plc_rtu):
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    rows = read_json(tramctl, "--link", f"rtu://{plc.device}", "--unit", 2, "--address", 0, "--count", 4)
    assert mbpoll_read(plc.device, 2, "holding", 0, 4) == [w for r in rows for w in hexwords(r["words"])]


def test_serial_port_lock(tramctl, plc_rtu, procs, tmp_path):
    """A second tramctl on a busy serial port fails at once and names the holder; the lock dies with it."""
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()
    env = {"TRAM_LOCK_DIR": str(lock_dir)}
    watcher = tramctl_background(procs, "read", "--link", f"rtu://{plc.device}", "--unit", 1, "--address", 0,
                                 "--watch", "--cycles", 50, "--interval", "100ms", env=env)
    first = watcher.wait_line(lambda line: line.strip() != "", 15, "the first --watch line")
    assert "101" in first, first

    proc = tramctl("read", "--link", f"rtu://{plc.device}", "--unit", 1, "--address", 0, env=env, timeout=10)
    assert proc.returncode != 0, proc.stdout
    assert "in use by" in proc.stderr and "pid" in proc.stderr, proc.stderr
    m = re.search(r"pid (\d+)", proc.stderr)
    assert m and int(m.group(1)) == watcher.proc.pid, proc.stderr
    assert list(lock_dir.iterdir()), "no lock file in TRAM_LOCK_DIR"
    assert watcher.proc.poll() is None, "the holder must keep running"

    # The holder dies without cleaning up: the lock file may stay, but it must not block anyone.
    os.killpg(watcher.proc.pid, signal.SIGKILL)
    watcher.proc.wait(timeout=10)
    rows = read_json(tramctl, "--link", f"rtu://{plc.device}", "--unit", 1, "--address", 0, env=env)
    assert rows[0]["values"]["ABCD"] == 101


def test_lock_dir_is_honoured_per_device(tramctl, plc_rtu, procs, tmp_path):
    """Two different serial ports do not block each other."""
    plc_a = plc_rtu(TWO_UNITS, units=[1, 2])
    plc_b = plc_rtu({5: {"holding": {0: [505]}}}, units=[5])
    env = {"TRAM_LOCK_DIR": str(tmp_path)}
    watcher = tramctl_background(procs, "read", "--link", f"rtu://{plc_a.device}", "--unit", 1, "--address", 0,
                                 "--watch", "--cycles", 50, "--interval", "100ms", env=env)
    watcher.wait_line(lambda line: line.strip() != "", 15, "the first --watch line")
    rows = read_json(tramctl, "--link", f"rtu://{plc_b.device}", "--unit", 5, "--address", 0, env=env)
    assert rows[0]["values"]["ABCD"] == 505
    wait_for(lambda: watcher.proc.poll() is None, 1, "watcher still running")


def test_rtu_scan_finds_units_on_the_bus(tramctl, plc_rtu):
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    proc = tramctl("scan", "--link", f"rtu://{plc.device}", "--from", 1, "--to", 4, "--timeout", "100ms", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [f["unit"] for f in json.loads(proc.stdout)] == [1, 2], proc.stdout
    assert sorted(u for u, *_ in plc.log()) == [1, 2, 3, 4]


def test_rs485_mode_on_a_port_without_it_is_a_clear_link_error(tramctl, plc_rtu, tmp_path):
    """A pty (like a plain RS-232 adapter) rejects the RS-485 ioctl: the device is offline with an error that says so,
    and nothing is sent on a port left in the wrong mode."""
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    agent = write_agent(tmp_path / "agent.yaml",
                        [{"name": "bus", "url": f"rtu://{plc.device}", "serial": {"mode": "rs485"}}],
                        [{"name": "m", "link": "bus", "unit": 1, "address_base": 0,
                          "points": [{"name": "a", "table": "holding", "address": 0, "type": "uint16"}]}])
    [reading] = poll_json(tramctl, agent)
    assert reading["health"] == "offline", reading
    assert points(reading)["a"]["quality"] == "link_down"
    assert "rs485" in reading["last_error"] and "RS-485 capable" in reading["last_error"], reading
    assert plc.log() == []
    # the same port without the RS-485 setting reads at once
    proc = tramctl("read", "--link", f"rtu://{plc.device}", "--unit", 1, "--address", 0, "--json")
    assert proc.returncode == 0, proc.stderr
