"""Self-tests of the integration harness (no tramctl needed)."""
from __future__ import annotations

import struct
import time

import pytest
from conftest import MbpollError, PlcError, mbpoll_read, mbpoll_write

PI = struct.unpack(">HH", struct.pack(">f", 3.14159265))  # (0x4049, 0x0FDB)

VALUES = {
    1: {
        "holding": {0: [*PI, 7], 100: ["0xBEEF", 1, 2]},
        "input": {10: [111, 112]},
        "coil": {0: [1, 0, 1]},
        "discrete_input": {5: [0, 1, 1]},
    },
}

TWO_UNITS = {
    1: {"holding": {0: [11, 12]}},
    2: {"holding": {0: [21, 22]}, "input": {0: [23]}},
}


# ------------------------------------------------------------------ TCP

def test_tcp_reads_match_values(plc_tcp):
    plc = plc_tcp(VALUES)
    t = (plc.host, plc.port)
    assert mbpoll_read(t, 1, "holding", 0, 3) == [0x4049, 0x0FDB, 7]
    assert mbpoll_read(t, 1, "holding", 100, 3) == [0xBEEF, 1, 2]
    assert mbpoll_read(t, 1, "holding", 101, 1) == [1]
    assert mbpoll_read(t, 1, "input", 10, 2) == [111, 112]
    assert mbpoll_read(t, 1, "coil", 0, 3) == [1, 0, 1]
    assert mbpoll_read(t, 1, "discrete_input", 5, 3) == [0, 1, 1]
    assert mbpoll_read(t, 1, "holding", 0, 1, "float")[0] == pytest.approx(3.14159, abs=1e-5)


def test_pdu_address_is_json_address_with_1_based_mbpoll(plc_tcp):
    """mbpoll without -0 uses reference 1 == PDU 0: check the plc has no off-by-one."""
    plc = plc_tcp({1: {"holding": {5: [55, 56]}}})
    import subprocess
    out = subprocess.run(["mbpoll", "-1", "-m", "tcp", "-p", str(plc.port), "-a", "1", "-t", "4",
                          "-r", "6", "-c", "2", plc.host], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "[6]: \t55" in out.stdout and "[7]: \t56" in out.stdout


@pytest.mark.parametrize("table,address0,count", [
    ("holding", 0, 4),        # written 0..2, plus one unwritten register
    ("holding", 3, 1),        # just past the end
    ("holding", 99, 2),       # one before a block
    ("input", 0, 1),          # hole
    ("coil", 0, 4),           # bits: pymodbus itself does not range-check these
    ("discrete_input", 4, 1),
])
def test_missing_registers_give_exception_02(plc_tcp, table, address0, count):
    plc = plc_tcp(VALUES)
    with pytest.raises(MbpollError) as exc:
        mbpoll_read((plc.host, plc.port), 1, table, address0, count)
    assert exc.value.illegal_address, exc.value.stderr


def test_exception_pdu_on_the_wire(plc_tcp):
    """Raw MBAP check: exception response carries 0x80|fc and code 02 (03 for bad count)."""
    import socket
    plc = plc_tcp(VALUES)
    with socket.create_connection((plc.host, plc.port), timeout=5) as s:
        for tid, (fc, addr, cnt, expect) in enumerate([
            (3, 0, 4, bytes([0x83, 0x02])),
            (1, 0, 4, bytes([0x81, 0x02])),
            (3, 0, 126, bytes([0x83, 0x03])),
            (3, 0, 3, bytes([0x03, 6, 0x40, 0x49, 0x0F, 0xDB, 0, 7])),
        ], start=1):
            s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, fc, addr, cnt))
            reply = _recv_mbap(s)
            assert reply[0] == tid and reply[2] == 1, reply
            assert reply[3] == expect, (fc, addr, cnt, reply)


def _recv_mbap(s):
    head = _recv_exact(s, 7)
    tid, _proto, length, unit = struct.unpack(">HHHB", head)
    return tid, _proto, unit, _recv_exact(s, length - 1)


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf


def test_unknown_unit_is_silent_by_default(plc_tcp):
    plc = plc_tcp(VALUES)
    with pytest.raises(MbpollError) as exc:
        mbpoll_read((plc.host, plc.port), 9, "holding", 0, 1, timeout=0.3)
    assert exc.value.timed_out, exc.value.stderr


def test_unknown_unit_exception_0b_when_asked(plc_tcp):
    plc = plc_tcp(VALUES, missing_unit="exception")
    with pytest.raises(MbpollError) as exc:
        mbpoll_read((plc.host, plc.port), 9, "holding", 0, 1, timeout=0.5)
    assert not exc.value.timed_out, exc.value.stderr
    # libmodbus' text for exception 0x0B (gateway target device failed to respond)
    assert "target device failed to respond" in exc.value.stderr.lower(), exc.value.stderr


def test_units_without_values_have_no_registers(plc_tcp):
    plc = plc_tcp(VALUES, units=[1, 4])
    with pytest.raises(MbpollError) as exc:
        mbpoll_read((plc.host, plc.port), 4, "holding", 0, 1)
    assert exc.value.illegal_address


def test_silence_makes_client_time_out_then_recovers(plc_tcp):
    plc = plc_tcp(VALUES)
    t = (plc.host, plc.port)
    plc.silence(True)
    with pytest.raises(MbpollError) as exc:
        mbpoll_read(t, 1, "holding", 0, 1, timeout=0.3)
    assert exc.value.timed_out, exc.value.stderr
    plc.silence(False)
    assert mbpoll_read(t, 1, "holding", 0, 1) == [0x4049]


def test_silence_one_unit(plc_tcp):
    plc = plc_tcp(TWO_UNITS)
    t = (plc.host, plc.port)
    plc.silence(True, units=[2])
    assert mbpoll_read(t, 1, "holding", 0, 2) == [11, 12]
    with pytest.raises(MbpollError) as exc:
        mbpoll_read(t, 2, "holding", 0, 2, timeout=0.3)
    assert exc.value.timed_out
    plc.silence(False)
    assert mbpoll_read(t, 2, "holding", 0, 2) == [21, 22]


def test_delay(plc_tcp):
    plc = plc_tcp(VALUES)
    t = (plc.host, plc.port)
    plc.delay(400)
    start = time.monotonic()
    assert mbpoll_read(t, 1, "holding", 0, 1, timeout=2) == [0x4049]
    assert time.monotonic() - start >= 0.4
    with pytest.raises(MbpollError) as exc:
        mbpoll_read(t, 1, "holding", 0, 1, timeout=0.1)
    assert exc.value.timed_out
    plc.delay(0)
    assert mbpoll_read(t, 1, "holding", 0, 1) == [0x4049]


def test_set_get_unset_and_request_log(plc_tcp):
    plc = plc_tcp(VALUES)
    t = (plc.host, plc.port)
    plc.set(1, "holding", 1, 0x1234, 0xFFFF)
    assert mbpoll_read(t, 1, "holding", 0, 3) == [0x4049, 0x1234, 0xFFFF]
    plc.set(1, "holding", 3, 9)                       # creates a register
    assert mbpoll_read(t, 1, "holding", 0, 4) == [0x4049, 0x1234, 0xFFFF, 9]
    plc.unset(1, "holding", 3)
    with pytest.raises(MbpollError):
        mbpoll_read(t, 1, "holding", 0, 4)
    plc.set(1, "coil", 1, 1)
    assert mbpoll_read(t, 1, "coil", 0, 3) == [1, 1, 1]
    mbpoll_write(t, 1, "holding", 100, [7, 8])
    assert plc.get(1, "holding", 100, 3) == [7, 8, 2]
    with pytest.raises(MbpollError):
        mbpoll_write(t, 1, "holding", 200, [1])      # writes to missing registers fail too
    with pytest.raises(PlcError):
        plc.get(1, "holding", 200)
    with pytest.raises(PlcError):
        plc.set(1, "holding", 0, 70000)
    with pytest.raises(PlcError):
        plc.command("bogus")
    plc.clear()
    mbpoll_read(t, 1, "input", 10, 2)
    assert plc.log() == [(1, 4, 10, 2)]
    assert plc.requests() == 1


def test_framer_rtu_over_tcp_plc(plc_tcp):
    """plc.py --framer rtu: RTU frames over TCP without socat."""
    from pymodbus.client import ModbusTcpClient
    from pymodbus.framer import FramerType
    plc = plc_tcp(TWO_UNITS, framer="rtu")
    client = ModbusTcpClient(plc.host, port=plc.port, framer=FramerType.RTU, timeout=2, retries=1)
    try:
        assert client.connect()
        rr = client.read_holding_registers(0, count=2, slave=2)
        assert not rr.isError() and rr.registers == [21, 22]
        rr = client.read_holding_registers(0, count=3, slave=2)
        assert rr.isError() and rr.exception_code == 2
    finally:
        client.close()


# ------------------------------------------------------------------ RTU

def test_rtu_over_pty(plc_rtu):
    plc = plc_rtu(VALUES)
    assert mbpoll_read(plc.device, 1, "holding", 0, 3) == [0x4049, 0x0FDB, 7]
    assert mbpoll_read(plc.device, 1, "input", 10, 2) == [111, 112]
    assert mbpoll_read(plc.device, 1, "coil", 0, 3) == [1, 0, 1]
    with pytest.raises(MbpollError) as exc:
        mbpoll_read(plc.device, 1, "holding", 0, 4)
    assert exc.value.illegal_address, exc.value.stderr


def test_rtu_two_units_on_one_bus(plc_rtu):
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    for _ in range(2):
        assert mbpoll_read(plc.device, 1, "holding", 0, 2) == [11, 12]
        assert mbpoll_read(plc.device, 2, "holding", 0, 2) == [21, 22]
    assert mbpoll_read(plc.device, 2, "input", 0, 1) == [23]
    with pytest.raises(MbpollError) as exc:       # nobody answers unit 3
        mbpoll_read(plc.device, 3, "holding", 0, 1, timeout=0.3)
    assert exc.value.timed_out


def test_rtu_silence(plc_rtu):
    plc = plc_rtu(VALUES)
    plc.silence(True)
    with pytest.raises(MbpollError) as exc:
        mbpoll_read(plc.device, 1, "holding", 0, 1, timeout=0.3)
    assert exc.value.timed_out
    plc.silence(False)
    assert mbpoll_read(plc.device, 1, "holding", 0, 1) == [0x4049]


def test_rtu_over_tcp_bridge(plc_rtu, rtu_over_tcp_bridge):
    from pymodbus.client import ModbusTcpClient
    from pymodbus.framer import FramerType
    plc = plc_rtu(TWO_UNITS, units=[1, 2])
    port = rtu_over_tcp_bridge(plc.device)
    client = ModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU, timeout=2, retries=1)
    try:
        assert client.connect()
        rr = client.read_holding_registers(0, count=2, slave=1)
        assert not rr.isError() and rr.registers == [11, 12]
        rr = client.read_holding_registers(0, count=2, slave=2)
        assert not rr.isError() and rr.registers == [21, 22]
        rr = client.read_holding_registers(1, count=2, slave=2)
        assert rr.isError() and rr.exception_code == 2
    finally:
        client.close()


def test_plc_exits_when_stdin_closes(plc_tcp):
    plc = plc_tcp(VALUES)
    plc.proc.stdin.close()
    plc.proc.wait(timeout=10)
    assert plc.proc.returncode == 0


# ------------------------------------------------------------------ writes (plc.py)

WRITABLE = {
    1: {"holding": {0: [10, 11, 12, "0x12"]}, "coil": {0: [0, 0, 0]}, "input": {0: [5]}},
    2: {"holding": {0: [20, 21]}, "coil": {0: [0]}},
}


def test_plc_writes_normal_ignore_exception_per_unit(plc_tcp):
    plc = plc_tcp(WRITABLE)
    t = (plc.host, plc.port)
    mbpoll_write(t, 1, "holding", 0, [100])                  # mbpoll: one value -> FC6, more -> FC16
    mbpoll_write(t, 1, "coil", 1, [1])                       # FC5
    assert plc.get(1, "holding", 0) == [100] and plc.get(1, "coil", 0, 3) == [0, 1, 0]

    plc.writes("ignore", units=[1])                          # acknowledged, not stored
    mbpoll_write(t, 1, "holding", 0, [200])
    mbpoll_write(t, 1, "holding", 1, [201, 202])
    mbpoll_write(t, 1, "coil", 0, [1])
    mbpoll_write(t, 1, "coil", 0, [1, 0, 1])
    assert plc.get(1, "holding", 0, 3) == [100, 11, 12] and plc.get(1, "coil", 0, 3) == [0, 1, 0]
    assert mbpoll_read(t, 1, "holding", 0, 3) == [100, 11, 12]
    with pytest.raises(MbpollError) as exc:                  # the address check still applies
        mbpoll_write(t, 1, "holding", 50, [1])
    assert exc.value.illegal_address, exc.value.stderr
    mbpoll_write(t, 2, "holding", 0, [300])                  # unit 2 is still normal
    assert plc.get(2, "holding", 0) == [300]

    plc.writes("exception", 3, units=[2])
    with pytest.raises(MbpollError) as exc:
        mbpoll_write(t, 2, "holding", 0, [301])
    assert "illegal data value" in exc.value.stderr.lower(), exc.value.stderr
    assert plc.get(2, "holding", 0) == [300]
    mbpoll_write(t, 1, "holding", 0, [400])                  # unit 1 still ignores
    assert plc.get(1, "holding", 0) == [100]

    plc.writes("exception", 2)                               # all units; drops the per-unit modes
    for unit, table, values in [(1, "holding", [1]), (1, "holding", [1, 2]), (1, "coil", [1]),
                                (2, "coil", [1]), (2, "holding", [7, 7])]:
        with pytest.raises(MbpollError) as exc:
            mbpoll_write(t, unit, table, 0, values)
        assert exc.value.illegal_address, exc.value.stderr
    assert mbpoll_read(t, 1, "holding", 0, 2) == [100, 11]    # reads unaffected
    assert mbpoll_read(t, 2, "coil", 0, 1) == [0]

    plc.writes("normal")
    mbpoll_write(t, 2, "holding", 0, [21, 22])
    assert plc.get(2, "holding", 0, 2) == [21, 22]
    for bad in ("writes", "writes bogus", "writes exception", "writes exception 0", "writes exception 256"):
        with pytest.raises(PlcError):
            plc.command(bad)
    plc.clear()
    mbpoll_write(t, 1, "holding", 1, [1, 2, 3])
    mbpoll_write(t, 1, "holding", 3, [9])
    mbpoll_write(t, 1, "coil", 0, [1, 1])
    mbpoll_write(t, 1, "coil", 2, [1])
    assert plc.log() == [(1, 16, 1, 3), (1, 6, 3, 1), (1, 15, 0, 2), (1, 5, 2, 1)]


def _mbap_request(s, tid, unit, pdu: bytes) -> bytes:
    s.sendall(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu)
    rtid, _proto, runit, reply = _recv_mbap(s)
    assert (rtid, runit) == (tid, unit), (rtid, runit)
    return reply


WRITE_PDUS = {   # fc -> (request PDU, the normal reply PDU)
    5: (bytes.fromhex("05 0001 ff00"), bytes.fromhex("05 0001 ff00")),
    6: (bytes.fromhex("06 0002 abcd"), bytes.fromhex("06 0002 abcd")),
    15: (bytes.fromhex("0f 0000 0003 01 05"), bytes.fromhex("0f 0000 0003")),
    16: (bytes.fromhex("10 0000 0002 04 1111 2222"), bytes.fromhex("10 0000 0002")),
    22: (bytes.fromhex("16 0003 00f2 0025"), bytes.fromhex("16 0003 00f2 0025")),   # the spec's example
    23: (bytes.fromhex("17 0000 0002 0001 0001 02 3333"), None),
}


def test_plc_write_function_codes_on_the_wire(plc_tcp):
    """FC5/6/15/16/22/23 in each mode, raw MBAP: FC22 is (cur & AND) | (OR & ~AND) (0x12 -> 0x17);
    `ignore` answers byte for byte as `normal` does; `exception N` answers 0x80|fc, N."""
    import socket
    plc = plc_tcp(WRITABLE)
    with socket.create_connection((plc.host, plc.port), timeout=5) as s:
        tid = 0
        snapshot = plc.get(1, "holding", 0, 4), plc.get(1, "coil", 0, 3)
        plc.writes("ignore")
        ignored = {}
        for fc, (pdu, _) in WRITE_PDUS.items():
            tid += 1
            ignored[fc] = _mbap_request(s, tid, 1, pdu)
        assert (plc.get(1, "holding", 0, 4), plc.get(1, "coil", 0, 3)) == snapshot
        assert ignored[23] == bytes.fromhex("17 04 000a 000b")   # the read part, nothing written

        plc.writes("exception", 4, units=[1])
        for fc, (pdu, _) in WRITE_PDUS.items():
            tid += 1
            assert _mbap_request(s, tid, 1, pdu) == bytes([0x80 | fc, 4]), fc
        tid += 1
        assert _mbap_request(s, tid, 1, bytes.fromhex("03 0000 0001")) == bytes.fromhex("03 02 000a")
        assert (plc.get(1, "holding", 0, 4), plc.get(1, "coil", 0, 3)) == snapshot

        plc.writes("normal")
        for fc, (pdu, reply) in WRITE_PDUS.items():
            tid += 1
            got = _mbap_request(s, tid, 1, pdu)
            if reply is not None:
                assert got == reply == ignored[fc], fc
        # FC23 last: its write (0x3333 at 1) is done before its read of 0..1
        assert got == bytes.fromhex("17 04 1111 3333")
        assert plc.get(1, "holding", 0, 4) == [0x1111, 0x3333, 0xABCD, 0x17]
        assert plc.get(1, "coil", 0, 3) == [1, 0, 1]
        tid += 1    # FC22 on a missing register: exception 02
        assert _mbap_request(s, tid, 1, bytes.fromhex("16 0009 00f2 0025")) == bytes([0x96, 2])
        # FC16 whose byte count is short of its quantity: pymodbus' decoder raises; no answer, and the
        # connection stays up (it used to be dropped)
        s.settimeout(0.3)
        s.sendall(struct.pack(">HHHB", 99, 0, 9, 1) + bytes.fromhex("10 0000 0002 02 0001"))
        with pytest.raises(socket.timeout):
            s.recv(100)
        s.settimeout(5)
        assert _mbap_request(s, 100, 1, bytes.fromhex("03 0000 0001")) == bytes.fromhex("03 02 1111")
    assert [(fc, a, c) for _u, fc, a, c in plc.log()][-8:] == \
        [(5, 1, 1), (6, 2, 1), (15, 0, 3), (16, 0, 2), (22, 3, 1), (23, 1, 1), (22, 9, 1), (3, 0, 1)]


# ------------------------------------------------------------------ rtu_recorder.py

from peers.rtu_recorder import check_gaps, crc_good, t35_ns, with_crc  # noqa: E402


class RawMaster:
    """The master's end of a pty pair, raw bytes (for what mbpoll cannot send)."""

    def __init__(self, path: str):
        import os
        import tty
        self.os = os
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)

    def close(self):
        self.os.close(self.fd)

    def send(self, data: bytes) -> None:
        self.os.write(self.fd, data)

    def recv(self, n: int | None = None, timeout: float = 1.0, quiet: float = 0.05) -> bytes:
        """Until n bytes, or (n None) `quiet` s without bytes after the first, or `timeout`."""
        import select
        buf = b""
        deadline = time.monotonic() + timeout
        while n is None or len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait = min(left, quiet) if (n is None and buf) else left
            if not select.select([self.fd], [], [], wait)[0]:
                if n is None and buf:
                    break
                continue
            buf += self.os.read(self.fd, 4096)
        return buf

    def exchange(self, body: bytes, reply_len: int | None = None, timeout: float = 1.0) -> bytes:
        self.send(with_crc(body))
        return self.recv(reply_len, timeout)


@pytest.fixture
def raw_master():
    opened = []

    def open_(path):
        m = RawMaster(path)
        opened.append(m)
        return m
    yield open_
    for m in opened:
        m.close()


def _rtu_mb(rec, fn, *args, **kw):
    return fn(rec.device, *args, baud=rec.baud, **kw)


def test_rtu_recorder_with_mbpoll_records_both_directions(rtu_recorder):
    rec = rtu_recorder({**VALUES, 2: {"holding": {0: [21, 22]}}}, units=[1, 2], baud=19200)
    assert _rtu_mb(rec, mbpoll_read, 1, "holding", 0, 3) == [0x4049, 0x0FDB, 7]
    assert _rtu_mb(rec, mbpoll_read, 1, "input", 10, 2) == [111, 112]
    assert _rtu_mb(rec, mbpoll_read, 1, "coil", 0, 3) == [1, 0, 1]
    assert _rtu_mb(rec, mbpoll_read, 1, "discrete_input", 5, 3) == [0, 1, 1]
    assert _rtu_mb(rec, mbpoll_read, 2, "holding", 0, 2) == [21, 22]
    _rtu_mb(rec, mbpoll_write, 1, "holding", 100, [0x1234])            # FC6
    _rtu_mb(rec, mbpoll_write, 1, "holding", 101, [5, 6])              # FC16
    _rtu_mb(rec, mbpoll_write, 1, "coil", 1, [1])                      # FC5
    _rtu_mb(rec, mbpoll_write, 1, "coil", 0, [0, 0, 0])                # FC15
    assert rec.get(1, "holding", 100, 3) == [0x1234, 5, 6] and rec.get(1, "coil", 0, 3) == [0, 0, 0]
    with pytest.raises(MbpollError) as exc:
        _rtu_mb(rec, mbpoll_read, 1, "holding", 0, 4)
    assert exc.value.illegal_address, exc.value.stderr
    with pytest.raises(MbpollError) as exc:
        _rtu_mb(rec, mbpoll_read, 3, "holding", 0, 1, timeout=0.2)     # unit 3 is not on the bus
    assert exc.value.timed_out, exc.value.stderr

    records = rec.records()
    summary = [(r["direction"], r["unit"], r["fc"], r["address"], r["count"], r["exception"]) for r in records]
    assert summary == [
        ("rx", 1, 3, 0, 3, None), ("tx", 1, 3, 0, 3, None),
        ("rx", 1, 4, 10, 2, None), ("tx", 1, 4, 10, 2, None),
        ("rx", 1, 1, 0, 3, None), ("tx", 1, 1, 0, 3, None),
        ("rx", 1, 2, 5, 3, None), ("tx", 1, 2, 5, 3, None),
        ("rx", 2, 3, 0, 2, None), ("tx", 2, 3, 0, 2, None),
        ("rx", 1, 6, 100, 1, None), ("tx", 1, 6, 100, 1, None),
        ("rx", 1, 16, 101, 2, None), ("tx", 1, 16, 101, 2, None),
        ("rx", 1, 5, 1, 1, None), ("tx", 1, 5, 1, 1, None),
        ("rx", 1, 15, 0, 3, None), ("tx", 1, 15, 0, 3, None),
        ("rx", 1, 3, 0, 4, None), ("tx", 1, 3, 0, 4, 2),
        ("rx", 3, 3, 0, 1, None),
    ], summary
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert records[1]["values"] == [0x4049, 0x0FDB, 7] and records[10]["values"] == [0x1234]
    assert records[12]["values"] == [5, 6] and records[16]["values"] == [0, 0, 0]
    assert records[10]["hex"] == with_crc(bytes.fromhex("01 06 0064 1234")).hex()
    assert records[19]["hex"] == with_crc(bytes.fromhex("01 83 02")).hex()
    t35 = t35_ns(19200, "8N1")
    for r in records:
        assert set(r) == {"seq", "direction", "unit", "fc", "exception", "address", "count", "values", "hex",
                          "t_first_byte", "t_last_byte", "crc_ok", "error", "reply_to", "late"}, r
        assert r["crc_ok"] is True and r["error"] is None and crc_good(bytes.fromhex(r["hex"])), r
        assert r["t_first_byte"] <= r["t_last_byte"], r
        if r["direction"] == "tx":
            req = records[r["reply_to"]]
            assert req["direction"] == "rx" and (req["unit"], req["fc"]) == (r["unit"], r["fc"]), r
            assert r["t_first_byte"] - req["t_last_byte"] >= t35, r
            assert r["late"] is False
    # separate mbpoll runs are tens of ms apart, the recorder waits 3.5 characters: clean timing
    assert rec.check_gaps(pause_ms=0, records=records) == []
    assert rec.log()[-1] == (3, 3, 0, 1) and rec.requests() == 11


def test_rtu_recorder_write_modes_fc22_and_framing(rtu_recorder, raw_master):
    rec = rtu_recorder(WRITABLE, units=[1, 2])
    m = raw_master(rec.device)
    # FC22, the spec's example: 0x12 AND 0xF2 OR 0x25 -> 0x17; the reply is an echo
    req = bytes.fromhex("01 16 0003 00f2 0025")
    assert m.exchange(req, 10) == with_crc(req)
    assert rec.get(1, "holding", 3) == [0x17]
    assert m.exchange(bytes.fromhex("01 16 0009 00f2 0025"), 5) == with_crc(bytes.fromhex("01 96 02"))

    rec.writes("ignore", units=[1])
    _rtu_mb(rec, mbpoll_write, 1, "holding", 0, [999])
    assert m.exchange(req.replace(b"\x00\x25", b"\xff\xff"), 10) == with_crc(req.replace(b"\x00\x25", b"\xff\xff"))
    assert rec.get(1, "holding", 0, 4) == [10, 11, 12, 0x17]
    _rtu_mb(rec, mbpoll_write, 2, "holding", 0, [222])
    assert rec.get(2, "holding", 0) == [222]
    rec.writes("exception", 4)
    for body in (bytes.fromhex("01 05 0000 ff00"), bytes.fromhex("01 06 0000 0001"),
                 bytes.fromhex("02 0f 0000 0001 01 01"), bytes.fromhex("02 10 0000 0001 02 0001"), req):
        assert m.exchange(body, 5) == with_crc(bytes([body[0], 0x80 | body[1], 4])), body.hex()
    assert _rtu_mb(rec, mbpoll_read, 2, "holding", 0, 2) == [222, 21]
    rec.writes("normal")
    # quantity / value checks: FC5 with a value other than 0000/FF00, FC16 whose byte count is wrong
    assert m.exchange(bytes.fromhex("01 05 0000 1234"), 5) == with_crc(bytes.fromhex("01 85 03"))
    assert m.exchange(bytes.fromhex("01 10 0000 0002 02 0001"), 5) == with_crc(bytes.fromhex("01 90 03"))

    n = rec.frames()
    m.send(with_crc(bytes.fromhex("01 03 0000 0001"))[:-1] + b"\x00")       # bad CRC: recorded, no answer
    assert m.recv(None, timeout=0.15) == b""
    m.send(bytes.fromhex("01 03 00"))                                       # a frame cut by a silence
    time.sleep(0.1)
    m.send(with_crc(bytes.fromhex("01 03 0000 0001"))[3:])
    assert m.recv(None, timeout=0.15) == b""
    assert m.exchange(bytes.fromhex("01 2b 0e 01 00"), None) == with_crc(bytes.fromhex("01 ab 01"))  # by silence
    two = with_crc(bytes.fromhex("01 03 0000 0001")) + with_crc(bytes.fromhex("02 03 0001 0001"))
    m.send(two)                                                             # two frames in one burst
    assert m.recv(14) == with_crc(bytes.fromhex("01 03 02 000a")) + with_crc(bytes.fromhex("02 03 02 0015"))
    m.exchange(bytes.fromhex("00 06 0001 0063"), None, timeout=0.15)       # broadcast: stored, no answer
    assert rec.get(1, "holding", 1) == [99] and rec.get(2, "holding", 1) == [99]
    got = [(r["direction"], r["unit"], r["fc"], r["crc_ok"], r["error"], r["exception"])
           for r in rec.records()[n:]]
    assert got == [
        ("rx", 1, 3, False, "crc", None),
        ("rx", 1, 3, False, "short", None), ("rx", 0, 0, False, "crc", None),
        ("rx", 1, 0x2B, True, None, None), ("tx", 1, 0x2B, True, None, 1),
        ("rx", 1, 3, True, None, None), ("rx", 2, 3, True, None, None),
        ("tx", 1, 3, True, None, None), ("tx", 2, 3, True, None, None),
        ("rx", 0, 6, True, None, None),
    ], got
    rec.proc.stdin.close()                                                  # EOF: the recorder exits
    rec.proc.wait(timeout=10)
    assert rec.proc.returncode == 0


def test_rtu_recorder_late_write_reply_comes_before_the_next_answer(rtu_recorder, raw_master):
    """`late MS`: the write is done at once but answered MS ms later; a poll sent meanwhile is answered
    after it (one transmitter), so a master that gave up on the write sees the stale echo first."""
    rec = rtu_recorder(WRITABLE, units=[1, 2])
    m = raw_master(rec.device)
    rec.late(250, units=[1])
    write = bytes.fromhex("01 06 0001 0042")
    start = time.monotonic()
    assert m.exchange(write, 8, timeout=0.1) == b""                # the master times out
    assert rec.get(1, "holding", 1) == [0x42]                      # ... but the write was done
    poll = with_crc(bytes.fromhex("01 03 0000 0002"))
    m.send(poll)
    got = m.recv(8 + 9, timeout=1.0)
    assert time.monotonic() - start >= 0.25
    assert got == with_crc(write) + with_crc(bytes.fromhex("01 03 04 000a 0042")), got.hex()
    assert _rtu_mb(rec, mbpoll_read, 2, "holding", 0, 1) == [20]   # reads are not late
    recs = rec.records()
    w_rx, p_rx, w_tx, p_tx = recs[0], recs[1], recs[2], recs[3]
    assert (w_rx["fc"], p_rx["fc"], w_tx["reply_to"], p_tx["reply_to"]) == (6, 3, 0, 1)
    assert w_tx["late"] is True and p_tx["late"] is False
    assert w_tx["t_first_byte"] - w_rx["t_last_byte"] >= 250_000_000
    assert p_tx["t_first_byte"] >= w_tx["t_last_byte"] + t35_ns(19200, "8N1")
    rec.late(0)
    assert m.exchange(write, 8, timeout=1.0) == with_crc(write)


def test_rtu_recorder_gaps_in_a_real_recording(rtu_recorder, raw_master):
    """A master that sends its next request right after a reply breaks a 50 ms pause; one that waits does not."""
    rec = rtu_recorder(WRITABLE, units=[1, 2])
    m = raw_master(rec.device)
    poll = bytes.fromhex("01 03 0000 0001")
    for _ in range(2):
        assert len(m.exchange(poll, 7)) == 7                       # back to back
    time.sleep(0.06)
    assert len(m.exchange(poll, 7)) == 7
    records = rec.records()
    violations = rec.check_gaps(pause_ms=50, records=records)
    assert [(v["prev"]["seq"], v["next"]["seq"]) for v in violations] == [(1, 2)], violations
    assert violations[0]["gap_ms"] < 50 and violations[0]["required_ms"] == 50
    # back to back is usually well under 3.5 characters on a pty too (~0.2 ms): that pair at most
    assert [(v["prev"]["seq"], v["next"]["seq"]) for v in rec.check_gaps(0, records)] in ([], [(1, 2)])
    assert check_gaps(records, 19200, {2: 50}, "8N1") == rec.check_gaps(0, records)   # unit 1 asks no pause


def test_check_gaps_detects_short_gaps():
    ms = 1_000_000

    def frame(direction, start_ms, end_ms, unit=1):
        return {"direction": direction, "unit": unit, "t_first_byte": round(start_ms * ms),
                "t_last_byte": round(end_ms * ms)}
    records = [
        frame("rx", 0, 1), frame("tx", 3, 4),          # 2.0 ms: > 3.5 chars at 19200 8N1 (1.82 ms), < 8E1 (2.005)
        frame("rx", 4.5, 5),                           # 0.5 ms after a reply: too short
        frame("tx", 7, 8),                             # 2.0 ms again
        frame("rx", 12, 13),                           # 4 ms after a reply: fine for t3.5, not for a 5 ms pause
        frame("tx", 20, 21), frame("rx", 41, 42),
        frame("rx", 41.5, 43, unit=2),                 # overlaps: no reply in between, still t3.5
    ]
    shuffled = records[::-1]                           # order does not matter: sorted by t_first_byte
    got = check_gaps(shuffled, 19200, 5, "8N1")
    assert [(records.index(v["prev"]), records.index(v["next"]), v["rule"]) for v in got] == \
        [(1, 2, "t3.5"), (3, 4, "pause"), (6, 7, "t3.5")], got
    assert got[0]["gap_ms"] == pytest.approx(0.5) and got[0]["required_ms"] == 5    # both rules: the larger
    assert got[1]["gap_ms"] == pytest.approx(4) and got[1]["required_ms"] == 5
    assert got[2]["gap_ms"] == pytest.approx(-0.5) and got[2]["required_ms"] == pytest.approx(35 / 19.2, abs=1e-3)
    assert len(check_gaps(records, 19200, 0, "8N1")) == 2
    assert len(check_gaps(records, 19200, 0, "8E1")) == 4           # 11 bits: the two 2.0 ms gaps are too short too
    assert len(check_gaps(records, 19200, 0, 11)) == 4
    assert len(check_gaps(records, 19200, {1: 5}, "8N1")) == 3      # pause per unit of the next request
    assert len(check_gaps(records, 19200, {2: 5}, "8N1")) == 2
    assert len(check_gaps(records, 9600, 0, "8N1")) == 4            # 3.65 ms at 9600
    assert check_gaps(records[:2], 19200, 0, "8N1") == []
    assert t35_ns(38400, "8E1") == round(3.5 * 11 * 1e9 / 38400)
    assert t35_ns(38400, "8E1", fixed_above_19200=True) == 1_750_000
    with pytest.raises(ValueError):
        check_gaps(records, 19200, 0, "7X3")
