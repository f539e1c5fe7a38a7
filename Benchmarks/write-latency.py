#!/usr/bin/env python3
"""How long a guarded write takes through the running agent, from command to read-back, against mbpoll.

    python3 Benchmarks/write-latency.py [--writes 100] [--poll-interval 1s] \\
        [--agent .build/debug/tram-agent] [--tramctl .build/debug/tramctl]

Two links, one after the other, each with the agent polling one device (four holding registers, one of them the
writable `setpoint`, every --poll-interval) while the writes go on:

- TCP: Tests/integration/peers/plc.py (pymodbus) on 127.0.0.1;
- RTU at 19,200 baud 8N1: Tests/integration/peers/rtu_recorder.py on one end of a socat pty pair, the agent on the
  other. A pty has no line speed: the bytes take no time on it, and the recorder answers 3.5 characters (1.82 ms)
  after each request, as a fast device would. On a real 19,200 baud line each frame adds its byte time (printed
  below the table).

For each link, --writes writes of the setpoint, alternating two values so that each one changes the register, each
way (after a few not counted):

- `tramctl write --config AGENT.yaml --device meter --point setpoint --value N --yes`: what a technician waits for,
  process start, the agent's plan (a dry run on the socket), the write and its answer included; timed around the
  process;
- a raw client of the agent's control socket (`write {json}`, one connection each): timed around the request in the
  client, and the agent's own `round_trip_ns` (the read before, the write and the read-back on the link's thread,
  not the wait for the link);
- mbpoll writing the same register (`mbpoll -1 -0 -t 4 -r 1 … VALUE`: one FC6, no read before, no read-back),
  timed around the process. Over TCP alongside the running agent; over RTU with the agent stopped, as it owns the
  port.

Prints p50 and p99 (and the mean, for comparison with figures published as means) per way and link. Debug binaries
by default, as built by `swift build`; pass the release ones for release figures. Figures go in
docs/performance.md, "Writes".
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "Tests" / "integration" / "peers"
WARMUP = 5
VALUES = (321, 654)
BAUD = 19200


# ------------------------------------------------------------------ processes

class Procs:
    """Everything started here, in its own process group; stopped (group SIGTERM, then SIGKILL) at the end."""

    def __init__(self, work: Path):
        self.work = work
        self.procs: list[subprocess.Popen] = []

    def start(self, argv, name: str, **kw) -> subprocess.Popen:
        err = open(self.work / f"{name}.err", "wb")
        proc = subprocess.Popen([str(a) for a in argv], stderr=err, start_new_session=True, **kw)
        proc.err_path = self.work / f"{name}.err"  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(5)
                return
            except subprocess.TimeoutExpired:
                continue

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def read_line(proc: subprocess.Popen, timeout: float = 15) -> str:
    import select
    deadline = time.monotonic() + timeout
    while True:
        if not select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise SystemExit(f"no output from {proc.args[:3]}: {Path(proc.err_path).read_text()[-2000:]}")
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"{proc.args[:3]} exited: {Path(proc.err_path).read_text()[-2000:]}")
        return line.strip()


def start_peer(procs: Procs, argv, name: str) -> tuple[subprocess.Popen, int | None]:
    """plc.py or rtu_recorder.py: its PORT (TCP) once it is READY."""
    proc = procs.start([sys.executable, *argv], name, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                       bufsize=1)
    port = None
    while (line := read_line(proc)) != "READY":
        if line.startswith("PORT "):
            port = int(line.split()[1])
    return proc, port


def pty_pair(procs: Procs, work: Path) -> tuple[str, str]:
    a, b = work / "ptyA", work / "ptyB"
    proc = procs.start(["socat", "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"], "socat")
    wait_for(lambda: a.exists() and b.exists() and "starting data transfer loop" in Path(proc.err_path).read_text(),
             15, "socat's pty pair")
    return str(a), str(b)


# ------------------------------------------------------------------ the agent

def agent_file(work: Path, link: dict, poll_interval: str) -> Path:
    import yaml
    doc = {
        "gateway": {"id": "bench-writes", "health": {"enabled": False}},
        "modem": {"enabled": False},
        "links": [link],
        "devices": [{
            "name": "meter", "link": link["name"], "unit": 1, "address_base": 0, "poll_interval": poll_interval,
            "points": [
                {"name": "constant", "table": "holding", "address": 0, "type": "uint16"},
                {"name": "setpoint", "table": "holding", "address": 1, "type": "uint16", "writable": True,
                 "min": 0, "max": 1000},
                {"name": "status", "table": "holding", "address": 2, "type": "uint16"},
                {"name": "code", "table": "holding", "address": 3, "type": "uint16"},
            ]}],
        "spool": {"directory": str(work / "spool")},
        "control": {"socket": str(work / "agent.sock"), "metrics_port": None, "writes": True,
                    "write_journal": str(work / "writes.log")},
    }
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def ask(sock: Path, line: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode()


def start_agent(procs: Procs, agent: Path, config: Path, work: Path) -> subprocess.Popen:
    out = open(work / "agent.out", "wb")
    proc = procs.start([agent, "--config", config], "agent", stdout=out,
                       env={**os.environ, "TRAM_LOCK_DIR": str(work)})
    sock = work / "agent.sock"

    def polled():
        if proc.poll() is not None:
            raise SystemExit(f"the agent exited: {(work / 'agent.out').read_text()[-2000:]}")
        try:
            devices = json.loads(ask(sock, "status"))["devices"]
        except (OSError, ValueError, KeyError):
            return False
        return all(d["cycles"] >= 2 and d["health"] == "online" for d in devices)
    wait_for(polled, 20, "the agent polling its device")
    return proc


# ------------------------------------------------------------------ the ways

def run_timed(argv) -> float:
    started = time.perf_counter()
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} -> rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return took


def by_tramctl(tramctl: Path, config: Path, n: int) -> list[float]:
    out = []
    for i in range(WARMUP + n):
        took = run_timed([tramctl, "write", "--config", config, "--device", "meter", "--point", "setpoint",
                          "--value", VALUES[i % 2], "--yes"])
        if i >= WARMUP:
            out.append(took)
    return out


def by_socket(sock: Path, n: int) -> tuple[list[float], list[float]]:
    client, agent = [], []
    for i in range(WARMUP + n):
        request = "write " + json.dumps({"device": "meter", "point": "setpoint", "value": str(VALUES[i % 2])})
        started = time.perf_counter()
        answer = json.loads(ask(sock, request))
        took = time.perf_counter() - started
        if answer.get("result") != "verified":
            raise SystemExit(f"write {i}: {answer}")
        if i >= WARMUP:
            client.append(took)
            agent.append(answer["round_trip_ns"] / 1e9)
    return client, agent


def by_mbpoll(target: list[str], n: int) -> list[float]:
    out = []
    for i in range(WARMUP + n):
        took = run_timed(["mbpoll", "-1", "-0", "-a", "1", "-t", "4", "-r", "1", "-o", "1", *target,
                          str(VALUES[i % 2])])
        if i >= WARMUP:
            out.append(took)
    return out


# ------------------------------------------------------------------ the runs

def tcp_run(procs: Procs, work: Path, args) -> dict[str, list[float]]:
    values = work / "values.json"
    values.write_text(json.dumps({"1": {"holding": {"0": [0x1234, 0, 7, 0xBEEF]}}}))
    _, port = start_peer(procs, [PEERS / "plc.py", "--tcp", "127.0.0.1:0", "--values", values], "plc")
    config = agent_file(work, {"name": "plc", "url": f"tcp://127.0.0.1:{port}"}, args.poll_interval)
    agent = start_agent(procs, args.agent, config, work)
    client, own = by_socket(work / "agent.sock", args.writes)
    results = {"tramctl write --yes": by_tramctl(args.tramctl, config, args.writes),
               "socket client": client, "agent's round trip": own,
               "mbpoll (agent running)": by_mbpoll(["-m", "tcp", "-p", str(port), "127.0.0.1"], args.writes)}
    Procs.stop(agent)
    return results


def rtu_run(procs: Procs, work: Path, args) -> dict[str, list[float]]:
    values = work / "values.json"
    values.write_text(json.dumps({"1": {"holding": {"0": [0x1234, 0, 7, 0xBEEF]}}}))
    device_end, agent_end = pty_pair(procs, work)
    start_peer(procs, [PEERS / "rtu_recorder.py", "--rtu", device_end, "--baud", BAUD, "--parity", "N",
                       "--values", values, "--units", "1"], "recorder")
    link = {"name": "bus", "url": f"rtu://{agent_end}", "serial": {"baud": BAUD, "parity": "none"}}
    config = agent_file(work, link, args.poll_interval)
    agent = start_agent(procs, args.agent, config, work)
    client, own = by_socket(work / "agent.sock", args.writes)
    results = {"tramctl write --yes": by_tramctl(args.tramctl, config, args.writes),
               "socket client": client, "agent's round trip": own}
    Procs.stop(agent)       # the agent owns the port: mbpoll only once it is gone
    results["mbpoll (agent stopped)"] = by_mbpoll(
        ["-m", "rtu", "-b", str(BAUD), "-P", "none", "-d", "8", "-s", "1", agent_end], args.writes)
    return results


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def byte_time_ms(nbytes: int) -> float:
    return nbytes * 10 * 1000 / BAUD


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writes", type=int, default=100)
    p.add_argument("--poll-interval", default="1s", help="the device's poll_interval while the writes go on")
    p.add_argument("--agent", type=Path, default=Path(os.environ.get("TRAM_AGENT", ROOT / ".build/debug/tram-agent")))
    p.add_argument("--tramctl", type=Path, default=Path(os.environ.get("TRAMCTL", ROOT / ".build/debug/tramctl")))
    args = p.parse_args()
    for path in (args.agent, args.tramctl):
        if not path.exists():
            raise SystemExit(f"{path} is not built (swift build)")
    table = []
    for name, run in (("TCP", tcp_run), (f"RTU {BAUD} (pty)", rtu_run)):
        with tempfile.TemporaryDirectory(prefix="tram-write-latency-") as tmp:
            procs = Procs(Path(tmp))
            try:
                for way, times in run(procs, Path(tmp), args).items():
                    ms = [t * 1000 for t in times]
                    table.append((name, way, len(ms), percentile(ms, 0.5), percentile(ms, 0.99), statistics.mean(ms)))
            finally:
                procs.close()
    print(f"write latency, {args.writes} writes each ({args.agent.parent.name} binaries; the agent polling every "
          f"{args.poll_interval})")
    print(f"{'link':<18}{'way':<26}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for link, way, n, p50, p99, mean in table:
        print(f"{link:<18}{way:<26}{n:>5}{p50:>10.1f}{p99:>10.1f}{mean:>10.1f}")
    # FC3 of one register: request 8 bytes, answer 7; FC6: 8 and 8.
    through_agent = byte_time_ms(8 + 7) * 2 + byte_time_ms(8 + 8)
    print(f"On a real {BAUD} baud 8N1 line add the bytes' time, which a pty does not take: "
          f"{through_agent:.1f} ms for a write through the agent (read before, FC6, read-back), "
          f"{byte_time_ms(16):.1f} ms for mbpoll's single FC6.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
