"""`tramctl read` decodes every value type in every word order exactly.

The table below is the whole test: for each (type, order) the test derives the
register words from each value with Python's struct (orders as defined in
docs/device-maps.md, see tramtest.reorder), serves them from peers/plc.py through its
values file, reads them back with `tramctl read --json`, and compares the decoded
values exactly (floats by their bits, so NaN payloads and -0.0 count too).
Every block of registers is followed by a hole, so a read of the wrong length gets
exception 02 instead of passing by accident.  mbpoll reads the same registers to
check the raw words tramctl reports.
"""
from __future__ import annotations

import math
import struct

import pytest
from conftest import TRAMCTL, ProcessManager, _start_plc, mbpoll_read, run_tramctl
from tramtest import (ORDERS, decode, encode, hexwords, poll_json, points, read_json, reorder,
                      string_words, write_agent)

NAN = float("nan")
INF = float("inf")


class BE(bytes):
    """A value given by its big-endian bytes (NaN payloads Python's floats would quiet)."""


NUMERIC = {
    "int16": [0, 1, -1, 12345, -12345, 0x7FFF, -0x8000, 0x0102],
    "uint16": [0, 1, 0xA5C3, 0x8000, 0xFFFF],
    "int32": [0, 1, -1, 123456789, -123456789, 2**31 - 1, -2**31, 0x01020304, -0x01020304],
    "uint32": [0, 1, 0xDEADBEEF, 2**32 - 1, 0x01020304, 0x80000000],
    "int64": [0, -1, 1234567890123456789, -1234567890123456789, 2**63 - 1, -2**63,
              0x0102030405060708, -2],
    "uint64": [0, 1, 2**64 - 1, 0x0102030405060708, 0xFEDCBA9876543210, 2**53 + 1],
    "float32": [0.0, -0.0, 3.14159265, -273.15, 230.4, -1.5e30, 1e-30, 1e-45, NAN, -NAN, INF, -INF,
                BE.fromhex("7fc12345"), BE.fromhex("7f812345")],
    "float64": [0.0, -0.0, math.pi, -273.15, 230.4, -1.5e300, 5e-324, NAN, -NAN, INF, -INF,
                BE.fromhex("7ff8000000012345"), BE.fromhex("7ff0000000012345")],
}
REGISTERS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4,
             "float32": 2, "float64": 4}
# FC03 and FC04 both get every width.
TABLE = {"int16": "holding", "uint16": "input", "int32": "holding", "uint32": "input",
         "int64": "holding", "uint64": "input", "float32": "input", "float64": "holding"}

STRINGS = [("Hello", 3), ("ABCD1234", 4), ("Tram gateway 01", 8), ("x", 1), ("SDM630-Modbus", 10)]
STRING_ORDERS = ("ABCD", "BADC")  # docs define byte swapping for strings only within words

BIT_WORDS = [0xA5C3, 0x5A3C, 0x8001]
BOOL_PATTERN = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1]   # 19 bits: not a byte multiple


def be_bytes(type_: str, value) -> bytes:
    if isinstance(value, BE):
        return bytes(value)
    return struct.pack(">" + {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q",
                              "uint64": "Q", "float32": "f", "float64": "d"}[type_], value)


def expected_bits(type_: str, value) -> int:
    return int.from_bytes(be_bytes(type_, value), "big")


# ------------------------------------------------------------------ layout

class Layout:
    """Assigns each case a register block (followed by a one-register hole) and builds the values file."""

    def __init__(self):
        self.next = {"holding": 0, "input": 0, "coil": 0, "discrete_input": 0}
        self.values: dict[str, dict[int, list[int]]] = {t: {} for t in self.next}

    def put(self, table: str, words: list[int]) -> int:
        address = self.next[table]
        self.values[table][address] = list(words)
        self.next[table] = address + len(words) + 1
        return address


LAYOUT = Layout()
NUMERIC_CASES = {}   # (type, order) -> (table, address, values, words)
for _type, _values in NUMERIC.items():
    for _order in ORDERS:
        _words = [w for v in _values for w in reorder(be_bytes(_type, v), _order)]
        NUMERIC_CASES[(_type, _order)] = (TABLE[_type], LAYOUT.put(TABLE[_type], _words), _values, _words)
STRING_CASES = {}    # (text, length, order) -> (address, words)
for _text, _length in STRINGS:
    for _order in STRING_ORDERS:
        _words = string_words(_text, _length, _order)
        STRING_CASES[(_text, _length, _order)] = (LAYOUT.put("holding", _words), _words)
BIT_ADDRESS = LAYOUT.put("holding", BIT_WORDS)
COIL_ADDRESS = 3
LAYOUT.values["coil"][COIL_ADDRESS] = BOOL_PATTERN
DI_ADDRESS = 1000
LAYOUT.values["discrete_input"][DI_ADDRESS] = [1 - b for b in BOOL_PATTERN]
ALL_ORDERS = {  # type -> value with distinct bytes, so the four orders differ
    "int16": -0x1235, "uint16": 0xA5C3, "int32": -0x0EFCDBA9, "uint32": 0x01020304,
    "int64": -0x0123456789ABCDEF, "uint64": 0x0102030405060708, "float32": -3.14159265, "float64": math.pi,
}
ALL_ORDERS_CASES = {t: LAYOUT.put("holding", encode(t, v)) for t, v in ALL_ORDERS.items()}


@pytest.fixture(scope="module")
def plc(tmp_path_factory):
    """One PLC serving every case of this module (each test reads its own block)."""
    if not (TRAMCTL.is_file()):
        pytest.skip(f"tramctl not built at {TRAMCTL}")
    tmp = tmp_path_factory.mktemp("read-types")
    manager = ProcessManager(tmp)
    try:
        plc = _start_plc(manager, tmp, ["--tcp", "127.0.0.1:0"], "tcp", {1: LAYOUT.values}, None, "ignore", ())
        plc.host = "127.0.0.1"
        yield plc
    finally:
        manager.close()


def link(plc) -> list[str]:
    return ["--link", f"tcp://{plc.host}:{plc.port}", "--unit", "1"]


def assert_value(type_: str, expected, got_value, got_bits: str, where: str) -> None:
    bits = expected_bits(type_, expected)
    assert got_bits is not None and int(got_bits, 16) == bits, \
        f"{where}: bits {got_bits} != {bits:#x} (value {expected!r})"
    if type_.startswith("float"):
        f = struct.unpack(">" + ("f" if type_ == "float32" else "d"), be_bytes(type_, expected))[0]
        if math.isnan(f):
            assert isinstance(got_value, str) and "nan" in got_value.lower(), f"{where}: {got_value!r}"
        elif math.isinf(f):
            assert got_value == ("inf" if f > 0 else "-inf"), f"{where}: {got_value!r}"
        else:
            assert isinstance(got_value, (int, float)) and float(got_value) == f, \
                f"{where}: value {got_value!r} != {f!r}"
    else:
        assert isinstance(got_value, int) and not isinstance(got_value, bool) and got_value == expected, \
            f"{where}: value {got_value!r} != {expected!r}"


# ------------------------------------------------------------------- numbers

@pytest.mark.parametrize("type_,order", list(NUMERIC_CASES), ids=[f"{t}-{o}" for t, o in NUMERIC_CASES])
def test_numeric_type_in_order(plc, type_, order):
    table, address, values, words = NUMERIC_CASES[(type_, order)]
    n = REGISTERS[type_]
    rows = read_json(run_tramctl, *link(plc), "--table", table, "--address", address, "--type", type_,
                     "--count", len(values), "--order", order)
    assert len(rows) == len(values)
    for i, (row, value) in enumerate(zip(rows, values)):
        where = f"{type_} {order} #{i} ({value!r}) at {table} {address + i * n}"
        assert row["address"] == address + i * n, where
        assert hexwords(row["words"]) == words[i * n:(i + 1) * n], where
        assert set(row["values"]) == {order}, where
        assert_value(type_, value, row["values"][order], row["bits"].get(order), where)
    # mbpoll sees the same raw words on the wire
    assert mbpoll_read((plc.host, plc.port), 1, table, address, len(words)) == \
        [w for row in rows for w in hexwords(row["words"])]


def test_default_order_is_abcd(plc):
    table, address, values, _ = NUMERIC_CASES[("int32", "ABCD")]
    rows = read_json(run_tramctl, *link(plc), "--table", table, "--address", address, "--type", "int32",
                     "--count", len(values))
    assert [r["values"]["ABCD"] for r in rows] == values


@pytest.mark.parametrize("type_", list(ALL_ORDERS))
def test_all_orders_match_python(plc, type_):
    address = ALL_ORDERS_CASES[type_]
    words = encode(type_, ALL_ORDERS[type_])
    [row] = read_json(run_tramctl, *link(plc), "--table", "holding", "--address", address, "--type", type_,
                      "--all-orders")
    assert hexwords(row["words"]) == words
    shown = row["values"]
    if REGISTERS[type_] == 1:
        # one register: CDAB is ABCD and DCBA is BADC; both byte orders must be shown
        assert {"ABCD", "BADC"} <= set(shown) <= set(ORDERS), shown
    else:
        assert set(shown) == set(ORDERS), shown
    interpretations = set()
    for order in shown:
        be = b"".join(w.to_bytes(2, "big") for w in reorder(b"".join(w.to_bytes(2, "big") for w in words), order))
        expected = decode(type_, words, order)
        assert int(row["bits"][order], 16) == int.from_bytes(be, "big"), (order, row)
        assert_value(type_, BE(be) if type_.startswith("float") else expected, shown[order],
                     row["bits"][order], f"{type_} --all-orders {order}")
        interpretations.add(row["bits"][order])
    assert len(interpretations) == (2 if REGISTERS[type_] == 1 else 4), row


def test_address_base_1_reads_the_same_registers(plc):
    table, address, values, words = NUMERIC_CASES[("float64", "DCBA")]
    rows = read_json(run_tramctl, *link(plc), "--table", table, "--address", address + 1, "--address-base", "1",
                     "--type", "float64", "--order", "DCBA", "--count", len(values))
    assert [w for r in rows for w in hexwords(r["words"])] == words
    assert [int(r["bits"]["DCBA"], 16) for r in rows] == [expected_bits("float64", v) for v in values]


# ------------------------------------------------------------------- strings

@pytest.mark.parametrize("text,length,order", list(STRING_CASES),
                         ids=[f"{l}-{o}-{t.replace(' ', '_')}" for t, l, o in STRING_CASES])
def test_string(plc, text, length, order):
    address, words = STRING_CASES[(text, length, order)]
    [row] = read_json(run_tramctl, *link(plc), "--table", "holding", "--address", address,
                      "--type", f"string({length})", "--order", order)
    assert hexwords(row["words"]) == words
    assert row["values"] == {order: text}
    assert mbpoll_read((plc.host, plc.port), 1, "holding", address, length) == hexwords(row["words"])


def test_string_count_reads_consecutive_strings(plc):
    address, words = STRING_CASES[("ABCD1234", 4, "ABCD")]
    rows = read_json(run_tramctl, *link(plc), "--table", "holding", "--address", address,
                     "--type", "string(2)", "--count", 2)
    assert [r["values"]["ABCD"] for r in rows] == ["ABCD", "1234"]
    assert [r["address"] for r in rows] == [address, address + 2]


# ---------------------------------------------------------------------- bits

@pytest.mark.parametrize("bit", range(16))
def test_bit_of_register(plc, bit):
    rows = read_json(run_tramctl, *link(plc), "--table", "holding", "--address", BIT_ADDRESS,
                     "--type", f"bit({bit})", "--count", len(BIT_WORDS))
    assert [hexwords(r["words"]) for r in rows] == [[w] for w in BIT_WORDS]
    assert [r["values"]["ABCD"] for r in rows] == [bool((w >> bit) & 1) for w in BIT_WORDS], \
        f"bit {bit} of {[hex(w) for w in BIT_WORDS]}"


@pytest.mark.parametrize("table,address,pattern,type_args", [
    ("coil", COIL_ADDRESS, BOOL_PATTERN, ["--type", "bool"]),
    ("coil", COIL_ADDRESS, BOOL_PATTERN, []),          # bool is the default for bit tables
    ("discrete_input", DI_ADDRESS, [1 - b for b in BOOL_PATTERN], ["--type", "bool"]),
    ("discrete_input", DI_ADDRESS, [1 - b for b in BOOL_PATTERN], []),
], ids=["coil", "coil-default-type", "discrete_input", "discrete_input-default-type"])
def test_bool_bits(plc, table, address, pattern, type_args):
    rows = read_json(run_tramctl, *link(plc), "--table", table, "--address", address,
                     "--count", len(pattern), *type_args)
    assert [r["address"] for r in rows] == list(range(address, address + len(pattern)))
    assert [r["values"]["ABCD"] for r in rows] == [bool(b) for b in pattern]
    assert mbpoll_read((plc.host, plc.port), 1, table, address, len(pattern)) == pattern
    # one bit in the middle, alone
    [row] = read_json(run_tramctl, *link(plc), "--table", table, "--address", address + 5, *type_args)
    assert row["values"]["ABCD"] is bool(pattern[5])


def test_bool_read_past_the_last_bit_is_exception_2(plc):
    proc = run_tramctl("read", *link(plc), "--table", "coil", "--address", COIL_ADDRESS,
                       "--count", len(BOOL_PATTERN) + 1, "--json")
    assert proc.returncode != 0
    assert "exception 2" in proc.stderr, proc.stderr


# ------------------------------------------------------------------ via poll

def test_poll_decodes_types_and_orders_from_a_config(plc, tmp_path):
    """The same blocks, read as configured points by `tramctl poll` (the engine's codec path)."""
    pts, expected = [], {}
    for (type_, order), (table, address, values, _) in NUMERIC_CASES.items():
        for i, value in enumerate(values):
            if type_.startswith("float") and math.isnan(struct.unpack(
                    ">" + ("f" if type_ == "float32" else "d"), be_bytes(type_, value))[0]):
                continue  # NaN through poll --json: see test_poll_json_float_specials
            if type_.startswith("float") and math.isinf(float(value)):
                continue
            name = f"{type_}_{order}_{i}"
            pts.append({"name": name, "table": table, "address": address + i * REGISTERS[type_],
                        "type": type_, "order": order})
            expected[name] = (type_, value)
    for (text, length, order), (address, _) in STRING_CASES.items():
        name = f"string_{length}_{order}"
        pts.append({"name": name, "table": "holding", "address": address, "type": "string",
                    "length": length, "order": order})
        expected[name] = ("string", text)
    for i, b in enumerate(BOOL_PATTERN):
        pts.append({"name": f"coil_{i}", "table": "coil", "address": COIL_ADDRESS + i, "type": "bool"})
        expected[f"coil_{i}"] = ("bool", bool(b))
    for bit in range(16):
        pts.append({"name": f"bit_{bit}", "table": "holding", "address": BIT_ADDRESS, "type": "bit", "bit": bit})
        expected[f"bit_{bit}"] = ("bool", bool((BIT_WORDS[0] >> bit) & 1))
    agent = write_agent(tmp_path / "agent.yaml",
                        [{"name": "plc", "url": f"tcp://{plc.host}:{plc.port}"}],
                        [{"name": "types", "link": "plc", "unit": 1, "address_base": 0,
                          "limits": {"max_gap": 0}, "points": pts}])
    [reading] = poll_json(run_tramctl, agent)
    got = points(reading)
    assert reading["health"] == "online", reading.get("last_error")
    assert set(got) == set(expected)
    for name, (type_, value) in expected.items():
        p = got[name]
        assert p["quality"] == "good", p
        if type_ in ("string", "bool"):
            assert p["raw"] == value, p
        else:
            assert_value(type_, value, p["raw"], p["bits"], name)


@pytest.mark.parametrize("bits,extra,quality", [
    (0x7FC00000, {}, "good"),
    (0xFF800000, {}, "good"),
    (0x7FC00000, {"not_available": ["nan"]}, "not_available"),
], ids=["nan", "-inf", "nan-not_available"])
def test_poll_json_float_specials(plc_tcp, tmp_path, bits, extra, quality):
    p = plc_tcp({1: {"input": {0: [bits >> 16, bits & 0xFFFF, 0x4366, 0x6666]}}})
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": p.url}],
                        [{"name": "meter", "link": "l", "unit": 1, "address_base": 0, "points": [
                            {"name": "special", "table": "input", "address": 0, "type": "float32", **extra},
                            {"name": "voltage", "table": "input", "address": 2, "type": "float32", "unit": "V"},
                        ]}])
    [reading] = poll_json(run_tramctl, agent)
    assert reading.get("device") == "meter", reading
    got = points(reading)
    assert got["voltage"]["quality"] == "good"
    assert got["voltage"]["raw"] == struct.unpack(">f", bytes.fromhex("43666666"))[0]
    assert got["special"]["quality"] == quality
    assert int(got["special"]["bits"], 16) == bits
