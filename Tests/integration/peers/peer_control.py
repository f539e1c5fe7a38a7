"""What plc.py and rtu_recorder.py share (standard library only): the values file, one unit's register
store, the per-unit settings and the stdin control commands both answer (see Tests/integration/README.md).

    ping | silence on|off [UNIT ...] | delay MS [UNIT ...] | writes normal|ignore|exception N [UNIT ...]
    set UNIT TABLE ADDR V1 [V2 ...] | get UNIT TABLE ADDR [COUNT] | unset UNIT TABLE ADDR [COUNT]
    requests | log | clear

Control.command(line) returns the reply line ("OK[ ...]" or "ERR <why>"); a peer adds its own commands
in extra_command().  A setting given without UNITs is for all units and drops the per-unit ones.
"""
from __future__ import annotations

import json
import sys
from collections import deque
from typing import Callable, Generic, Iterable, Mapping, TypeVar

TABLES = {
    "holding": "h", "hr": "h", "holding_register": "h", "holding_registers": "h",
    "input": "i", "ir": "i", "input_register": "i", "input_registers": "i",
    "coil": "c", "co": "c", "coils": "c",
    "discrete_input": "d", "di": "d", "discrete_inputs": "d", "discrete": "d",
}
BIT_TABLES = {"c", "d"}


# ------------------------------------------------------------------ parsing

def parse_int(text) -> int:
    if isinstance(text, bool):
        return int(text)
    if isinstance(text, int):
        return text
    return int(str(text).strip(), 0)


def table_key(name: str) -> str:
    try:
        return TABLES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown table {name!r} (use holding|input|coil|discrete_input)") from None


def check_value(table: str, value) -> int:
    v = parse_int(value)
    if table in BIT_TABLES:
        if v not in (0, 1):
            raise ValueError(f"bit value must be 0 or 1, got {value!r}")
        return v
    if not 0 <= v <= 0xFFFF:
        raise ValueError(f"register value out of 0..65535: {value!r}")
    return v


def check_address(addr: int, count: int = 1, *, allow_empty: bool = False) -> None:
    if addr < 0 or (count < 1 and not allow_empty) or addr + count > 0x10000:
        raise ValueError(f"address range {addr}..{addr + count - 1} outside 0..65535")


def parse_writes(args: list[str]) -> tuple[tuple[str, int], list[int]]:
    """`normal|ignore|exception N [UNIT ...]` -> ((mode, code), units)."""
    usage = "usage: writes normal|ignore|exception N [UNIT ...]"
    if not args or args[0].lower() not in ("normal", "ignore", "exception"):
        raise ValueError(usage)
    mode = args[0].lower()
    if mode != "exception":
        return (mode, 0), [parse_int(a) for a in args[1:]]
    if len(args) < 2:
        raise ValueError(usage)
    code = parse_int(args[1])
    if not 1 <= code <= 255:
        raise ValueError(f"exception code must be 1..255, got {args[1]}")
    return (mode, code), [parse_int(a) for a in args[2:]]


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ registers

class Registers:
    """One unit id's four tables ("h", "i", "c", "d"), each {address: value}, from block(table)."""

    bit: Callable[[int], object] = int   # how a bit is stored (plc.py: bool, as pymodbus does)
    allow_empty = False                  # take a count of 0 (or less) in put/get/unset as nothing

    def block(self, table: str) -> dict:
        raise NotImplementedError

    def check_range(self, address: int, count: int) -> None:
        check_address(address, count, allow_empty=self.allow_empty)

    def exists(self, table: str, address: int, count: int) -> bool:
        block = self.block(table)
        return all(a in block for a in range(address, address + count))

    def put(self, table: str, address: int, values: list) -> None:
        self.check_range(address, len(values))
        vals = [check_value(table, v) for v in values]
        block = self.block(table)
        for i, v in enumerate(vals):
            block[address + i] = self.bit(v) if table in BIT_TABLES else v

    def get(self, table: str, address: int, count: int) -> list[int]:
        block = self.block(table)
        for a in range(address, address + count):
            if a not in block:
                raise ValueError(f"address {a} does not exist")
        return [int(block[a]) for a in range(address, address + count)]

    def remove(self, table: str, address: int, count: int) -> None:
        block = self.block(table)
        for a in range(address, address + count):
            block.pop(a, None)


R = TypeVar("R", bound=Registers)


def load_units(unit_ids: list[int] | None, values_path: str | None, new_unit: Callable[[], R],
               check_unit_id: Callable[[int], None]) -> dict[int, R]:
    """The units, filled from the values file (JSON: {"UNIT": {"TABLE": {"ADDR": [V, ...] | V}}});
    unit_ids None: the file's units, or [1]; check_unit_id raises ValueError for an id out of range."""
    data = {}
    if values_path:
        with open(values_path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise ValueError("values file: top level must be an object keyed by unit id")
    file_units = {parse_int(k): v for k, v in data.items()}
    if unit_ids is None:
        unit_ids = sorted(file_units) or [1]
    extra = set(file_units) - set(unit_ids)
    if extra:
        raise ValueError(f"values file has units {sorted(extra)} not in --units")
    units = {}
    for uid in unit_ids:
        check_unit_id(uid)
        unit = new_unit()
        for tname, blocks in (file_units.get(uid) or {}).items():
            table = table_key(tname)
            for addr_text, vals in blocks.items():
                unit.put(table, parse_int(addr_text), vals if isinstance(vals, list) else [vals])
        units[uid] = unit
    return units


# ------------------------------------------------------------------ control

V = TypeVar("V")


class PerUnit(Generic[V]):
    """A setting for all units, overridden per unit; setting(unit) is the unit's value."""

    def __init__(self, default: V):
        self.all = default
        self.units: dict[int, V] = {}

    def __call__(self, unit: int) -> V:
        return self.units.get(unit, self.all)

    def set(self, value: V, targets: Iterable[int]) -> None:
        """For those units; with none, for all units (the per-unit values are dropped)."""
        targets = list(targets)
        if targets:
            for u in targets:
                self.units[u] = value
        else:
            self.all = value
            self.units.clear()


class Control:
    """The fault-injection settings, the request counter and log, and the commands on them.

    delay_value turns a command's milliseconds into what delay(unit) gives (plc.py: seconds,
    rtu_recorder.py: nanoseconds)."""

    def __init__(self, units: Mapping[int, Registers], *, delay_value: Callable[[float], object]):
        self.units = units
        self.delay_value = delay_value
        self.delay = PerUnit(delay_value(0.0))
        # write handling: ("normal", 0) | ("ignore", 0) | ("exception", code)
        self.writes: PerUnit[tuple[str, int]] = PerUnit(("normal", 0))
        self.silent_all = False
        self.silent_units: set[int] = set()
        self.request_count = 0
        self.request_log: deque[str] = deque(maxlen=100000)

    def silenced(self, unit: int) -> bool:
        return self.silent_all or unit in self.silent_units

    def log_request(self, unit: int, fc: int, address, count) -> None:
        """Count a request and log it as unit:fc:address:count (None: "-")."""
        self.request_count += 1
        self.request_log.append(f"{unit}:{fc}:{'-' if address is None else address}:"
                                f"{'-' if count is None else count}")

    def command(self, line: str) -> str:
        """Run one control line; the reply line."""
        words = line.split()
        if not words:
            return "ERR empty command"
        cmd, args = words[0].lower(), words[1:]
        try:
            reply = self.shared_command(cmd, args)
            if reply is None:
                reply = self.extra_command(cmd, args)
            return f"ERR unknown command {cmd!r}" if reply is None else reply
        except (ValueError, KeyError) as exc:
            return f"ERR {exc}"

    def extra_command(self, cmd: str, args: list[str]) -> str | None:
        """A peer's own commands: the reply, or None for an unknown command."""
        return None

    def set_ms(self, cmd: str, args: list[str], setting: PerUnit) -> str:
        """`CMD MS [UNIT ...]` into setting (as delay_value(MS))."""
        if not args:
            return f"ERR usage: {cmd} MS [UNIT ...]"
        ms = float(args[0])
        if ms < 0:
            return f"ERR {cmd} must be >= 0"
        value = self.delay_value(ms)
        setting.set(value, [parse_int(a) for a in args[1:]])
        return "OK"

    def shared_command(self, cmd: str, args: list[str]) -> str | None:
        if cmd == "ping":
            return "OK"
        if cmd == "silence":
            if not args or args[0] not in ("on", "off"):
                return "ERR usage: silence on|off [UNIT ...]"
            on, targets = args[0] == "on", [parse_int(a) for a in args[1:]]
            if targets:
                for u in targets:
                    (self.silent_units.add if on else self.silent_units.discard)(u)
            else:
                self.silent_all = on
                self.silent_units.clear()
            return "OK"
        if cmd == "delay":
            return self.set_ms(cmd, args, self.delay)
        if cmd == "writes":
            mode, targets = parse_writes(args)
            self.writes.set(mode, targets)
            return "OK"
        if cmd in ("set", "get", "unset"):
            if len(args) < 3 or (cmd == "set" and len(args) < 4):
                return f"ERR usage: {cmd} UNIT TABLE ADDR " + ("V1 [V2 ...]" if cmd == "set" else "[COUNT]")
            uid, table, addr = parse_int(args[0]), table_key(args[1]), parse_int(args[2])
            unit = self.units.get(uid)
            if unit is None:
                return f"ERR no unit {uid}"
            if cmd == "set":
                unit.put(table, addr, args[3:])
                return "OK"
            count = parse_int(args[3]) if len(args) > 3 else 1
            unit.check_range(addr, count)
            if cmd == "get":
                return "OK " + " ".join(str(v) for v in unit.get(table, addr, count))
            unit.remove(table, addr, count)
            return "OK"
        if cmd == "requests":
            return f"OK {self.request_count}"
        if cmd == "log":
            return ("OK " + " ".join(self.request_log)).rstrip()
        if cmd == "clear":
            self.request_count = 0
            self.request_log.clear()
            return "OK"
        return None
