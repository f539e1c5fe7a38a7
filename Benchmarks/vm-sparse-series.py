#!/usr/bin/env python3
"""How VictoriaMetrics (Debian's 1.79) draws a sparse series: what report by exception's heartbeat must respect.

A point sent by exception arrives in bursts at its poll rate while it moves, and once a heartbeat while it does not.
Prometheus looks back a fixed 5 minutes for the last sample; VictoriaMetrics derives the lookback from each series'
own sample spacing. This writes such series into a real VictoriaMetrics (loopback, a temp dir) with line protocol,
as the relay and the line-protocol sink do, asks `query_range` for them with a 15 s step (a Grafana panel's), and
counts, within each series' life, the steps that come back empty: a gap a person would see on a plot.

Usage: python3 Benchmarks/vm-sparse-series.py        (needs `victoria-metrics`: scripts/setup --test)
Figures go in docs/performance.md, "VictoriaMetrics and sparse series".
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HOUR_MS = 3_600_000
STEP_S = 15
POLL_MS = 1_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pattern(start: int, end: int, heartbeat_ms: int, burst_every_ms: int | None, burst_ms: int) -> list[int]:
    """Sample times: a heartbeat while still; every `burst_every_ms`, a burst of `burst_ms` at the poll rate."""
    times = set(range(start, end, heartbeat_ms))
    if burst_every_ms:
        for b in range(start + burst_every_ms // 2, end, burst_every_ms):
            times.update(range(b, min(b + burst_ms, end), POLL_MS))
            # After a burst the heartbeat counts from the burst's last send, as the agent's does.
            times.update(range(b + burst_ms, min(b + burst_every_ms, end), heartbeat_ms))
    return sorted(times)


HEARTBEATS_S = (15, 30, 60, 300, 900)
BURSTS = ((None, 0), (900, 60), (300, 20))


def run(binary: str, flags: list[str]) -> list[tuple]:
    """One VictoriaMetrics with `flags`: each case's (heartbeat, bursts, samples, empty steps of the plain query,
    longest gap, empty steps with last_over_time)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tram-vm-sparse-") as data:
        proc = subprocess.Popen([binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data}",
                                 "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR", *flags],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    if urllib.request.urlopen(url + "/health", timeout=1).read() == b"OK":
                        break
                except OSError:
                    time.sleep(0.05)
            end = int(time.time() * 1000) // 60_000 * 60_000 - 60_000
            start = end - 2 * HOUR_MS
            cases = []
            for heartbeat_s in HEARTBEATS_S:
                for burst_every_s, burst_s in BURSTS:
                    name = f"hb{heartbeat_s}_b{burst_every_s or 0}_{burst_s}"
                    times = pattern(start, end, heartbeat_s * 1000, burst_every_s and burst_every_s * 1000,
                                    burst_s * 1000)
                    cases.append((name, heartbeat_s, burst_every_s, burst_s, times))
            lines = []
            for name, _, _, _, times in cases:
                lines += [f"sparse,case={name} value={i % 7} {t}" for i, t in enumerate(times)]
            for i in range(0, len(lines), 5000):
                body = ("\n".join(lines[i:i + 5000]) + "\n").encode()
                urllib.request.urlopen(url + "/write?precision=ms", data=body, timeout=30).read()
            urllib.request.urlopen(url + "/internal/force_flush", timeout=30).read()

            def query(expr: str, step_s: int = STEP_S) -> dict[str, list[int]]:
                args = {"query": expr, "start": start / 1000, "end": end / 1000, "step": f"{step_s}s"}
                with urllib.request.urlopen(url + "/api/v1/query_range?" + urllib.parse.urlencode(args),
                                            timeout=60) as reply:
                    result = json.loads(reply.read())["data"]["result"]
                return {r["metric"]["case"]: [int(float(t) * 1000) for t, _ in r["values"]] for r in result}

            plain = query("sparse_value")
            plain_by_step = {step: query("sparse_value", step) for step in (5, 60)}
            held = {}
            for heartbeat_s in sorted({c[1] for c in cases}):
                got = query(f"last_over_time(sparse_value[{heartbeat_s + 60}s])")
                held.update({k: v for k, v in got.items() if k.startswith(f"hb{heartbeat_s}_")})

            def empty_steps(name: str, times: list[int], returned: dict[str, list[int]], step_s: int = STEP_S
                            ) -> tuple[int, int, int]:
                steps = [t for t in range(start // 1000 * 1000, end + 1, step_s * 1000) if times[0] <= t <= times[-1]]
                have = set(returned.get(name, []))
                missing = [t for t in steps if t not in have]
                longest, run, previous = 0, 0, None
                for t in missing:
                    run = run + 1 if previous is not None and t - previous == step_s * 1000 else 1
                    longest, previous = max(longest, run), t
                return len(steps), len(missing), longest * step_s

            out = []
            for name, heartbeat_s, burst_every_s, burst_s, times in cases:
                steps, missing, longest = empty_steps(name, times, plain)
                _, missing_held, _ = empty_steps(name, times, held)
                by_step = {step: empty_steps(name, times, got, step) for step, got in plain_by_step.items()}
                out.append((heartbeat_s, burst_every_s, burst_s, len(times), steps, missing, longest, missing_held,
                            by_step))
            return out
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    binary = shutil.which("victoria-metrics")
    if not binary:
        sys.exit("victoria-metrics is not installed (scripts/setup --test)")
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"], capture_output=True,
                             text=True).stdout or "?"
    default = run(binary, [])
    floor = run(binary, ["-search.minStalenessInterval=16m"])
    print(f"VictoriaMetrics {version}: query_range over 2 h, step {STEP_S} s; a point polled every 1 s, sent at its "
          "heartbeat while still and at the poll rate in bursts while it moves. Empty steps within each series' life "
          "(longest gap).")
    print()
    print("| heartbeat | bursts | samples | plain query, default flags, step 15 s | step 5 s | step 60 s | "
          "`last_over_time(x[heartbeat + 60s])` | plain query, `-search.minStalenessInterval=16m` |")
    print("|---|---|---|---|---|---|---|---|")
    for a, b in zip(default, floor):
        heartbeat_s, burst_every_s, burst_s, samples, steps, missing, longest, missing_held, by_step = a
        other = " | ".join(f"{m / n:.0%}" for n, m, _ in (by_step[5], by_step[60]))
        bursts = f"{burst_s} s every {burst_every_s // 60} min" if burst_every_s else "none"
        print(f"| {heartbeat_s} s | {bursts} | {samples} | {missing} of {steps} ({missing / steps:.0%}; "
              f"longest {longest} s) | {other} | {missing_held} of {steps} | {b[5]} of {b[4]} (longest {b[6]} s) |")


if __name__ == "__main__":
    main()
