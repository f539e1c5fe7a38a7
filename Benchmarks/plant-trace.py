#!/usr/bin/env python3
"""A plant-like trace for `tram-bench wire TRACE.csv`: devices polled at different rates, a few ms apart, some points
only present sometimes. The same seed gives the same file on every machine.

    inv1     1 s, offset  0 ms  24 points: 16 float32 (0.1 steps), 4 uint32 energy counters, 4 uint16 state words
    inv2     1 s, offset  3 ms  the same
    meter    2 s, offset  6 ms  30 float32 always; 10 float32 harmonics only in 40 % of cycles (a second request
                                that often times out)
    weather  5 s, offset  9 ms  8 float32
    tracker 10 s, offset 12 ms  6 float32 angles always; 6 uint16 alarm words only when they change (logged by
                                exception), about one cycle in ten

Each cycle's time is jittered by ±3 ms, so two devices sometimes share a millisecond. Point names are
`device.point`; a cycle's rows are consecutive, cycles in time order. An hour is 242,105 rows (10.6 MB).

Usage: python3 Benchmarks/plant-trace.py [--seconds 3600] [--seed 1755] > /tmp/plant.csv
       tram-bench wire /tmp/plant.csv
Figures in docs/performance.md, "Wire format".
"""
from __future__ import annotations

import argparse
import random
import sys

START_MS = 1_764_000_000_000


class Device:
    def __init__(self, name: str, period_ms: int, offset_ms: int, rng: random.Random):
        self.name, self.period_ms, self.offset_ms, self.rng = name, period_ms, offset_ms, rng
        self.points: list[tuple[str, str, object, str]] = []  # name, type, state, presence

    def walk(self, name: str, start: float, step: float, decimals: int, presence: str = "always") -> None:
        self.points.append((name, "float32", [start, step, decimals], presence))

    def counter(self, name: str, start: int, rate: int) -> None:
        self.points.append((name, "uint32", [start, rate], "always"))

    def word(self, name: str, value: int, change: float, presence: str = "always") -> None:
        self.points.append((name, "uint16", [value, change], presence))

    def cycle(self, first: bool) -> list[tuple[str, str, str]]:
        """One cycle's rows (point, type, raw value), states moved on."""
        rows = []
        harmonics = self.rng.random() < 0.4
        for name, kind, state, presence in self.points:
            changed = False
            if kind == "float32":
                if not first:
                    state[0] = round(state[0] + self.rng.gauss(0, state[1]), state[2])
                text = repr(round(state[0], state[2]))
            elif kind == "uint32":
                if not first:
                    state[0] = (state[0] + self.rng.randint(0, state[1])) & 0xFFFF_FFFF
                text = str(state[0])
            else:
                if not first and self.rng.random() < state[1]:
                    state[0] = self.rng.randint(0, 65535)
                    changed = True
                text = str(state[0])
            if presence == "sometimes" and not harmonics:
                continue
            if presence == "on-change" and not (first or changed):
                continue
            rows.append((f"{self.name}.{name}", kind, text))
        return rows


def plant(rng: random.Random) -> list[Device]:
    devices = []
    for index, offset in ((1, 0), (2, 3)):
        inverter = Device(f"inv{index}", 1000, offset, rng)
        for phase in ("l1", "l2", "l3"):
            inverter.walk(f"voltage_{phase}", 230.0, 0.3, 1)
            inverter.walk(f"current_{phase}", 40.0, 0.2, 1)
        for name in ("power_ac", "power_dc", "voltage_dc", "current_dc", "frequency", "temp_heatsink", "temp_cabinet",
                     "power_reactive", "power_factor", "efficiency"):
            inverter.walk(name, 50.0, 0.1, 1)
        for name in ("energy_total", "energy_today", "energy_reactive", "operating_hours"):
            inverter.counter(name, rng.randint(0, 1_000_000), 10)
        for name in ("state", "event_1", "event_2", "warning"):
            inverter.word(name, rng.randint(0, 65535), 0.001)
        devices.append(inverter)
    meter = Device("meter", 2000, 6, rng)
    for quantity in ("voltage", "current", "power", "reactive", "apparent", "pf", "thd_v", "thd_i", "angle", "demand"):
        for phase in ("l1", "l2", "l3"):
            meter.walk(f"{quantity}_{phase}", 100.0, 0.1, 2)
    for order in range(3, 23, 2):
        meter.walk(f"harmonic_{order}", 2.0, 0.05, 2, presence="sometimes")
    devices.append(meter)
    weather = Device("weather", 5000, 9, rng)
    for name in ("irradiance_poa", "irradiance_ghi", "temp_air", "temp_module", "humidity", "wind_speed", "wind_dir",
                 "pressure"):
        weather.walk(name, 20.0, 0.2, 1)
    devices.append(weather)
    tracker = Device("tracker", 10000, 12, rng)
    for row in range(1, 7):
        tracker.walk(f"angle_{row}", 0.0, 0.5, 1)
    for row in range(1, 7):
        tracker.word(f"alarm_{row}", 0, 0.1, presence="on-change")
    devices.append(tracker)
    return devices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--seed", type=int, default=1755)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    devices = plant(rng)
    cycles = []  # (time, order, rows)
    for order, device in enumerate(devices):
        for n, nominal in enumerate(range(0, args.seconds * 1000, device.period_ms)):
            time = START_MS + nominal + device.offset_ms + rng.randint(-3, 3)
            cycles.append((time, order, device.cycle(first=n == 0)))
    cycles.sort(key=lambda cycle: (cycle[0], cycle[1]))
    out = sys.stdout
    out.write("timestamp_ms,point,type,raw_value\n")
    for time, _, rows in cycles:
        for point, kind, text in rows:
            out.write(f"{time},{point},{kind},{text}\n")


if __name__ == "__main__":
    main()
