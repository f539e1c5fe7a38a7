"""Writes through the running agent while it polls: many writes on a polled bus, checked on the wire.

A real tram-agent polls two devices every 100 ms on an RTU bus at 19,200 baud (a socat pty pair with
peers/rtu_recorder.py, which stamps every frame with CLOCK_MONOTONIC) and, in the TCP test, every 10 ms on plc.py
over TCP. A raw client of the control socket (AF_UNIX, as root, one request per connection) sends writes back to back
while the agent polls. From the recorder's frames, the agent's cycle ring (`cycles`, what `tramctl tail` reads),
`tramctl status --json` and the write journal it is checked that:

- every gap between frames is at least 3.5 characters and, before a request, the next device's `limits: pause`;
- every write was answered `verified`, in order (each one's `before` is the previous one's value), and journalled;
- no poll cycle was lost: each device's `cycles` grew by at least what the elapsed time allows, less a slack
  computed from the measured write and poll durations; no cycle failed; every cycle read the right values;
- a write whose answer comes after the device's timeout (the recorder's `late`, within the one more timeout the link
  then waits) reports failure, its late echo is never taken for a poll's answer (the polls right after it read the
  right values and none fails), and the link goes on: the next write reads before it the value the late write left.

Two tests for what this file found: a write answered after twice the timeout must not shift later replies by one
request (they were taken, marked good, with another block's values), and every write attempt is its own line in the
agent's log (the rate limiter folded them into one a minute).
About 15 s in all.
"""
from __future__ import annotations

import json
import math
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import TRAMCTL, wait_for
from test_agent import AGENT_BIN, Agent

INTERVAL_MS = 100
TIMEOUT_MS = 150          # the devices' timeout on the RTU bus
LATE_MS = 250             # a write's answer after the timeout, within the one more timeout the link waits
PAUSE_MS = {1: 5, 2: 0}   # limits: pause per unit id; unit 2 has none, so only 3.5 characters (1.82 ms at 19200 8N1)

# Unit 1 ("meter"): constant 0x1234, setpoint (written), status 7, code 0xBEEF. Unit 2 ("second"): 100, 200.
CONSTANT, STATUS, CODE = 0x1234, 7, 0xBEEF
VALUES = {1: {"holding": {0: [CONSTANT, 0, STATUS, CODE]}}, 2: {"holding": {0: [100, 200]}}}
WRITE_VALUES = (321, 654)   # alternating; neither is a value any other register holds


@pytest.fixture(autouse=True)
def _binaries():
    for path in (AGENT_BIN, TRAMCTL):
        if not path.exists():
            pytest.skip(f"{path} is not built (swift build)")


def devices(link: str, *, interval_ms: int, timeout_ms: int | None, pauses: dict[int, int]) -> list[dict]:
    extra = {"timeout": f"{timeout_ms}ms"} if timeout_ms else {}
    return [
        {"name": "meter", "link": link, "unit": 1, "address_base": 0, "poll_interval": f"{interval_ms}ms", **extra,
         "limits": {"pause": f"{pauses[1]}ms"},
         "points": [
             {"name": "constant", "table": "holding", "address": 0, "type": "uint16"},
             {"name": "setpoint", "table": "holding", "address": 1, "type": "uint16", "writable": True,
              "min": 0, "max": 1000},
             {"name": "status", "table": "holding", "address": 2, "type": "uint16"},
             {"name": "code", "table": "holding", "address": 3, "type": "uint16"},
         ]},
        {"name": "second", "link": link, "unit": 2, "address_base": 0, "poll_interval": f"{interval_ms}ms", **extra,
         "limits": {"pause": f"{pauses[2]}ms"},
         "points": [
             {"name": "a", "table": "holding", "address": 0, "type": "uint16"},
             {"name": "b", "table": "holding", "address": 1, "type": "uint16"},
         ]},
    ]


def agent_file(tmp_path: Path, link: dict, devs: list[dict]) -> Path:
    """No sinks, no built-in devices; writes on, journalled in tmp_path/writes.log."""
    doc = {
        "gateway": {"id": "gw-write-bus", "health": {"enabled": False}},
        "modem": {"enabled": False},
        "links": [link],
        "devices": devs,
        "spool": {"directory": str(tmp_path / "spool"), "sync_interval": "100ms"},
        "control": {"socket": str(tmp_path / "agent.sock"), "metrics_port": None, "writes": True,
                    "write_journal": str(tmp_path / "writes.log")},
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# ------------------------------------------------------------------ the control socket, directly

def ask(sock: Path, line: str, timeout: float = 20.0) -> str:
    """One request line on its own connection; the answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode()


def write(sock: Path, device: str, point: str, value) -> tuple[dict, float]:
    """A write by map; its answer and the client's round trip in seconds."""
    started = time.monotonic()
    answer = json.loads(ask(sock, "write " + json.dumps({"device": device, "point": point, "value": str(value)})))
    return answer, time.monotonic() - started


class CycleWatch:
    """Reads the agent's cycle ring (`cycles CURSOR`) every 300 ms, so that every cycle it polls is kept here."""

    def __init__(self, sock: Path):
        self.sock = sock
        self.cursor = 0
        self.cycles: list[dict] = []
        self.missed = 0
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.fetch()   # the first request starts the ring: cycles after it are kept
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def fetch(self) -> None:
        answer = json.loads(ask(self.sock, f"cycles {self.cursor}"))
        self.cursor = answer["cursor"]
        self.missed += answer["missed"]
        self.cycles += answer["cycles"]

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            try:
                self.fetch()
            except BaseException as exc:  # pylint: disable=broad-except
                self._error = exc
                return

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(10)
        if self._error:
            raise self._error
        self.fetch()
        return self.cycles


def status(sock: Path) -> tuple[dict, float, float]:
    """`tramctl status --json`, with the monotonic times just before and just after it."""
    before = time.monotonic()
    proc = subprocess.run([str(TRAMCTL), "status", "--json", "--socket", str(sock)], capture_output=True, text=True,
                          timeout=15)
    after = time.monotonic()
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), before, after


def by_device(snapshot: dict) -> dict[str, dict]:
    return {d["name"]: d for d in snapshot["devices"]}


def journal(path: Path) -> list[dict[str, str]]:
    """The journal's lines as {key: value} (values may be quoted)."""
    out = []
    for line in path.read_text().splitlines():
        assert line.startswith("write "), line
        fields, rest = {}, line[len("write "):]
        while rest:
            key, _, rest = rest.partition("=")
            if rest.startswith('"'):
                end = 1
                while rest[end] != '"' or rest[end - 1] == "\\":
                    end += 1
                value, rest = rest[1:end], rest[end + 1:].lstrip(" ")
            else:
                value, _, rest = rest.partition(" ")
            fields[key.strip()] = value
        out.append(fields)
    return out


def write_burst(sock: Path, n: int, start: int = 0) -> list[tuple[int, dict, float]]:
    """n writes of meter.setpoint, alternating WRITE_VALUES, back to back: (value, answer, round trip)."""
    done = []
    for i in range(start, start + n):
        value = WRITE_VALUES[i % 2]
        answer, took = write(sock, "meter", "setpoint", value)
        done.append((value, answer, took))
    return done


def assert_verified_in_order(done: list[tuple[int, dict, float]], first_before: int) -> None:
    previous = first_before
    for i, (value, answer, _) in enumerate(done):
        assert answer.get("result") == "verified" and answer.get("succeeded") is True, (i, answer)
        assert answer["before"] == [previous] and answer["after"] == [value], (i, answer)
        assert answer["method"] == "FC6" and answer["function"] == 6, (i, answer)
        previous = value


def assert_cycles_kept(s0, s1, done, what: str, interval_ms: int) -> dict[str, int]:
    """Each device's cycles between two status snapshots: at least the poll deadlines the time between them holds,
    less one for the phase and those a cycle may still be finishing (the longest write it waited behind plus the
    device's poll latency, both measured). Returns the growth per device."""
    (a, _, a_after), (b, b_before, _) = s0, s1
    elapsed = b_before - a_after
    longest_write = max(took for _, _, took in done)
    grown = {}
    for name, dev in by_device(b).items():
        start = by_device(a)[name]
        latency = max(start["latency_ms"], dev["latency_ms"]) / 1000
        slack = 1 + math.ceil((longest_write + latency) / (interval_ms / 1000))
        want = math.floor(elapsed / (interval_ms / 1000)) - slack
        grown[name] = dev["cycles"] - start["cycles"]
        print(f"{what}: {name} {grown[name]} cycles in {elapsed:.3f} s, at least {want} wanted "
              f"(slack {slack}: longest write {longest_write * 1000:.1f} ms, latency {latency * 1000:.1f} ms)")
        assert grown[name] >= want, (f"{what}: {name} polled {grown[name]} cycles in {elapsed:.3f} s "
                                     f"(at least {want}: slack {slack}, longest write {longest_write * 1000:.1f} ms)")
        assert dev["failed_cycles"] == 0 and dev["health"] == "online" and dev["last_error"] is None, dev
    return grown


def assert_cycles_read_right(cycles: list[dict], allowed_setpoints: set[int]) -> dict[str, list[dict]]:
    """Every cycle online, every point good, constants as the device holds them, the setpoint a value it held."""
    per: dict[str, list[dict]] = {"meter": [], "second": []}
    for cycle in cycles:
        points = {p["name"]: p for p in cycle["points"]}
        assert cycle["health"] == "online", cycle
        assert all(p["quality"] == "good" for p in points.values()), cycle
        values = {name: p["value"] for name, p in points.items()}
        if cycle["device"] == "meter":
            assert (values["constant"], values["status"], values["code"]) == (CONSTANT, STATUS, CODE), cycle
            assert values["setpoint"] in allowed_setpoints, cycle
        else:
            assert values == {"a": 100, "b": 200}, cycle
        per[cycle["device"]].append(values)
    return per


def as_sent(records: list[dict]) -> list[dict]:
    """The records with each reply's end at the moment the recorder began writing it.

    On a pty a reply has no line time: its bytes are in the pty when os.write starts copying them, and the agent can
    read them (and start its pause) before the recorder, preempted by the very wake-up of socat and the agent on a
    busy two-core machine, takes its "after the write" stamp; that stamp then lands up to a few tenths of a
    millisecond late, and a gap measured from it looks short when it is not. The agent cannot have had the reply
    before the write began, so a gap measured from there that is still short is a real violation."""
    return [dict(r, t_last_byte=r["t_first_byte"]) if r["direction"] == "tx" else r for r in records]


# ------------------------------------------------------------------ RTU

def test_200_writes_on_a_polled_rtu_bus(procs, rtu_recorder, tmp_path):
    rec = rtu_recorder(VALUES, units=[1, 2], baud=19200, parity="N")
    link = {"name": "bus", "url": f"rtu://{rec.device}", "serial": {"baud": 19200, "parity": "none"},
            "response_timeout": f"{TIMEOUT_MS}ms"}
    config = agent_file(tmp_path, link, devices("bus", interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS, pauses=PAUSE_MS))
    agent = Agent(procs, config, tmp_path, env={"TRAM_LOCK_DIR": str(tmp_path)})
    sock = agent.socket
    wait_for(lambda: all(d["cycles"] >= 3 for d in agent.status()["devices"]), 10, "both devices polled")
    watch = CycleWatch(sock)

    # Two refusals by the agent's own guards: journalled, nothing on the wire.
    assert write(sock, "meter", "setpoint", 5000)[0]["refused"] == "out_of_range"
    assert write(sock, "meter", "constant", 1)[0]["refused"] == "not_writable"

    # 1. 200 writes back to back while both devices poll.
    s0 = status(sock)
    done = write_burst(sock, 200)
    s1 = status(sock)
    assert_verified_in_order(done, first_before=0)
    grown = assert_cycles_kept(s0, s1, done, "200 writes", INTERVAL_MS)

    # 2. Three writes whose answers come 250 ms after the request: after the 150 ms timeout, before the link's
    #    one more timeout ends. Each fails as a timeout (the recorder applied it at once; the agent cannot know, and
    #    says it may or may not have applied); the late echo is flushed, never read as a poll's answer. Cycles due
    #    while a late write holds the bus (~2 timeouts) start late or are skipped, as any overrun: not counted here.
    rec.late(LATE_MS, units=[1])
    late = [(v, *write(sock, "meter", "setpoint", v)) for v in (701, 702, 703)]
    rec.late(0)
    for (value, answer, took), before in zip(late, (done[-1][0], 701, 702)):
        assert answer["result"] == "failed" and answer["succeeded"] is False, answer
        assert "timeout" in answer["detail"], answer
        assert answer["before"] == [before] and "after" not in answer, answer
        assert took >= 2 * TIMEOUT_MS / 1000, (value, took)   # the write's timeout, then one more before the flush
    # the link goes on: the next writes read first what the late write left, and verify
    after_late = write_burst(sock, 2)
    assert_verified_in_order(after_late, first_before=703)
    time.sleep(5 * INTERVAL_MS / 1000)   # a few poll cycles after the last write
    s2 = status(sock)
    cycles = watch.stop()
    assert watch.missed == 0

    # What the agent read: every cycle right, all through; and after each late write the value it left.
    per = assert_cycles_read_right(cycles, {0, *WRITE_VALUES, 701, 702, 703})
    assert len(per["meter"]) >= grown["meter"] and len(per["second"]) >= grown["second"]
    # The setpoints the polls read, in order, follow the order the device took the writes in: each value read is
    # one written no earlier than the one read before it, and a poll after each late write read what it left.
    history = [0] + [v for v, _, _ in done] + [701, 702, 703] + [v for v, _, _ in after_late]
    read = [v["setpoint"] for v in per["meter"]]
    position = 0
    for i, value in enumerate(read):
        while position < len(history) and history[position] != value:
            position += 1
        assert position < len(history), f"poll {i} read setpoint {value} out of the writes' order: {read}"
    late_reads = [v for v in read if v in (701, 702, 703)]
    assert sorted(set(late_reads)) == [701, 702, 703], read
    final = by_device(s2[0])
    assert final["meter"]["failed_cycles"] == 0 and final["second"]["failed_cycles"] == 0, final
    assert final["meter"]["last_error"] is None and final["second"]["last_error"] is None, final
    assert {p["name"]: p["value"] for p in final["meter"]["points"]} == {
        "constant": CONSTANT, "setpoint": after_late[-1][0], "status": STATUS, "code": CODE}
    assert rec.get(1, "holding", 0, 4) == [CONSTANT, after_late[-1][0], STATUS, CODE]

    # The journal: two refusals, 200 verified, three failed, two verified, in that order.
    lines = journal(tmp_path / "writes.log")
    assert [line["result"] for line in lines] == (
        ["refused_out_of_range", "refused_not_writable"] + ["verified"] * 200 + ["failed"] * 3 + ["verified"] * 2)
    assert [line["after"] for line in lines[2:202]] == [f"0x{v:04X}" for v, _, _ in done]
    assert all(line["user"] == "root" and line["what"] == "meter.setpoint" for line in lines[2:])
    # tramctl status names them under WRITES (the newest ten)
    assert [("result=failed" in w) for w in s2[0]["writes"]] == [False] * 5 + [True] * 3 + [False] * 2

    # On the wire.
    records = rec.records()
    assert all(r["crc_ok"] for r in records if r["direction"] == "rx"), [r for r in records if not r["crc_ok"]]
    violations = rec.check_gaps(PAUSE_MS, records=as_sent(records))
    assert violations == [], violations[:5]
    rx = [r for r in records if r["direction"] == "rx"]
    # every write the agent let through, in order, and nothing of the two it refused
    writes_on_wire = [(r["unit"], r["address"], r["values"]) for r in rx if r["fc"] == 6]
    assert writes_on_wire == [(1, 1, [v]) for v, _, _ in done] + [(1, 1, [v]) for v in (701, 702, 703)] + \
        [(1, 1, [v]) for v, _, _ in after_late]
    # each write the read before it and, unless it timed out, the read-back right after it: nothing in between
    for i, r in enumerate(rx):
        if r["fc"] == 6:
            assert (rx[i - 1]["unit"], rx[i - 1]["fc"], rx[i - 1]["address"], rx[i - 1]["count"]) == (1, 3, 1, 1)
            if r["values"][0] not in (701, 702, 703):
                assert (rx[i + 1]["unit"], rx[i + 1]["fc"], rx[i + 1]["address"], rx[i + 1]["count"]) == (1, 3, 1, 1)
    # each late echo went out after the agent's timeout, and the agent's next request only after it had flushed
    late_tx = [r for r in records if r["direction"] == "tx" and r["late"]]
    assert [r["values"] for r in late_tx] == [[701], [702], [703]]
    by_seq = {r["seq"]: r for r in records}
    for echo in late_tx:
        request = by_seq[echo["reply_to"]]
        assert (echo["t_first_byte"] - request["t_last_byte"]) / 1e6 >= TIMEOUT_MS
        following = min((r for r in rx if r["t_first_byte"] > request["t_last_byte"]), key=lambda r: r["t_first_byte"])
        assert following["t_first_byte"] > echo["t_last_byte"], (request, echo, following)
        assert (following["t_first_byte"] - request["t_last_byte"]) / 1e6 >= 2 * TIMEOUT_MS, (request, following)


# ------------------------------------------------------------------ TCP

TCP_INTERVAL_MS = 10   # a write through the agent over TCP on loopback takes ~1 ms: 200 of them span ~20 polls


def test_200_writes_on_a_polled_tcp_link(procs, plc_tcp, tmp_path):
    """The same over TCP (plc.py, both devices behind one connection, so on one lane): 200 writes back to back,
    then 200 more from four clients at once, whose jobs queue on the lane between the polls."""
    plc = plc_tcp(VALUES, units=[1, 2])
    config = agent_file(tmp_path, {"name": "plc", "url": plc.url},
                        devices("plc", interval_ms=TCP_INTERVAL_MS, timeout_ms=None, pauses={1: 0, 2: 0}))
    agent = Agent(procs, config, tmp_path)
    sock = agent.socket
    wait_for(lambda: all(d["cycles"] >= 3 for d in agent.status()["devices"]), 10, "both devices polled")
    watch = CycleWatch(sock)
    plc.clear()

    s0 = status(sock)
    done = write_burst(sock, 200)
    s1 = status(sock)
    assert_verified_in_order(done, first_before=0)
    grown = assert_cycles_kept(s0, s1, done, "200 writes over TCP", TCP_INTERVAL_MS)

    # Four clients at once, 50 writes each, values of their own: each job reads, writes and reads back on the lane
    # with nothing in between, so each one verifies its own value whatever the others do.
    mine = {c: (400 + 10 * c, 401 + 10 * c) for c in range(4)}
    answers: dict[int, list[tuple[int, dict, float]]] = {c: [] for c in range(4)}

    def client(c: int) -> None:
        for i in range(50):
            value = mine[c][i % 2]
            answers[c].append((value, *write(sock, "meter", "setpoint", value)))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
    s2 = status(sock)
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    s3 = status(sock)
    together = [a for c in range(4) for a in answers[c]]
    assert len(together) == 200
    written = {done[-1][0]} | {v for pair in mine.values() for v in pair}
    for value, answer, _ in together:
        assert answer.get("result") == "verified" and answer["after"] == [value], answer
        assert answer["before"][0] in written, answer
    # the befores and afters chain into one sequence: every value read before a write was the after of exactly one
    # other write (or the last of the first 200), and one write's after was never read before (the last)
    befores = sorted(a["before"][0] for _, a, _ in together)
    afters = sorted([a["after"][0] for _, a, _ in together] + [done[-1][0]])
    leftover = list(afters)
    for b in befores:
        leftover.remove(b)
    assert len(leftover) == 1 and leftover[0] == plc.get(1, "holding", 1)[0], leftover
    grown_together = assert_cycles_kept(s2, s3, together, "4 × 50 writes at once over TCP", TCP_INTERVAL_MS)

    cycles = watch.stop()
    assert watch.missed == 0
    per = assert_cycles_read_right(cycles, written | {0, *WRITE_VALUES})
    assert len(per["meter"]) >= grown["meter"] + grown_together["meter"]
    lines = journal(tmp_path / "writes.log")
    assert [line["result"] for line in lines] == ["verified"] * 400
    assert [line["after"] for line in lines[:200]] == [f"0x{v:04X}" for v, _, _ in done]

    # The PLC saw each write as read before, FC6, read-back, with nothing between them (polls only around them).
    log = plc.log()
    writes = [i for i, entry in enumerate(log) if entry[1] == 6]
    assert len(writes) == 400
    for i in writes:
        assert log[i - 1] == (1, 3, 1, 1) and log[i] == (1, 6, 1, 1) and log[i + 1] == (1, 3, 1, 1), log[i - 2:i + 3]
    assert plc.get(1, "holding", 0, 4) == [CONSTANT, leftover[0], STATUS, CODE]


# ------------------------------------------------------------------ what this file found

def test_a_write_answered_after_twice_the_timeout_never_shifts_the_polls_answers(procs, rtu_recorder, tmp_path):
    """Two blocks of the same size (FC3, 4 registers at 0 and at 50): an FC3 reply has no address, so only the
    pairing of request and reply tells them apart. The recorder answers reads after 100 ms (under the 150 ms timeout)
    and the write after 330 ms: past the write's timeout and the one more timeout the link waits, before the poll
    after it is answered. Whatever the link does then, no reading may carry the other block's values."""
    block_a, block_b = [0x1111, 0, 0x2222, 0x3333], [0xAAAA, 0xBBBB, 0xCCCC, 0xDDDD]
    rec = rtu_recorder({1: {"holding": {0: block_a, 50: block_b}}}, units=[1], baud=19200)
    link = {"name": "bus", "url": f"rtu://{rec.device}", "serial": {"baud": 19200, "parity": "none"},
            "response_timeout": f"{TIMEOUT_MS}ms"}
    names = ["a0", "setpoint", "a2", "a3", "b0", "b1", "b2", "b3"]
    device = {"name": "meter", "link": "bus", "unit": 1, "address_base": 0, "poll_interval": "300ms",
              "timeout": f"{TIMEOUT_MS}ms", "limits": {"pause": "5ms"},
              "points": [{"name": name, "table": "holding", "address": address, "type": "uint16",
                          **({"writable": True, "min": 0, "max": 1000} if name == "setpoint" else {})}
                         for name, address in zip(names, [0, 1, 2, 3, 50, 51, 52, 53])]}
    agent = Agent(procs, agent_file(tmp_path, link, [device]), tmp_path, env={"TRAM_LOCK_DIR": str(tmp_path)})
    wait_for(lambda: agent.status()["devices"][0]["cycles"] >= 2, 10, "the device polled")
    watch = CycleWatch(agent.socket)
    rec.delay(100, units=[1])
    rec.late(330, units=[1])
    answer, _ = write(agent.socket, "meter", "setpoint", 701)
    assert answer["result"] == "failed" and "timeout" in answer["detail"], answer
    rec.late(0)
    time.sleep(1.5)                 # a few cycles
    cycles = watch.stop()
    holds = dict(zip(names, block_a + block_b)) | {"setpoint": 701}
    wrong = [(p["name"], p["value"], holds[p["name"]]) for c in cycles for p in c["points"]
             if p["quality"] == "good" and p["name"] != "setpoint" and p["value"] != holds[p["name"]]]
    assert wrong == [], f"readings marked good with values the device does not hold (point, read, held): {wrong}"


def test_every_write_attempt_is_a_line_in_the_agents_log(procs, plc_tcp, tmp_path):
    plc = plc_tcp(VALUES, units=[1, 2])
    config = agent_file(tmp_path, {"name": "plc", "url": plc.url},
                        devices("plc", interval_ms=INTERVAL_MS, timeout_ms=None, pauses={1: 0, 2: 0}))
    agent = Agent(procs, config, tmp_path)
    for value in (1, 2, 3):
        assert write(agent.socket, "meter", "setpoint", value)[0]["result"] == "verified"
    assert write(agent.socket, "meter", "setpoint", 5000)[0]["refused"] == "out_of_range"
    assert write(agent.socket, "meter", "constant", 1)[0]["refused"] == "not_writable"
    assert len(journal(tmp_path / "writes.log")) == 5

    def logged():
        return [line for line in agent.log().splitlines() if line.endswith("] write")]
    try:
        wait_for(lambda: len(logged()) >= 5, 2, "five write lines in the agent's log")
    except TimeoutError:
        pass
    assert [("result=verified" in l, "result=refused" in l) for l in logged()] == \
        [(True, False)] * 3 + [(False, True)] * 2, logged()
