#!/usr/bin/env python3
"""Recording Modbus RTU slave on a pty, for Tram's integration tests (standard library only).

    python3 rtu_recorder.py --rtu /tmp/x/ptyA --units 1,2 --values values.json \\
        --record frames.jsonl --baud 19200 --parity N --stopbits 1

The other end of the socat pty pair (`socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`)
is the master's serial port.  Values file: the same JSON as plc.py's --values (0-based PDU
addresses, one key per unit id; only listed addresses exist, anything else is exception 02):

    {"1": {"holding": {"0": [16457, "0x0FDB"]}, "input": {"16": [1]},
           "coil": {"0": [1, 0, 1]}, "discrete_input": {"5": [1]}}}

Framing
-------
A request is complete as soon as it has the length its function code implies (FC1-6: 8 bytes,
FC15/16: 9 + byte count, FC22: 10, FC23: 13 + byte count) and its CRC is good.  Otherwise
(unknown function code, bad CRC at the expected length, too long) the bytes are collected until
the line has been silent for --silence-ms (default: 3.5 character times, at least 5 ms: a pty
delivers bytes in bursts, and the scheduler adds jitter), and all of them are one frame: with a
good CRC it is answered (exception 01 for an unknown function), otherwise recorded as bad and
dropped.  Bytes that arrive after such a silence always start a new frame (an incomplete frame
before the silence is recorded as bad).  Nothing is paced at the baud rate (a pty has no line
speed); --baud/--parity/--stopbits define the character time (1 start + 8 data + parity +
stop bits) for the recorder's own reply wait and are set on the pty with termios.

Replies
-------
FC1, 2, 3, 4 (read), 5, 6, 15, 16 (write), 22 (mask write: (cur & AND) | (OR & ~AND)).  Checks in
the spec's order: function (01: anything else, FC23 too), quantity / byte count / FC5 value not
0x0000|0xFF00 (03), every address exists (02).  A reply is sent no earlier than 3.5 character
times after its request (at more than 19200 baud, 1.75 ms, as the spec fixes it) and after the
previous frame on the line, and never before a reply to an earlier request (one transmitter:
replies go out in request order).  Unit 0 is broadcast: writes are applied to every served unit,
nothing is answered.  Requests for units not served, and frames with a bad CRC, get no reply.

Record (--record PATH, JSONL, one object per frame in either direction, written and flushed when
the frame is complete / sent; keys are always present, null when not applicable):

    seq           0, 1, 2, ... over all records
    direction     "rx" (master -> recorder) or "tx" (recorder -> master)
    unit          first byte (null for an empty frame)
    fc            function code without the exception bit (0x83 -> 3); null if too short
    exception     tx: the exception code of an exception reply, else null
    address       start address (request's for read replies; write address for FC5/6/15/16/22)
    count         quantity (FC5/6/22: 1; FC15/16: the quantity field; read reply: the request's)
    values        rx writes: values written (FC5: [0|1], FC6: [v], FC15: bits, FC16: words,
                  FC22: [and_mask, or_mask]); tx: read values returned, or the echo of a write
    hex           the frame's bytes, CRC included, lowercase hex without separators
    t_first_byte  time.monotonic_ns() when its first byte was read (rx) / just before write (tx)
    t_last_byte   time.monotonic_ns() when its last byte was read (rx) / after write (tx)
    crc_ok        rx: whether the CRC was good; tx: true
    error         rx: null | "crc" (complete but bad CRC) | "short" (ended by silence before
                  its length, or under 4 bytes)
    reply_to      tx: the seq of the request it answers
    late          tx: true when the reply was held back by `late`

Times are CLOCK_MONOTONIC, comparable with time.monotonic_ns() in the test process.

stdout: "READY", then one reply line per control command ("OK[ ...]" or "ERR <why>").
Control (stdin, one per line; UNITs optional: without them the setting is for all units and
per-unit settings are dropped):
    ping                                   -> OK (every frame read before it is recorded)
    delay MS [UNIT ...]                    answer MS ms after the request (0 = off)
    late MS [UNIT ...]                     answer write requests (FC5/6/15/16/22) MS ms after the
                                           request (0 = off; overrides delay for writes); the
                                           write itself is applied at once
    writes normal|ignore|exception N [UNIT ...]
                                           normal: stored; ignore: normal reply, nothing stored
                                           (03/02 checks still apply); exception N: every write
                                           answers exception N (1..255), nothing stored
    silence on|off [UNIT ...]              stop/resume answering (requests are still recorded)
    set UNIT TABLE ADDR V1 [V2 ...]        write values (creates addresses)
    get UNIT TABLE ADDR [COUNT]            -> OK v1 v2 ...
    unset UNIT TABLE ADDR [COUNT]          remove addresses
    requests                               -> OK <n> good-CRC requests since start/clear
    log                                    -> OK unit:fc:addr:count ... (good-CRC requests)
    clear                                  reset requests/log (the record file is kept)
    frames                                 -> OK <n> records written so far
    quit                                   -> OK, then exit
TABLE: holding | input | coil | discrete_input (hr, ir, co, di).  EOF on stdin exits (unless
--ignore-stdin-eof).

check_gaps(records, baud, pause_ms, framing="8E1") (importable: `from peers.rtu_recorder import
check_gaps, read_records`) returns the bus-timing violations in a recording; see its docstring.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import select
import struct
import sys
import termios
import time
import tty
from collections import deque
from typing import Callable, Iterable, Mapping

if __package__:                 # imported: from peers.rtu_recorder import check_gaps
    from . import peer_control
else:                           # run as a script: python3 peers/rtu_recorder.py
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peer_control

# ------------------------------------------------------------------ values (peer_control, as plc.py)

BIT_TABLES = peer_control.BIT_TABLES
READ_TABLE = {1: "c", 2: "d", 3: "h", 4: "i"}
READ_LIMITS = {1: 2000, 2: 2000, 3: 125, 4: 125}
WRITE_FCS = frozenset({5, 6, 15, 16, 22})


class Unit(peer_control.Registers):
    """One unit id's four tables: {address: value}."""

    def __init__(self):
        self.tables: dict[str, dict[int, int]] = {"h": {}, "i": {}, "c": {}, "d": {}}

    def block(self, table: str) -> dict[int, int]:
        return self.tables[table]


def check_unit_id(uid: int) -> None:
    if not 1 <= uid <= 247:
        raise ValueError(f"RTU unit id out of 1..247: {uid} (0 is broadcast)")


def load_units(unit_ids: list[int] | None, values_path: str | None) -> dict[int, Unit]:
    return peer_control.load_units(unit_ids, values_path, Unit, check_unit_id)


# ------------------------------------------------------------------ RTU framing

def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16(body))


def crc_good(frame: bytes) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]) == struct.unpack("<H", frame[-2:])[0]


UNKNOWN = -1
MAX_FRAME = 256


def request_length(buf: bytes) -> int | None:
    """Total length (CRC included) of the request starting buf; None: need more bytes;
    UNKNOWN: cannot tell (frame by silence)."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc in (1, 2, 3, 4, 5, 6):
        return 8
    if fc == 22:
        return 10
    if fc in (15, 16):
        return None if len(buf) < 7 else 9 + buf[6]
    if fc == 23:
        return None if len(buf) < 11 else 13 + buf[10]
    return UNKNOWN


FRAMING_BITS = {"8N1": 10, "8E1": 11, "8O1": 11, "8N2": 11, "8E2": 12, "8O2": 12}


def bits_per_char(framing: str | int) -> int:
    """"8N1" -> 10, "8E1"/"8O1"/"8N2" -> 11 (1 start + 8 data + parity + stop), or an int as is."""
    if isinstance(framing, int):
        return framing
    try:
        return FRAMING_BITS[framing.upper()]
    except KeyError:
        raise ValueError(f"unknown framing {framing!r} (use 8N1, 8E1, 8O1, 8N2 or bits per character)") \
            from None


def t35_ns(baud: int, framing: str | int = "8E1", *, fixed_above_19200: bool = False) -> int:
    """3.5 character times in ns; with fixed_above_19200, 1.75 ms above 19200 baud (the spec's value)."""
    if fixed_above_19200 and baud > 19200:
        return 1_750_000
    return round(3.5 * bits_per_char(framing) * 1e9 / baud)


class Frame:
    __slots__ = ("data", "t_first", "t_last", "crc_ok", "error")

    def __init__(self, data: bytes, t_first: int, t_last: int, crc_ok: bool, error: str | None):
        self.data, self.t_first, self.t_last, self.crc_ok, self.error = data, t_first, t_last, crc_ok, error


class Assembler:
    """Splits received bytes into request frames by expected length, else by silence."""

    def __init__(self, silence_ns: int):
        self.silence_ns = silence_ns
        self.buf = bytearray()
        self.t_first = 0
        self.t_last = 0
        self.garbage = False   # wait for silence, whatever the length says

    def deadline(self) -> int | None:
        return self.t_last + self.silence_ns if self.buf else None

    def feed(self, data: bytes, now: int) -> list[Frame]:
        out = []
        if self.buf and now - self.t_last >= self.silence_ns:
            out += self.flush()
        if not self.buf:
            self.t_first = now
        self.buf += data
        self.t_last = now
        while self.buf and not self.garbage:
            n = request_length(self.buf)
            if n is None:
                if len(self.buf) > MAX_FRAME:
                    self.garbage = True
                break
            if n == UNKNOWN or n > MAX_FRAME:
                self.garbage = True
                break
            if len(self.buf) < n:
                break
            frame = bytes(self.buf[:n])
            if not crc_good(frame):
                self.garbage = True
                break
            out.append(Frame(frame, self.t_first, now, True, None))
            del self.buf[:n]
            self.t_first = now
        return out

    def expire(self, now: int) -> list[Frame]:
        if self.buf and now - self.t_last >= self.silence_ns:
            return self.flush()
        return []

    def flush(self) -> list[Frame]:
        data = bytes(self.buf)
        self.buf.clear()
        self.garbage = False
        n = request_length(data)
        ok = crc_good(data)
        if ok:
            error = None
        elif len(data) < 4 or n is None or (n != UNKNOWN and len(data) < n):
            error = "short"
        else:
            error = "crc"
        return [Frame(data, self.t_first, self.t_last, ok, error)]


# ------------------------------------------------------------------ request handling

def pack_bits(bits: list[int]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def unpack_bits(data: bytes, count: int) -> list[int]:
    return [(data[i // 8] >> (i % 8)) & 1 for i in range(count)]


def describe(frame: bytes) -> dict:
    """unit, fc, address, count, values of a request frame (best effort)."""
    d = {"unit": frame[0] if frame else None, "fc": None, "address": None, "count": None, "values": None}
    if len(frame) < 2:
        return d
    fc = frame[1]
    d["fc"] = fc & 0x7F
    p = frame[2:-2] if len(frame) >= 4 else frame[2:]
    try:
        if fc in (1, 2, 3, 4):
            d["address"], d["count"] = struct.unpack(">HH", p[:4])
        elif fc == 5:
            d["address"], raw = struct.unpack(">HH", p[:4])
            d["count"], d["values"] = 1, [{0xFF00: 1, 0: 0}.get(raw, raw)]
        elif fc == 6:
            d["address"], v = struct.unpack(">HH", p[:4])
            d["count"], d["values"] = 1, [v]
        elif fc == 15:
            d["address"], d["count"], _n = struct.unpack(">HHB", p[:5])
            d["values"] = unpack_bits(p[5:], min(d["count"], 8 * len(p[5:])))
        elif fc == 16:
            d["address"], d["count"], _n = struct.unpack(">HHB", p[:5])
            d["values"] = [w for (w,) in struct.iter_unpack(">H", p[5:5 + 2 * (len(p[5:]) // 2)])]
        elif fc == 22:
            d["address"], and_mask, or_mask = struct.unpack(">HHH", p[:6])
            d["count"], d["values"] = 1, [and_mask, or_mask]
        elif fc == 23:
            _ra, _rc, d["address"], d["count"] = struct.unpack(">HHHH", p[:8])
    except struct.error:
        pass
    return d


class Reply:
    """The PDU answering a request, plus what the record says about it."""

    def __init__(self, pdu: bytes, exception: int | None = None, values: list | None = None):
        self.pdu, self.exception, self.values = pdu, exception, values


def exception_reply(fc: int, code: int) -> Reply:
    return Reply(bytes([fc | 0x80, code]), exception=code)


def execute(unit: Unit, pdu: bytes, writes: tuple[str, int]) -> Reply:
    """Run one request PDU (function code + data) against a unit's tables."""
    fc, p = pdu[0], pdu[1:]
    if fc in READ_TABLE:
        if len(p) != 4:
            return exception_reply(fc, 3)
        address, count = struct.unpack(">HH", p)
        if not 1 <= count <= READ_LIMITS[fc]:
            return exception_reply(fc, 3)
        table = READ_TABLE[fc]
        if address + count > 0x10000 or not unit.exists(table, address, count):
            return exception_reply(fc, 2)
        values = unit.get(table, address, count)
        data = pack_bits(values) if table in BIT_TABLES else b"".join(struct.pack(">H", v) for v in values)
        return Reply(bytes([fc, len(data)]) + data, values=values)
    if fc not in WRITE_FCS:
        return exception_reply(fc, 1)
    mode, code = writes
    if mode == "exception":
        return exception_reply(fc, code)
    store = mode == "normal"
    if fc in (5, 6, 22):
        if len(p) != (6 if fc == 22 else 4):
            return exception_reply(fc, 3)
        if fc == 5:
            address, raw = struct.unpack(">HH", p)
            if raw not in (0x0000, 0xFF00):
                return exception_reply(fc, 3)
            table, values = "c", [1 if raw else 0]
        elif fc == 6:
            address, v = struct.unpack(">HH", p)
            table, values = "h", [v]
        else:
            address, and_mask, or_mask = struct.unpack(">HHH", p)
            table, values = "h", [and_mask, or_mask]
        if not unit.exists(table, address, 1):
            return exception_reply(fc, 2)
        if store:
            if fc == 22:
                cur = unit.tables["h"][address]
                unit.tables["h"][address] = (cur & and_mask) | (or_mask & ~and_mask & 0xFFFF)
            else:
                unit.tables[table][address] = values[0]
        return Reply(pdu, values=values)   # FC5/6/22 answer with an echo
    # FC15 / FC16
    if len(p) < 5:
        return exception_reply(fc, 3)
    address, count, nbytes = struct.unpack(">HHB", p[:5])
    data = p[5:]
    if fc == 15:
        ok = 1 <= count <= 1968 and nbytes == (count + 7) // 8 == len(data)
    else:
        ok = 1 <= count <= 123 and nbytes == 2 * count == len(data)
    if not ok:
        return exception_reply(fc, 3)
    table = "c" if fc == 15 else "h"
    if address + count > 0x10000 or not unit.exists(table, address, count):
        return exception_reply(fc, 2)
    values = unpack_bits(data, count) if fc == 15 else [w for (w,) in struct.iter_unpack(">H", data)]
    if store:
        for i, v in enumerate(values):
            unit.tables[table][address + i] = v
    return Reply(bytes([fc]) + struct.pack(">HH", address, count), values=values)


# ------------------------------------------------------------------ the recorder

RECORD_KEYS = ("seq", "direction", "unit", "fc", "exception", "address", "count", "values", "hex",
               "t_first_byte", "t_last_byte", "crc_ok", "error", "reply_to", "late")


class Pending:
    __slots__ = ("due", "frame", "meta")

    def __init__(self, due: int, frame: bytes, meta: dict):
        self.due, self.frame, self.meta = due, frame, meta


class Recorder(peer_control.Control):
    """The RTU slave: peer_control's settings and commands (delay(unit) in ns), `late` and `frames`."""

    def __init__(self, fd: int, units: dict[int, Unit], record, *, t35: int, silence_ns: int):
        super().__init__(units, delay_value=lambda ms: round(ms * 1e6))
        self.late = peer_control.PerUnit(0)
        self.fd = fd
        self.record_file = record
        self.t35 = t35
        self.rx = Assembler(silence_ns)
        self.queue: deque[Pending] = deque()
        self.seq = 0
        self.last_bus_end = 0          # t_last_byte of the newest frame either way

    # -- records
    def write_record(self, fields: dict) -> int:
        rec = {"seq": self.seq, **{k: fields.get(k) for k in RECORD_KEYS[1:]}}
        self.seq += 1
        if self.record_file:
            self.record_file.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.record_file.flush()
        return rec["seq"]

    # -- bus
    def on_frame(self, frame: Frame) -> None:
        d = describe(frame.data)
        seq = self.write_record({"direction": "rx", **d, "exception": None, "hex": frame.data.hex(),
                                 "t_first_byte": frame.t_first, "t_last_byte": frame.t_last,
                                 "crc_ok": frame.crc_ok, "error": frame.error, "reply_to": None,
                                 "late": False})
        self.last_bus_end = max(self.last_bus_end, frame.t_last)
        if not frame.crc_ok or len(frame.data) < 4:
            return
        unit_id, pdu = frame.data[0], frame.data[1:-2]
        fc = pdu[0]
        self.log_request(unit_id, fc, d["address"], d["count"])
        if unit_id == 0:       # broadcast: writes everywhere, no answer
            if fc in WRITE_FCS:
                for uid, unit in self.units.items():
                    execute(unit, pdu, self.writes(uid))
            return
        unit = self.units.get(unit_id)
        if unit is None or self.silenced(unit_id):
            return
        reply = execute(unit, pdu, self.writes(unit_id))
        wait = self.delay(unit_id)
        late = self.late(unit_id) if fc in WRITE_FCS else 0
        if late:
            wait = late
        due = frame.t_last + max(self.t35, wait)
        out = with_crc(bytes([unit_id]) + reply.pdu)
        meta = {"unit": unit_id, "fc": fc, "exception": reply.exception, "address": d["address"],
                "count": d["count"], "values": reply.values, "reply_to": seq, "late": bool(late)}
        self.queue.append(Pending(due, out, meta))

    def next_send_time(self) -> int | None:
        if not self.queue:
            return None
        return max(self.queue[0].due, self.last_bus_end + self.t35)

    def send_due(self, now: int) -> None:
        while self.queue:
            t = self.next_send_time()
            if t is None or now < t:
                return
            item = self.queue.popleft()
            t_first = time.monotonic_ns()
            self._write_all(item.frame)
            t_last = time.monotonic_ns()
            self.last_bus_end = t_last
            self.write_record({"direction": "tx", **item.meta, "hex": item.frame.hex(),
                               "t_first_byte": t_first, "t_last_byte": t_last, "crc_ok": True,
                               "error": None})
            now = t_last

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 2.0
        while view:
            try:
                n = os.write(self.fd, view)
                view = view[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    print("rtu_recorder: pty not drained; reply dropped", file=sys.stderr)
                    return
                select.select([], [self.fd], [], 0.05)

    # -- control (the rest: peer_control.Control.command)
    def extra_command(self, cmd: str, args: list[str]) -> str | None:
        if cmd == "late":
            return self.set_ms(cmd, args, self.late)
        if cmd == "frames":
            return f"OK {self.seq}"
        return None


def open_port(path: str, baud: int, parity: str, stopbits: int) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        cflag = termios.CS8 | termios.CREAD | termios.CLOCAL
        if parity != "N":
            cflag |= termios.PARENB | (termios.PARODD if parity == "O" else 0)
        if stopbits == 2:
            cflag |= termios.CSTOPB
        attrs[2] = cflag
        speed = getattr(termios, f"B{baud}", None)
        if speed is not None:
            attrs[4] = attrs[5] = speed
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except termios.error as exc:
        print(f"rtu_recorder: termios on {path}: {exc} (continuing)", file=sys.stderr)
    return fd


def serve(rec: Recorder, ignore_eof: bool) -> int:
    stdin_fd = sys.stdin.fileno()
    stdin_open = True
    pending = b""
    while True:
        now = time.monotonic_ns()
        times = [t for t in (rec.rx.deadline(), rec.next_send_time()) if t is not None]
        timeout = max(0.0, (min(times) - now) / 1e9) if times else None
        rlist = [rec.fd] + ([stdin_fd] if stdin_open else [])
        try:
            readable, _, _ = select.select(rlist, [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic_ns()
        if rec.fd in readable:
            try:
                data = os.read(rec.fd, 4096)
            except BlockingIOError:
                data = None
            except OSError as exc:
                if exc.errno == errno.EIO:   # the pty's other side (socat) is gone
                    print("rtu_recorder: pty closed (EIO)", file=sys.stderr)
                    return 1
                raise
            if data:
                for frame in rec.rx.feed(data, now):
                    rec.on_frame(frame)
        for frame in rec.rx.expire(time.monotonic_ns()):
            rec.on_frame(frame)
        rec.send_due(time.monotonic_ns())
        if stdin_open and stdin_fd in readable:
            chunk = os.read(stdin_fd, 4096)
            if not chunk:
                if not ignore_eof:
                    return 0
                stdin_open = False
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace").strip()
                if not line or line.startswith("#"):
                    continue
                if line.lower() == "quit":
                    peer_control.emit("OK")
                    return 0
                peer_control.emit(rec.command(line))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rtu", required=True, metavar="DEVICE", help="the pty (one end of a socat pty pair)")
    p.add_argument("--units", help="comma-separated unit ids 1..247 (default: the values file's units, or 1)")
    p.add_argument("--values", metavar="FILE.json", help="initial contents (plc.py's format)")
    p.add_argument("--record", metavar="PATH.jsonl", help="write every frame, both directions, here")
    p.add_argument("--baud", type=int, default=19200)
    p.add_argument("--parity", choices=["N", "E", "O"], default="N")
    p.add_argument("--stopbits", type=int, choices=[1, 2], default=1)
    p.add_argument("--silence-ms", type=float, help="end of an unframable frame (default: max(3.5 chars, 5 ms))")
    p.add_argument("--ignore-stdin-eof", action="store_true", help="keep running when stdin closes")
    args = p.parse_args(argv)
    try:
        unit_ids = [peer_control.parse_int(u) for u in args.units.split(",")] if args.units else None
        units = load_units(unit_ids, args.values)
        framing = f"8{args.parity}{args.stopbits}"
        t35 = t35_ns(args.baud, framing, fixed_above_19200=True)
        silence_ns = round(args.silence_ms * 1e6) if args.silence_ms is not None else max(t35, 5_000_000)
        fd = open_port(args.rtu, args.baud, args.parity, args.stopbits)
        record = open(args.record, "w", encoding="utf-8") if args.record else None
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        print(f"rtu_recorder: {exc}", file=sys.stderr)
        return 2
    rec = Recorder(fd, units, record, t35=t35, silence_ns=silence_ns)
    peer_control.emit("READY")
    try:
        return serve(rec, args.ignore_stdin_eof)
    except KeyboardInterrupt:
        return 0
    finally:
        if record:
            record.close()


# ------------------------------------------------------------------ analysis (for tests)

def read_records(path) -> list[dict]:
    """The JSONL records of a --record file (a partly written last line is skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.endswith("\n") and line.strip():
                out.append(json.loads(line))
    return out


def check_gaps(records: Iterable[dict], baud: int, pause_ms: float | Mapping[int, float] = 0.0,
               framing: str | int = "8E1", *, fixed_above_19200: bool = False) -> list[dict]:
    """Bus-timing violations in a recording (records as written by --record, or hand-made dicts
    with direction, t_first_byte and t_last_byte; unit is needed for a per-unit pause).

    Frames are taken in t_first_byte order.  Between the end (t_last_byte) of every frame and the
    start (t_first_byte) of the next, whichever way each goes, there must be at least 3.5
    character times at `baud` (`framing`: "8N1" = 10 bits a character, "8E1"/"8O1"/"8N2" = 11,
    or an int; fixed_above_19200: 1.75 ms above 19200 baud instead, as the spec recommends);
    between the end of a reply (tx) and the master's next request (rx), at least pause_ms as
    well (a number, or {unit: ms} keyed by the next request's unit; units not in it: 0).

    Returns one dict per violation: prev, next (the two records), gap_ms, required_ms (the
    larger of the two rules that apply) and rule: "t3.5" (shorter than 3.5 characters, the
    frames run together) or "pause" (long enough for that, shorter than pause_ms); [] when the
    timing is clean.  On a pty the times are when bytes
    were read/written (no line-speed pacing), so a gap includes the pty relay's latency."""
    t35 = t35_ns(baud, framing, fixed_above_19200=fixed_above_19200)
    pause: Callable[[dict], float]
    if isinstance(pause_ms, Mapping):
        pause = lambda r: float(pause_ms.get(r.get("unit"), 0.0))  # noqa: E731
    else:
        pause = lambda r: float(pause_ms)  # noqa: E731
    frames = sorted(records, key=lambda r: (r["t_first_byte"], r.get("seq", 0)))
    violations = []
    for prev, nxt in zip(frames, frames[1:]):
        gap = nxt["t_first_byte"] - prev["t_last_byte"]
        need = t35
        if prev["direction"] == "tx" and nxt["direction"] == "rx":
            need = max(need, round(pause(nxt) * 1e6))
        if gap < need:
            violations.append({"prev": prev, "next": nxt, "gap_ms": gap / 1e6, "required_ms": need / 1e6,
                               "rule": "t3.5" if gap < t35 else "pause"})
    return violations


if __name__ == "__main__":
    sys.exit(main())
