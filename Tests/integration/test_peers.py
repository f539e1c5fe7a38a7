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
