#!/usr/bin/env python3
"""What the built-in devices cost tram-agent: CPU per poll of each, and the RSS they and sd-bus add.

Runs the release tram-agent twice, the same config each time but for the built-in devices: once with both off
(`health: enabled: false`, `modem: enabled: false`), once with both on and polling every second against a simulated
ModemManager (python-dbusmock on a private bus, Tests/integration/peers/modem_bus.py) with a 5G NSA modem.

- CPU per poll: the agent's own counters tram_builtin_poll_cpu_seconds_total / tram_builtin_polls_total, which time
  each poll on its own thread with CLOCK_THREAD_CPUTIME_ID.
- RSS: VmRSS sampled every second over the second half of each run (median), and the resident pages of
  libsystemd.so.0 (sd-bus) from /proc/PID/smaps at the end.

Usage: python3 Benchmarks/builtin-devices.py [--seconds 60] [--agent .build/release/tram-agent]
(builds the release agent first unless --agent is given). Figures go in docs/performance.md, "Built-in devices".
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "integration" / "peers"))
from modem_bus import ModemBus  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(work: Path, health: bool, modem: bool, metrics: int) -> Path:
    text = f"""gateway:
  id: bench
  health: {{ enabled: {str(health).lower()}, poll_interval: 1s }}
links: []
devices: []
spool: {{ directory: {work}/spool }}
batch: {{ max_age: 1s }}
control: {{ socket: {work}/agent.sock, metrics_port: {metrics} }}
modem: {{ enabled: {str(modem).lower()}, poll_interval: 1s }}
"""
    path = work / "agent.yaml"
    path.write_text(text)
    return path


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def private_dirty_kib(pid: int) -> int:
    """Pages only this process holds and the kernel cannot drop (heap, stacks, written data): what it really adds.
    File-backed clean pages (a library's code) are shared with every process mapping the file, and reclaimable."""
    return sum(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps").read_text().splitlines()
               if line.startswith("Private_Dirty:"))


def library_rss_kib(pid: int, name: str) -> int:
    total, inside = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            inside = name in line
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def mappings_kib(pid: int) -> dict[str, int]:
    """Resident KiB by mapping name (a file's path, [heap], [stack], or "anonymous")."""
    out: dict[str, int] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split(maxsplit=5)
            name = parts[5] if len(parts) > 5 else "anonymous"
        elif line.startswith("Rss:"):
            out[name] = out.get(name, 0) + int(line.split()[1])
    return out


def metric(text: str, name: str, device: str) -> float:
    match = re.search(rf'^{name}\{{device="{device}"\}} ([0-9.e+-]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def run(agent: str, health: bool, modem: bool, seconds: int, bus: ModemBus) -> dict:
    with tempfile.TemporaryDirectory(prefix="tram-bench-builtin-") as tmp:
        work = Path(tmp)
        port = free_port()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        proc = subprocess.Popen([agent, "--config", str(config(work, health, modem, port))], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            samples = []
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                time.sleep(1)
                if time.monotonic() - start > seconds / 2:
                    samples.append(rss_kib(proc.pid))
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            result = {"rss": statistics.median(samples), "libsystemd": library_rss_kib(proc.pid, "libsystemd.so"),
                      "mappings": mappings_kib(proc.pid),
                      "dirty": private_dirty_kib(proc.pid)}
            for device in ("gateway", "modem"):
                polls = metric(text, "tram_builtin_polls_total", device)
                cpu = metric(text, "tram_builtin_poll_cpu_seconds_total", device)
                result[device] = (int(polls), cpu / polls * 1e6 if polls else None)
            return result
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--agent")
    args = parser.parse_args()
    agent = args.agent
    if not agent:
        subprocess.run(["swift", "build", "-c", "release", "--product", "tram-agent"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        agent = str(ROOT / ".build" / "release" / "tram-agent")
    with ModemBus() as bus:
        bus.add_modem(0, "nr5g_nsa", rsrp=-97.0, nr_rsrp=-101.0, location=(0, 0x7D1, 0x1A2B3C4))
        off = run(agent, False, False, args.seconds, bus)
        gateway = run(agent, True, False, args.seconds, bus)
        on = run(agent, True, True, args.seconds, bus)
    print(f"tram-agent built-in devices, {args.seconds} s a run, polls every second")
    print()
    print("| built-in devices | VmRSS (median, 2nd half) | private dirty | libsystemd.so resident | gateway: polls, CPU/poll | modem: polls, CPU/poll |")
    print("|---|---|---|---|---|---|")
    for name, r in (("off", off), ("gateway only", gateway), ("gateway and modem", on)):
        cells = []
        for device in ("gateway", "modem"):
            polls, cpu = r[device]
            cells.append(f"{polls}, {cpu:.0f} µs" if cpu is not None else "—")
        print(f"| {name} | {r['rss'] / 1024:.2f} MiB | {r['dirty']} KiB | {r['libsystemd']} KiB | {cells[0]} | {cells[1]} |")
    print()
    for label, a, b in (("both built-in devices", off, on), ("the modem device and sd-bus", gateway, on)):
        print(f"RSS {label} add: {(b['rss'] - a['rss']) / 1024:.2f} MiB "
              f"(libsystemd's resident pages {b['libsystemd'] - a['libsystemd']:+d} KiB); "
              f"private dirty {b['dirty'] - a['dirty']:+d} KiB")
        names = set(a["mappings"]) | set(b["mappings"])
        diffs = sorted(names, key=lambda n: -abs(b["mappings"].get(n, 0) - a["mappings"].get(n, 0)))
        for name in diffs[:5]:
            x, y = a["mappings"].get(name, 0), b["mappings"].get(name, 0)
            print(f"  {y - x:+6d} KiB  {name}  ({x} → {y})")
        print()


if __name__ == "__main__":
    main()
