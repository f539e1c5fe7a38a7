"""`tramctl write` and the agent's `write` with real peers: plc.py over TCP, rtu_recorder.py on a socat pty pair,
a running tram-agent, a raw client of its control socket, and `tramctl simulate`.

Every value written is checked on the device side, never through tramctl itself: the registers are read back with
mbpoll (and plc.py's `get`), the expected words come from Python's struct (tramtest.encode / string_words), and the
function code on the wire from plc.py's request log or the RTU recorder's frames. Nothing waits on a sleep: every
wait polls a condition against a deadline.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import mbpoll_read, mbpoll_write, MbpollError, wait_for
from test_agent import AGENT_BIN, Agent
from tramtest import encode, string_words, tramctl_background, tramctl_on_terminal, write_agent

WRITE_FCS = {5, 6, 15, 16, 22, 23}

# A made-up boiler controller. Holding registers 0..8 and coil 0; every kind of write rule once.
PROFILE = """\
profile:
  vendor: Tram tests
  model: Boiler
  source: "Tests/integration/test_write.py (a made-up device)"
address_base: 0
points:
  - {name: setpoint, table: holding, address: 0, type: int16, scale: 0.1, unit: degC,
     writable: true, min: 20, max: 80, write_note: "applies at once"}
  - {name: mode, table: holding, address: 1, type: uint16, writable: true, values: [0, 1, 2]}
  - {name: reset, table: holding, address: 2, type: uint16, writable: true, values: [1], readback: none}
  - {name: limit, table: holding, address: 3, type: float32, order: CDAB, writable: true, min: -100, max: 100}
  - {name: flags, table: holding, address: 5, type: bit, bit: 3, writable: true}
  - {name: temperature, table: holding, address: 6, type: int16, scale: 0.1, unit: degC}
  - {name: energy, table: holding, address: 7, type: uint32, unit: Wh}
  - {name: pump, table: coil, address: 0, type: bool, writable: true}
"""

# What the PLC holds at the start: setpoint 21.5, mode 0, reset 0, limit 0, flags 0x0101, temperature 23.0.
BOILER = {1: {"holding": {0: [215, 0, 0, 0, 0, 0x0101, 230, 0, 1000]}, "coil": {0: [0]}}}


def writes_in(log) -> list[tuple[int, int, int, int]]:
    return [entry for entry in log if entry[1] in WRITE_FCS]


def boiler_file(directory: Path, url: str, *, control: dict, link_extra: dict | None = None,
                devices_extra: dict | None = None, extra: dict | None = None) -> Path:
    """An agent file in `directory` with the boiler (profile Devices/test/boiler.yaml beside it) on link `plc`."""
    (directory / "Devices" / "test").mkdir(parents=True, exist_ok=True)
    (directory / "Devices" / "test" / "boiler.yaml").write_text(PROFILE)
    device = {"name": "boiler", "link": "plc", "unit": 1, "profile": "test/boiler", **(devices_extra or {})}
    return write_agent(directory / "agent.yaml", [{"name": "plc", "url": url, **(link_extra or {})}], [device],
                       extra={"control": control, **(extra or {})})


def agent_file(directory: Path, url: str, sock: Path, **control) -> Path:
    """The boiler's agent file for a running tram-agent: no sinks, no built-in devices, 200 ms polls."""
    return boiler_file(
        directory, url, devices_extra={"poll_interval": "200ms"},
        control={"socket": str(sock), "metrics_port": None, "write_journal": str(directory / "writes.log"),
                 **control},
        extra={"spool": {"directory": str(directory / "spool"), "sync_interval": "100ms"},
               "modem": {"enabled": False}})


def refused(proc, *words: str) -> str:
    """Asserts exit 1 with `refused: …` naming every word; returns the message."""
    assert proc.returncode == 1, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = [line for line in proc.stderr.splitlines() if line.startswith("refused: ")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], (word, proc.stderr)
    return lines[0][len("refused: "):]


def ok(proc, *words: str, rc: int = 0) -> str:
    assert proc.returncode == rc, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for word in words:
        assert word in proc.stdout, (word, proc.stdout, proc.stderr)
    return proc.stdout


# ------------------------------------------------------------------ 1. by address, no agent

FC16_VALUES = [("uint32", 3_000_000_000), ("int32", -123_456), ("float32", 230.7), ("float64", -1234.5678)]


def test_direct_by_address_every_function_type_and_order(tramctl, plc_tcp, tmp_path):
    plc = plc_tcp({1: {"holding": {0: [0] * 100}, "coil": {0: [0] * 4}}})
    mb = (plc.host, plc.port)
    nobody_home = tmp_path / "no-agent.sock"

    def send(table: str, address: int, count: int, fc: int, *args):
        plc.clear()
        proc = tramctl("write", "--link", plc.url, "--unit", 1, "--table", table, "--address", address, *args,
                       "--force", "--yes", "--socket", nobody_home)
        ok(proc, "directly (no agent owns the link)", "result  verified")
        read = 3 if table == "holding" else 1
        # read before, the write, the read-back: nothing else
        assert plc.log() == [(1, read, address, count), (1, fc, address, count), (1, read, address, count)]
        assert f"FC{fc}" in proc.stdout
        return proc

    address = 0
    for type_, value in FC16_VALUES:
        for order in ("ABCD", "CDAB", "BADC", "DCBA"):
            want = encode(type_, value, order)
            send("holding", address, len(want), 16, "--type", type_, "--order", order, "--value", value)
            assert mbpoll_read(mb, 1, "holding", address, len(want)) == want, (type_, order)
            address += len(want)
    # The words for one pair by hand, so that encode() itself is checked once: 230.7 as float32 is 0x4366B333.
    assert struct.pack(">f", 230.7).hex() == "4366b333"
    assert mbpoll_read(mb, 1, "holding", 16, 2) == [0x4366, 0xB333]                      # float32 ABCD
    assert mbpoll_read(mb, 1, "holding", 20, 2) == [0x6643, 0x33B3]                      # float32 BADC

    for text, order in (("TRAM", "ABCD"), ("TRAM", "BADC"), ("Hi", "ABCD")):
        want = string_words(text, 3, order)
        send("holding", address, 3, 16, "--type", "string(3)", "--order", order, "--value", text)
        assert mbpoll_read(mb, 1, "holding", address, 3) == want, (text, order)
        address += 3

    # FC6: one register, 16-bit types (BADC swaps its two bytes); --fc 16 for one register
    for type_, value, order in (("uint16", 0xBEEF, "ABCD"), ("int16", -2, "ABCD"), ("uint16", 0x1234, "BADC")):
        send("holding", address, 1, 6, "--type", type_, "--order", order, "--value", value)
        assert mbpoll_read(mb, 1, "holding", address, 1) == encode(type_, value, order)
        address += 1
    assert mbpoll_read(mb, 1, "holding", address - 3, 3) == [0xBEEF, 0xFFFE, 0x3412]
    send("holding", address, 1, 16, "--type", "uint16", "--value", 4321, "--fc", 16)
    assert mbpoll_read(mb, 1, "holding", address, 1) == [4321]

    # coils: FC5, and FC15 for one coil
    send("coil", 1, 1, 5, "--value", 1)
    send("coil", 2, 1, 15, "--value", "on", "--fc", 15)
    assert mbpoll_read(mb, 1, "coil", 0, 4) == [0, 1, 1, 0]
    send("coil", 1, 1, 5, "--value", 0)
    assert mbpoll_read(mb, 1, "coil", 0, 4) == [0, 0, 1, 0]


def test_direct_by_address_over_rtu(tramctl, rtu_recorder, tmp_path):
    rec = rtu_recorder({1: {"holding": {0: [0] * 8}}}, units=[1], baud=19200)
    env = {"TRAM_LOCK_DIR": str(tmp_path)}
    common = ["--link", f"rtu://{rec.device}", "--baud", 19200, "--parity", "none", "--unit", 1, "--force", "--yes",
              "--socket", tmp_path / "no-agent.sock"]
    ok(tramctl("write", *common, "--address", 1, "--value", 0x1234, env=env), "result  verified", "FC6")
    limit = encode("float32", -12.25, "CDAB")
    ok(tramctl("write", *common, "--address", 2, "--type", "float32", "--order", "CDAB", "--value", -12.25,
               env=env), "result  verified", "FC16")
    big = encode("int64", -9_000_000_000_000, "DCBA")
    ok(tramctl("write", *common, "--address", 4, "--type", "int64", "--order", "DCBA", "--value",
               -9_000_000_000_000, env=env), "result  verified", "FC16")
    records = rec.records()
    rx = [(r["fc"], r["address"], r["count"], r["values"]) for r in records if r["direction"] == "rx"]
    assert rx == [(3, 1, 1, None), (6, 1, 1, [0x1234]), (3, 1, 1, None),
                  (3, 2, 2, None), (16, 2, 2, limit), (3, 2, 2, None),
                  (3, 4, 4, None), (16, 4, 4, big), (3, 4, 4, None)], rx
    assert all(r["crc_ok"] for r in records), records
    assert mbpoll_read(rec.device, 1, "holding", 0, 8, baud=19200) == [0, 0x1234, *limit, *big]


def test_by_map_over_rtu_keeps_the_devices_pause(tramctl, rtu_recorder, tmp_path):
    """The read before, the write and the read-back each wait out the device's `limits: pause` (30 ms here)."""
    rec = rtu_recorder(BOILER, units=[1], baud=19200)
    config = boiler_file(tmp_path, f"rtu://{rec.device}", control={"socket": str(tmp_path / "no-agent.sock")},
                         link_extra={"serial": {"baud": 19200, "parity": "none"}},
                         devices_extra={"limits": {"pause": "30ms"}})
    env = {"TRAM_LOCK_DIR": str(tmp_path)}
    runs = []
    for point, value in (("setpoint", 47.3), ("limit", -12.5)):
        ok(tramctl("write", "--config", config, "--device", "boiler", "--point", point, "--value", value, "--yes",
                   env=env), "result  verified")
        records = rec.records()
        runs.append(records[sum(map(len, runs)):])
    limit = encode("float32", -12.5, "CDAB")
    rx = [[(r["fc"], r["address"], r["values"]) for r in run if r["direction"] == "rx"] for run in runs]
    assert rx == [[(3, 0, None), (6, 0, [473]), (3, 0, None)], [(3, 3, None), (16, 3, limit), (3, 3, None)]], rx
    for run in runs:     # within one run (one tramctl knows nothing of the frames of the one before it)
        assert rec.check_gaps(30, records=run) == []
    assert mbpoll_read(rec.device, 1, "holding", 0, 5, baud=19200) == [473, 0, 0, *limit]


def test_rtu_write_leaves_three_and_a_half_characters_between_frames(tramctl, rtu_recorder, tmp_path):
    rec = rtu_recorder({1: {"holding": {0: [0]}}}, units=[1], baud=19200)
    ok(tramctl("write", "--link", f"rtu://{rec.device}", "--baud", 19200, "--address", 0, "--value", 7, "--force",
               "--yes", "--socket", tmp_path / "no-agent.sock", env={"TRAM_LOCK_DIR": str(tmp_path)}),
       "result  verified")
    assert rec.check_gaps() == []


# ------------------------------------------------------------------ 2. by map, no agent

def test_by_map_writes_and_refusals(tramctl, plc_tcp, tmp_path):
    plc = plc_tcp(BOILER)
    mb = (plc.host, plc.port)
    config = boiler_file(tmp_path, plc.url, control={"socket": str(tmp_path / "no-agent.sock")})

    def write(point: str, value, *more):
        plc.clear()
        return tramctl("write", "--config", config, "--device", "boiler", "--point", point, "--value", value, *more)

    out = ok(write("setpoint", 47.3, "--yes"), "directly (no agent owns the link)", "result  verified",
             "0x01D9 = 47.3 degC", "note      applies at once")
    assert "before  0x00D7  (21.5 degC)" in out and "after   0x01D9  (47.3 degC)" in out, out
    assert mbpoll_read(mb, 1, "holding", 0, 1) == [473]
    assert writes_in(plc.log()) == [(1, 6, 0, 1)]

    ok(write("limit", -12.5, "--yes"), "result  verified")
    assert mbpoll_read(mb, 1, "holding", 3, 2) == encode("float32", -12.5, "CDAB")
    assert writes_in(plc.log()) == [(1, 16, 3, 2)]

    ok(write("pump", 1, "--yes"), "result  verified")
    assert mbpoll_read(mb, 1, "coil", 0, 1) == [1]
    assert writes_in(plc.log()) == [(1, 5, 0, 1)]

    ok(write("flags", 1, "--yes"), "result  verified", "mask write (FC22)")
    assert mbpoll_read(mb, 1, "holding", 5, 1) == [0x0109]                   # bit 3 set, bits 0 and 8 kept
    assert writes_in(plc.log()) == [(1, 22, 5, 1)]

    ok(write("mode", 2, "--yes"), "result  verified")
    assert plc.get(1, "holding", 1) == [2]

    # readback: none: the read before, the write, and no read after
    ok(write("reset", 1, "--yes"), "result  written", "not read back")
    assert plc.log() == [(1, 3, 2, 1), (1, 6, 2, 1)]
    assert plc.get(1, "holding", 2) == [1]

    # --dry-run: the plan, and nothing on the wire at all
    ok(write("setpoint", 50, "--dry-run"), "dry run: nothing sent", "0x01F4 = 50 degC")
    assert plc.requests() == 0

    # refusals: exit 1, a clear message, and not one request sent
    before = plc.get(1, "holding", 0, 9), plc.get(1, "coil", 0)
    cases = [
        (("setpoint", 95), ("95 degC is above boiler.setpoint's max 80 degC",)),
        (("setpoint", 5), ("below", "min 20")),
        (("mode", 3), ("accepts only 0, 1, 2",)),
        (("temperature", 20), ("boiler.temperature is not writable", "writable: true")),
        (("setpoint", "ten"), ("takes a number, not 'ten'",)),
        (("setpoint", 47.35), ("not a whole number", "nearest it can hold are 47.3 and 47.4")),
        (("pump", 2), ("a coil takes 1 or 0",)),
        (("setpont", 50), ("has no point 'setpont'", "setpoint")),
    ]
    for (point, value), words in cases:
        refused(write(point, value, "--yes"), *words)
        assert plc.requests() == 0, (point, value, plc.log())
    by_address = ["write", "--link", plc.url, "--address", 0, "--value", 300, "--yes",
                  "--socket", tmp_path / "no-agent.sock"]
    refused(tramctl(*by_address), "give --force")
    refused(tramctl(*by_address, "--force", "--unit", 0), "unit 0 is broadcast")
    refused(tramctl(*by_address, "--force", "--unit", 248), "unit 248 is not a device address")
    assert plc.requests() == 0
    assert (plc.get(1, "holding", 0, 9), plc.get(1, "coil", 0)) == before


def test_confirmation_on_a_terminal(tramctl, plc_tcp, tmp_path):
    plc = plc_tcp(BOILER)
    config = boiler_file(tmp_path, plc.url, control={"socket": str(tmp_path / "no-agent.sock")})
    args = ["write", "--config", config, "--device", "boiler", "--point", "setpoint", "--value", 60]

    plc.clear()
    proc = tramctl_on_terminal(args, "n")
    assert "will write boiler.setpoint unit 1, FC6, holding 0" in proc.stdout and "write it? [y/N]" in proc.stdout
    assert proc.returncode == 1 and "not written" in proc.stderr, (proc.returncode, proc.stdout, proc.stderr)
    assert plc.requests() == 0 and plc.get(1, "holding", 0) == [215]

    # not a terminal, no --yes: refused before anything is sent
    proc = tramctl(*args)
    refused(proc, "not a terminal", "--yes")
    assert plc.requests() == 0 and plc.get(1, "holding", 0) == [215]

    proc = tramctl_on_terminal(args, "y")
    ok(proc, "result  verified")
    assert mbpoll_read((plc.host, plc.port), 1, "holding", 0, 1) == [600]
    assert writes_in(plc.log()) == [(1, 6, 0, 1)]


# ------------------------------------------------------------------ 3. the device refuses or ignores

def test_device_exceptions_and_an_ignored_write(tramctl, plc_tcp, tmp_path):
    plc = plc_tcp(BOILER)
    config = boiler_file(tmp_path, plc.url, control={"socket": str(tmp_path / "no-agent.sock")})
    args = ["write", "--config", config, "--device", "boiler", "--point", "setpoint", "--value", 50, "--yes"]

    for code, meaning in ((2, "illegal address"), (3, "illegal value")):
        plc.writes("exception", code)
        plc.clear()
        out = ok(tramctl(*args), "exception", f"exception_{code}", f"Modbus exception {code} ({meaning})", rc=2)
        assert "after   not read" in out, out
        assert writes_in(plc.log()) == [(1, 6, 0, 1)]
        assert plc.get(1, "holding", 0) == [215]

    plc.writes("ignore")
    plc.clear()
    out = ok(tramctl(*args), "result  mismatch", rc=3)
    assert "after   0x00D7" in out, out
    assert plc.log() == [(1, 3, 0, 1), (1, 6, 0, 1), (1, 3, 0, 1)]
    assert plc.get(1, "holding", 0) == [215]

    plc.writes("normal")
    ok(tramctl(*args), "result  verified")
    assert plc.get(1, "holding", 0) == [500]


# ------------------------------------------------------------------ 4. through the agent

@pytest.fixture
def agent_binary():
    if not AGENT_BIN.exists():
        pytest.skip(f"{AGENT_BIN} is not built (swift build)")


def journal(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def fields(line: str) -> dict[str, str]:
    """`write key=value key="a b"` → dict (the audit line's quoting)."""
    import shlex
    assert line.startswith("write "), line
    return dict(item.split("=", 1) for item in shlex.split(line[len("write "):]))


def test_through_the_agent(tramctl, agent_binary, procs, plc_tcp, tmp_path):
    plc = plc_tcp(BOILER)
    a = tmp_path / "a"
    a.mkdir()
    config = agent_file(a, plc.url, a / "agent.sock", writes=True)
    agent = Agent(procs, config, a)
    wait_for(lambda: agent.status()["devices"][0]["cycles"] > 0, 10, "the agent polling the boiler")
    by_map = ["write", "--config", config, "--device", "boiler", "--point"]

    plc.clear()
    ok(tramctl(*by_map, "setpoint", "--value", 47.3, "--yes"), "through the agent (link plc)", "result  verified",
       "before  0x00D7  (21.5 degC)", "after   0x01D9  (47.3 degC)")
    assert mbpoll_read((plc.host, plc.port), 1, "holding", 0, 1) == [473]
    assert writes_in(plc.log()) == [(1, 6, 0, 1)]

    [line] = journal(a / "writes.log")
    entry = fields(line)
    assert entry["user"] == "root" and entry["uid"] == "0", entry
    assert (entry["what"], entry["link"], entry["result"]) == ("boiler.setpoint", "plc", "verified"), entry
    assert (entry["before"], entry["after"]) == ("0x00D7", "0x01D9"), entry
    assert "0x01D9 = 47.3 degC" in entry["plan"], entry
    assert agent.status()["writes"] == [line]
    screen = tramctl("status", "--socket", a / "agent.sock")
    assert screen.returncode == 0, screen.stderr
    assert "WRITES" in screen.stdout, screen.stdout
    [shown] = [l for l in screen.stdout.splitlines() if "boiler.setpoint" in l]
    assert "root" in shown and "verified" in shown and "0x00D7 → 0x01D9" in shown, shown
    def logged(result: str, what: str):
        return lambda: [l for l in agent.log().splitlines()
                        if l.endswith("] write") and f"result={result} " in l and f"what={what}" in l]
    wait_for(logged("verified", "boiler.setpoint"), 5, "the agent's log line for the write")

    # the device ignores it: the agent's read-back catches it, and tramctl says so
    plc.writes("ignore")
    ok(tramctl(*by_map, "setpoint", "--value", 55, "--yes"), "through the agent", "result  mismatch", rc=3)
    plc.writes("normal")
    assert fields(journal(a / "writes.log")[-1])["result"] == "mismatch"

    # a dry run through the agent: the plan, nothing written, nothing journaled
    plc.clear()
    ok(tramctl(*by_map, "setpoint", "--value", 50, "--dry-run"), "through the agent", "dry run: nothing sent")
    assert writes_in(plc.log()) == [] and len(journal(a / "writes.log")) == 2

    # refused by the agent's own guards: the same words as without the agent, and journaled
    refused(tramctl(*by_map, "setpoint", "--value", 95, "--yes"), "above boiler.setpoint's max 80 degC")
    refused(tramctl("write", "--link", plc.url, "--address", 1, "--value", 2, "--force", "--yes",
                    "--socket", a / "agent.sock"), "raw_writes: true")
    assert [fields(l)["result"] for l in journal(a / "writes.log")[2:]] == ["refused_out_of_range",
                                                                            "refused_not_allowed"]
    assert writes_in(plc.log()) == [] and plc.get(1, "holding", 0, 2) == [473, 0]

    # a device the agent does not have (another file, the same socket): no bus of the agent's, so tramctl writes
    # directly
    other = plc_tcp(BOILER)
    (tmp_path / "tech").mkdir()
    tech = boiler_file(tmp_path / "tech", other.url, control={"socket": str(a / "agent.sock")},
                       devices_extra={"name": "boiler2"})
    ok(tramctl("write", "--config", tech, "--device", "boiler2", "--point", "setpoint", "--value", 33, "--yes"),
       "directly (no agent owns the link)", "result  verified")
    assert other.get(1, "holding", 0) == [330] and plc.get(1, "holding", 0) == [473]
    agent.terminate()

    # writes: false (the default): refused, nothing sent
    b = tmp_path / "b"
    b.mkdir()
    config = agent_file(b, plc.url, b / "agent.sock", writes=False)
    agent = Agent(procs, config, b)
    plc.clear()
    refused(tramctl("write", "--config", config, "--device", "boiler", "--point", "setpoint", "--value", 30, "--yes"),
            "writes are off in this agent", "writes: true")
    assert writes_in(plc.log()) == [] and plc.get(1, "holding", 0) == [473]
    assert "writes" not in agent.status()
    wait_for(logged("refused_not_allowed", "boiler.setpoint"), 5, "the agent's log line for the refusal")
    agent.terminate()

    # raw_writes: true, and the client is root: a write by address goes through the agent
    if os.geteuid() != 0:
        pytest.skip("a write by address through the agent needs root")
    c = tmp_path / "c"
    c.mkdir()
    config = agent_file(c, plc.url, c / "agent.sock", writes=True, raw_writes=True)
    agent = Agent(procs, config, c)
    plc.clear()
    ok(tramctl("write", "--link", plc.url, "--address", 1, "--value", 2, "--force", "--yes", "--socket",
               c / "agent.sock"), "through the agent (link plc)", "result  verified")
    assert plc.get(1, "holding", 1) == [2] and writes_in(plc.log()) == [(1, 6, 1, 1)]
    [line] = journal(c / "writes.log")
    assert (fields(line)["what"], fields(line)["result"]) == ("unit 1 holding 1", "verified"), line
    # still refused without --force, by the agent too
    refused(tramctl("write", "--link", plc.url, "--address", 1, "--value", 1, "--yes", "--socket", c / "agent.sock"),
            "give --force")


def test_by_address_to_a_link_the_agent_does_not_own_goes_directly(tramctl, agent_binary, procs, plc_tcp, tmp_path):
    plc, other = plc_tcp(BOILER), plc_tcp(BOILER)
    config = agent_file(tmp_path, plc.url, tmp_path / "agent.sock", writes=True)
    Agent(procs, config, tmp_path)
    ok(tramctl("write", "--link", other.url, "--address", 1, "--value", 2, "--force", "--yes", "--socket",
               tmp_path / "agent.sock"), "directly (no agent owns the link)", "result  verified")
    assert other.get(1, "holding", 1) == [2] and plc.get(1, "holding", 1) == [0]


# ------------------------------------------------------------------ 5. a raw client of the socket

RAW_CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""


def ask_raw(sock: Path, line: str, *, as_user: tuple[int, int, list[int]] | None = None) -> dict:
    """One request line on the agent's socket from a separate process (optionally as uid, gid, groups)."""
    def drop():
        uid, gid, groups = as_user
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    # Another user cannot run a Python under /root (pyenv): the system's, standard library only.
    python = "/usr/bin/python3" if as_user else sys.executable
    proc = subprocess.run([python, "-c", RAW_CLIENT, str(sock), line], capture_output=True, text=True,
                          timeout=30, preexec_fn=drop if as_user else None, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_raw_socket_client_gets_the_same_refusals(tramctl, agent_binary, procs, plc_tcp, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (raw_writes, and clients of other users)")
    plc = plc_tcp(BOILER)
    # The socket in a directory another user can reach (pytest's tmp_path is 0700); the socket is 0660 root:root.
    shared = Path(tempfile.mkdtemp(prefix="tram-write-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        sock = shared / "agent.sock"
        config = agent_file(tmp_path, plc.url, sock, writes=True, raw_writes=True, write_group="nogroup")
        agent = Agent(procs, config, shared)
        by_map = ["write", "--config", config, "--device", "boiler", "--yes", "--point"]
        by_address = ["write", "--link", plc.url, "--address", 0, "--value", 300, "--yes", "--socket", sock]
        cases = [  # (raw request, the same through tramctl, reason)
            ({"device": "boiler", "point": "setpoint", "value": "95"}, [*by_map, "setpoint", "--value", 95],
             "out_of_range"),
            ({"device": "boiler", "point": "temperature", "value": "20"}, [*by_map, "temperature", "--value", 20],
             "not_writable"),
            ({"device": "boiler", "point": "setpoint", "value": "ten"}, [*by_map, "setpoint", "--value", "ten"],
             "bad_value"),
            ({"link": plc.url, "unit": 0, "table": "holding", "address": 0, "type": "uint16", "value": "300",
              "force": True}, [*by_address, "--unit", 0, "--force"], "bad_unit"),
            ({"link": plc.url, "unit": 1, "table": "holding", "address": 0, "type": "uint16", "value": "300"},
             by_address, "needs_force"),
        ]
        plc.clear()
        for request, argv, reason in cases:
            answer = ask_raw(sock, "write " + json.dumps(request))
            assert set(answer) == {"refused", "message"} and answer["refused"] == reason, (request, answer)
            assert refused(tramctl(*argv)) == answer["message"], (request, answer)
        assert writes_in(plc.log()) == []
        # every attempt journaled, raw and tramctl alike, as root
        entries = [fields(l) for l in journal(tmp_path / "writes.log")]
        assert [e["result"] for e in entries] == [f"refused_{r}" for _, _, r in cases for _ in (0, 1)]
        assert {e["user"] for e in entries} == {"root"}

        # not JSON, and JSON without a value: a control error, not a write
        assert set(ask_raw(sock, "write {not json")) == {"error"}
        assert "value" in ask_raw(sock, 'write {"device":"boiler","point":"setpoint"}')["error"]

        # a dry run and a real write: the plan's shape, then the outcome's
        request = {"device": "boiler", "point": "setpoint", "value": "47.3"}
        plan = ask_raw(sock, "write " + json.dumps({**request, "dry_run": True}))
        assert plan == {"link": "plc", "plan": plan["plan"], "function": 6, "raw": "0x01D9",
                        "engineering": "47.3 degC", "readback": "expect", "note": "applies at once", "dry_run": True}
        assert plc.get(1, "holding", 0) == [215]
        done = ask_raw(sock, "write " + json.dumps(request))
        assert set(done) == {"link", "plan", "function", "raw", "engineering", "readback", "note", "result",
                             "succeeded", "method", "detail", "round_trip_ns", "before", "after", "before_value",
                             "after_value"}, done
        assert (done["result"], done["succeeded"], done["method"]) == ("verified", True, "FC6"), done
        assert (done["before"], done["after"], done["before_value"], done["after_value"]) == \
            ([215], [473], "21.5 degC", "47.3 degC"), done
        assert mbpoll_read((plc.host, plc.port), 1, "holding", 0, 1) == [473]

        # SO_PEERCRED: nobody in group `nogroup` (write_group) may write by map, not by address; in another group not
        # at all. (Supplementary group 0 only to reach the 0660 root:root socket.)
        if not os.access("/usr/bin/python3", os.X_OK):
            pytest.skip("no /usr/bin/python3 to run a client as another user")
        member, stranger = (65534, 65534, [0]), (65534, 1, [0])
        answer = ask_raw(sock, "write " + json.dumps({**request, "value": "60"}), as_user=member)
        assert answer.get("result") == "verified", answer
        assert plc.get(1, "holding", 0) == [600]
        answer = ask_raw(sock, "write " + json.dumps(cases[3][0] | {"unit": 1}), as_user=member)
        assert answer == {"refused": "not_allowed", "message": answer["message"]} and "needs root" in \
            answer["message"], answer
        answer = ask_raw(sock, "write " + json.dumps({**request, "value": "70"}), as_user=stranger)
        assert answer["refused"] == "not_allowed" and "may not write" in answer["message"] \
            and "'nogroup'" in answer["message"], answer
        assert plc.get(1, "holding", 0) == [600]
        last = [fields(l) for l in journal(tmp_path / "writes.log")[-3:]]
        assert [(e["user"], e["result"]) for e in last] == [
            ("nobody", "verified"), ("nobody", "refused_not_allowed"), ("nobody", "refused_not_allowed")], last
        agent.terminate()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# ------------------------------------------------------------------ 6. the simulator judges writes

def test_simulator_refuses_like_a_device_and_holds_written_values(tramctl, procs, tmp_path, free_port):
    port = free_port()
    config = boiler_file(tmp_path, f"tcp://127.0.0.1:{port}", control={"socket": str(tmp_path / "no-agent.sock")})
    sim = tramctl_background(procs, "simulate", "--config", config)
    sim.wait_line(lambda l: l.startswith("READY"), 15, "the simulator's READY line")
    mb = ("127.0.0.1", port)
    raw = ["write", "--link", f"tcp://127.0.0.1:{port}", "--force", "--yes", "--socket", tmp_path / "no-agent.sock",
           "--address"]

    # not writable (temperature; energy with FC16 from mbpoll): 02; outside min/max or not one of values: 03
    ok(tramctl(*raw, 6, "--value", 100), "exception_2", "illegal address", rc=2)
    with pytest.raises(MbpollError) as error:
        mbpoll_write(mb, 1, "holding", 7, [1, 2])
    assert error.value.illegal_address, error.value.stderr
    ok(tramctl(*raw, 0, "--type", "int16", "--value", 900), "exception_3", "illegal value", rc=2)
    ok(tramctl(*raw, 1, "--value", 3), "exception_3", rc=2)
    ok(tramctl(*raw, 3, "--type", "float32", "--order", "CDAB", "--value", 150), "exception_3", rc=2)
    words = mbpoll_read(mb, 1, "holding", 0, 9)                       # none of them applied
    assert words[0] != 900 and words[1] != 3 and words[6] != 100 and words[3:5] != encode("float32", 150, "CDAB")

    # within the rule: accepted, and held from then on while the simulated values move on
    out = ok(tramctl("write", "--config", config, "--device", "boiler", "--point", "setpoint", "--value", 47.3,
                     "--yes"), "result  verified")
    assert "after   0x01D9  (47.3 degC)" in out, out
    ok(tramctl(*raw, 3, "--type", "float32", "--order", "CDAB", "--value", -12.5), "result  verified")

    def sample():
        words = mbpoll_read(mb, 1, "holding", 0, 9)
        assert words[0] == 473, words                                  # every read: the written setpoint
        assert words[3:5] == encode("float32", -12.5, "CDAB"), words
        return words[7] << 16 | words[8]                              # energy, Wh: climbs 28 Wh/s

    def moved():
        energy = sample()
        return energy if energy != seen[-1] else None

    seen = [sample()]
    for _ in range(2):                                                 # two refreshes (500 ms each) later
        seen.append(wait_for(moved, 5, "the simulated energy counter to move on"))
    assert seen[0] < seen[1] < seen[2], seen
    assert sim.proc.poll() is None, sim.stderr
