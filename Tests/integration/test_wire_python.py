"""Wire format v1, checked by an independent Python decoder (tram_wire.py, written from
docs/wire-format.md alone) against the golden vectors in Tests/TramSchemaTests/vectors/.

Needs neither tramctl nor any peer: standard library + pytest only.
"""
from __future__ import annotations

import math
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tram_wire as tw  # noqa: E402
from tram_wire import FloatValue, Missing  # noqa: E402

VECTORS = Path(__file__).resolve().parents[1] / "TramSchemaTests" / "vectors"
SCHEMA_ID = 0x3730411DC17D8009
BASE_TIME = 1764000000000


def read_hex(name: str) -> bytes:
    return bytes.fromhex("".join((VECTORS / name).read_text().split()))


DICT_BYTES = read_hex("dictionary.hex")
BATCH_BYTES = read_hex("batch.hex")
TRAILER_DICT_BYTES = read_hex("dictionary-trailer.hex")
TRAILER_SCHEMA_ID = 0xC75E107AE2B65A01
# vectors/README.md: kinds (energy a counter), intervals (incomer 1000 ms, pv 60000 ms), batch max age 10000 ms
TRAILER = bytes.fromhex("01 06 000100000000  02 0f e807e807e807 e0d403e0d403e0d403  03 02 904e")


@pytest.fixture(scope="module")
def dictionary() -> tw.Dictionary:
    frame, size = tw.decode_frame(DICT_BYTES)
    assert size == len(DICT_BYTES)
    return frame


@pytest.fixture(scope="module")
def dicts(dictionary) -> dict[int, tw.Dictionary]:
    return {dictionary.schema_id: dictionary}


# ---------------------------------------------------------------- builders (test side)

def frame(kind: int, payload: bytes, *, magic: bytes = b"TR", version: int = 1, flags: int = 0) -> bytes:
    body = magic + bytes([version, kind, flags]) + len(payload).to_bytes(4, "little") + payload
    return body + tw.crc32c(body).to_bytes(4, "little")


def s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return tw.encode_uvarint(len(raw)) + raw


def u(n: int) -> bytes:
    return tw.encode_uvarint(n)


def z(n: int) -> bytes:
    return tw.encode_svarint(n)


TYPE_CODES = {name: code for code, name in tw.TYPE_NAMES.items()}


def point(device: str, name: str, type_name: str, *, unit: str = "", scale: float = 1.0,
          offset: float = 0.0, exp_alias: int | None = None, type_code: int | None = None) -> bytes:
    code = TYPE_CODES[type_name] if type_code is None else type_code
    return (s(device) + s(name) + s(unit) + bytes([code]) + struct.pack("<dd", scale, offset)
            + u(0 if exp_alias is None else exp_alias + 1))


def dict_payload(gateway: str, points: list[bytes], *, count: int | None = None,
                 trailing: bytes = b"", schema_id: int | None = None) -> bytes:
    content = s(gateway) + u(len(points) if count is None else count) + b"".join(points) + trailing
    sid = tw.fnv1a64(content) if schema_id is None else schema_id
    return sid.to_bytes(8, "little") + content


def group(values: bytes, *, dt: int = 0, clock: int = 1, first: int = 0, count: int,
          missing: bytes = b"", n_missing: int = 0) -> bytes:
    return z(dt) + bytes([clock]) + u(first) + u(count) + u(n_missing) + missing + values


def batch_payload(groups: list[bytes], *, schema_id: int = SCHEMA_ID, gateway: str = "gw-demo",
                  epoch: int = 3, sequence: int = 42, base: int = BASE_TIME,
                  group_count: int | None = None, trailing: bytes = b"") -> bytes:
    n = len(groups) if group_count is None else group_count
    return (s(gateway) + u(epoch) + u(sequence) + schema_id.to_bytes(8, "little") + z(base)
            + n.to_bytes(4, "little") + b"".join(groups) + trailing)


def batch(groups: list[bytes], **kw) -> bytes:
    return frame(tw.KIND_BATCH, batch_payload(groups, **kw))


def f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


# The points of the golden dictionary, as the builders write them
GOLDEN_POINTS = [
    point("incomer", "voltage_l1", "float32", unit="V"),
    point("incomer", "energy", "uint32", unit="kWh", scale=0.1),
    point("incomer", "breaker_closed", "bool"),
    point("pv", "power", "int16", unit="W", exp_alias=4),
    point("pv", "w_sf", "int16"),
    point("pv", "model", "string"),
]

# Group-1 values of the demo dictionary (float32, uint32, bool), as in the vectors
G1_VALUES = bytes.fromhex("814801 f2c001 01")


# ---------------------------------------------------------------------------- primitives

def test_crc32c_check_value():
    assert tw.crc32c(b"123456789") == 0xE3069283
    assert tw.crc32c(b"") == 0
    assert tw.crc32c(bytes(32)) == 0x8A9136AA        # RFC 3720 B.4
    assert tw.crc32c(b"\xff" * 32) == 0x62A8AB43


def test_fnv1a64_known_values():
    assert tw.fnv1a64(b"") == 0xCBF29CE484222325
    assert tw.fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert tw.fnv1a64(b"foobar") == 0x85944171F73967E8


@pytest.mark.parametrize("n, encoded", [
    (0, "00"), (-1, "01"), (1, "02"), (-2, "03"), (63, "7e"), (-64, "7f"), (64, "8001"),
    (12345, "f2c001"), (2304, "8024"),
    ((1 << 63) - 1, "feffffffffffffffff01"), (-(1 << 63), "ffffffffffffffffff01"),
])
def test_svarint(n, encoded):
    assert tw.encode_svarint(n).hex() == encoded
    r = tw._Reader(bytes.fromhex(encoded), "t")
    assert r.svarint("x") == n and r.left == 0


def test_uvarint_limits():
    assert tw._Reader(bytes.fromhex("ffffffffffffffffff01"), "t").uvarint("x") == (1 << 64) - 1
    with pytest.raises(ValueError, match="longer than 10"):
        tw._Reader(b"\x80" * 10 + b"\x00", "t").uvarint("x")
    with pytest.raises(ValueError, match="64 bits"):
        tw._Reader(bytes.fromhex("ffffffffffffffffff02"), "t").uvarint("x")
    with pytest.raises(ValueError, match="past the end"):
        tw._Reader(b"\x80\x80", "t").uvarint("x")


# ---------------------------------------------------------------------- golden vectors

def test_dictionary_vector(dictionary):
    assert DICT_BYTES[9:17] == bytes.fromhex("09 80 7d c1 1d 41 30 37")
    assert dictionary.gateway == "gw-demo"
    assert dictionary.schema_id == SCHEMA_ID
    expected = [
        # alias, device, name, unit, type, scale, offset, exponent alias
        (0, "incomer", "voltage_l1", "V", "float32", 1.0, 0.0, None),
        (1, "incomer", "energy", "kWh", "uint32", 0.1, 0.0, None),
        (2, "incomer", "breaker_closed", "", "bool", 1.0, 0.0, None),
        (3, "pv", "power", "W", "int16", 1.0, 0.0, 4),
        (4, "pv", "w_sf", "", "int16", 1.0, 0.0, None),
        (5, "pv", "model", "", "string", 1.0, 0.0, None),
    ]
    got = [(p.alias, p.device, p.name, p.unit, p.type, p.scale, p.offset, p.exponent_alias)
           for p in dictionary.points]
    assert got == expected
    assert f64(dictionary.points[1].scale) == f64(0.1)   # bit-exact 0x3FB999999999999A


def test_schema_id_is_fnv1a_of_the_rest_of_the_payload():
    payload = DICT_BYTES[9:-4]
    assert tw.fnv1a64(payload[8:]) == SCHEMA_ID == int.from_bytes(payload[:8], "little")


def test_batch_vector(dicts):
    b, size = tw.decode_frame(BATCH_BYTES, dicts)
    assert size == len(BATCH_BYTES)
    assert isinstance(b, tw.Batch)
    assert (b.gateway, b.epoch, b.sequence, b.schema_id, b.base_time_ms) == \
        ("gw-demo", 3, 42, SCHEMA_ID, 1764000000000)
    assert len(b.groups) == 4
    g1, g2, g3, g4 = b.groups

    assert g1.time_ms == 1764000000000
    assert (g1.synchronised, g1.stepped, g1.clock_flags) == (True, False, 1)
    assert list(g1.aliases) == [0, 1, 2]
    assert g1.values == (("float32", 0x43666666), 12345, True)
    assert g1.values[0].value == struct.unpack("<f", struct.pack("<f", 230.4))[0]
    assert g1.values[2] is True

    assert g2.time_ms == 1764000001000
    assert (g2.synchronised, g2.stepped) == (True, False)
    assert list(g2.aliases) == [0, 1, 2]
    assert g2.values == (("float32", 0x43668000), 12347, True)
    assert g2.values[0].value == 230.5

    assert g3.time_ms == 1764000001003
    assert (g3.synchronised, g3.stepped, g3.clock_flags) == (True, True, 3)
    assert list(g3.aliases) == [3, 4, 5]
    assert g3.values == (17822, -1, "SE7600")

    assert g4.time_ms == 1764000002001
    assert (g4.synchronised, g4.stepped) == (True, False)
    assert list(g4.aliases) == [0, 1, 2]
    nan, miss, closed = g4.values
    assert nan == ("float32", 0x7FC00000) and math.isnan(nan.value)
    assert miss == ("missing", "exception", 2)
    assert isinstance(miss, Missing) and miss.exception_code == 2
    assert closed is False

    for g in b.groups:   # exact Python types
        for v in g.values:
            assert type(v) in (bool, int, str, FloatValue, Missing)


V2_BATCH_BYTES = read_hex("batch-v2.hex")


def test_version_2_batch_vector(dicts):
    """vectors/README.md, batch-v2.hex: every rule version 2 adds to a batch."""
    b, size = tw.decode_frame(V2_BATCH_BYTES, dicts)
    assert size == len(V2_BATCH_BYTES) and V2_BATCH_BYTES[2] == 2
    assert (b.version, b.epoch, b.sequence, b.dropped) == (2, 3, 43, ((30, 5), (40, 1)))
    g1, g2, g3 = b.groups
    assert (g1.snapshot, g1.synchronised, g1.clock_flags, list(g1.aliases)) == (True, True, 1, [0, 1, 2])
    assert g1.values == (("float32", 0x43666666), 12345, True)
    assert (g2.snapshot, g2.clock_flags, g2.time_ms) == (False, 1, 1764000001000)
    assert list(g2.aliases) == [1, 4] and g2.first_alias == 1
    assert g2.values == (12350, ("missing", "absent", None))
    assert (g3.clock_flags, list(g3.aliases)) == (0, [3, 4, 5])
    assert g3.values == (("missing", "disabled", None), ("missing", "not_ready", None), "SE7600")


def test_version_2_rules_are_not_read_into_version_1(dicts):
    """The same payload as version 1: the new quality codes are unknown there (rejected, never misread); a
    version-1 payload as version 2 lacks the dropped-range count."""
    with pytest.raises(ValueError):
        tw.decode_frame(frame(tw.KIND_BATCH, vector_payload(V2_BATCH_BYTES), version=1), dicts)
    with pytest.raises(ValueError, match="dropped range count"):
        tw.decode_frame(frame(tw.KIND_BATCH, vector_payload(BATCH_BYTES), version=2), dicts)


def test_walk_through_of_group_1():
    assert BATCH_BYTES[37:49] == bytes.fromhex("00 01 00 03 00 81 48 01 f2 c0 01 01")
    head = tw._Reader(bytes.fromhex("8148"), "t").uvarint("head")
    assert head == 9217 and head & 1 and head >> 1 == 4608 and tw.unzigzag(4608) == 2304


def test_engineering_values(dictionary, dicts):
    b, _ = tw.decode_frame(BATCH_BYTES, dicts)
    p = dictionary.points
    g1, _, g3, g4 = b.groups
    assert tw.engineering_value(p[1], 12345) == 1234.5
    assert tw.engineering_value(p[1], 473) == 47.3               # scale 0.1 applied as ÷ 10: not 47.300000000000004
    assert tw.engineering_value(p[0], g1.values[0]) == g1.values[0].value
    assert tw.engineering_value(p[3], 17822, -1) == 1782.2       # power × 10^w_sf
    assert tw.engineering_value(p[3], 17822, 2) == 1782200.0
    assert tw.engineering_value(p[3], 17822, None) is None       # exponent not read
    assert tw.engineering_value(p[1], g4.values[1]) is None      # missing raw
    assert math.isnan(tw.engineering_value(p[0], g4.values[0]))
    with pytest.raises(ValueError):
        tw.engineering_value(p[2], True)
    readings = tw.group_readings(dictionary, g3)
    assert [(pt.name, raw, eng) for pt, raw, eng in readings] == \
        [("power", 17822, 1782.2), ("w_sf", -1, -1.0), ("model", "SE7600", None)]


def test_back_to_back_frames_and_trailing_input(dicts):
    both = DICT_BYTES + BATCH_BYTES
    frames = tw.decode_frames(both)
    assert [type(f) for f in frames] == [tw.Dictionary, tw.Batch]
    f, size = tw.decode_frame(BATCH_BYTES + b"\x54\x52", dicts)
    assert size == len(BATCH_BYTES) and f.sequence == 42


def test_builders_reproduce_the_vectors():
    """The test-side builders below write exactly the golden bytes, so hand-built invalid frames
    differ from valid ones only where intended."""
    assert frame(tw.KIND_DICTIONARY, dict_payload("gw-demo", GOLDEN_POINTS)) == DICT_BYTES
    groups = [
        group(G1_VALUES, count=3),
        group(bytes.fromhex("04 04 01"), dt=1000, count=3),
        group(z(17822) + z(-1) + s("SE7600"), dt=3, clock=3, first=3, count=3),
        group(bytes.fromhex("01ff 0000c07f 00"), dt=998, count=3, n_missing=1,
              missing=bytes.fromhex("01 02 02")),
    ]
    assert batch(groups) == BATCH_BYTES


# ------------------------------------------------------------------ corruption sweeps

@pytest.mark.parametrize("name", ["dictionary.hex", "batch.hex", "dictionary-trailer.hex", "batch-v2.hex"])
@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_every_single_byte_flip_is_rejected(name, mask, dicts):
    data = read_hex(name)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= mask
        with pytest.raises(ValueError) as err:
            tw.decode_frame(bytes(bad), dicts)
        if i >= 9:   # past the header the checksum (or, for the length field, the length) catches it
            assert "checksum" in str(err.value) or "beyond the input" in str(err.value), (i, err.value)
        if 5 <= i < 9:
            assert "checksum" in str(err.value) or "beyond" in str(err.value), (i, err.value)


@pytest.mark.parametrize("name", ["dictionary.hex", "batch.hex", "dictionary-trailer.hex", "batch-v2.hex"])
def test_every_truncation_is_rejected(name, dicts):
    data = read_hex(name)
    for n in range(len(data)):
        with pytest.raises(ValueError):
            tw.decode_frame(data[:n], dicts)


# ------------------------------------------------------ envelope errors with a valid CRC

def vector_payload(data: bytes) -> bytes:
    return data[9:-4]


@pytest.mark.parametrize("kw, message", [
    (dict(magic=b"TS"), "bad magic"),
    (dict(version=3), "unknown format version"),
    (dict(version=0), "unknown format version"),
    (dict(flags=1), "must be decompressed first"),
    (dict(flags=0x80), "other bits are undefined"),
])
def test_envelope_rejections(kw, message, dicts):
    bad = frame(tw.KIND_BATCH, vector_payload(BATCH_BYTES), **kw)
    with pytest.raises(ValueError, match=message):
        tw.decode_frame(bad, dicts)


def test_unknown_version_is_its_own_error(dicts):
    with pytest.raises(tw.UnsupportedVersion):
        tw.decode_frame(frame(tw.KIND_BATCH, vector_payload(BATCH_BYTES), version=3), dicts)


@pytest.mark.parametrize("kind", [0, 3, 255])
def test_unknown_kind(kind, dicts):
    with pytest.raises(ValueError, match="unknown frame kind"):
        tw.decode_frame(frame(kind, vector_payload(BATCH_BYTES)), dicts)


def test_length_beyond_input(dicts):
    bad = bytearray(BATCH_BYTES)
    bad[5:9] = (0xFFFFFFFF).to_bytes(4, "little")
    with pytest.raises(ValueError, match="beyond the input"):
        tw.decode_frame(bytes(bad), dicts)


def test_batch_needs_its_dictionary():
    with pytest.raises(ValueError, match="no dictionary for schema id 0x3730411dc17d8009"):
        tw.decode_frame(BATCH_BYTES, {})


# --------------------------------------------------- batch payload errors, valid CRC

def test_patched_vector_payloads(dicts):
    """Single-field corruptions of the golden batch, re-checksummed."""
    payload = vector_payload(BATCH_BYTES)

    def patched(frame_offset: int, new: bytes, length: int | None = None) -> bytes:
        p = bytearray(payload)
        i = frame_offset - 9
        p[i:i + (len(new) if length is None else length)] = new
        return frame(tw.KIND_BATCH, bytes(p))

    cases = [
        (patched(48, b"\x02"), "bool byte 2"),                       # group 1 breaker_closed = 2
        (patched(48, b"\xff"), "bool byte 255"),
        (patched(44, b"\x07"), "float exponent 7 above 6"),           # group 1 voltage exponent
        (patched(44, b"\xfe"), "float exponent 254 above 6"),
        (patched(83, b"\x03"), "raw float head must be 1"),           # group 4 voltage head 01 -> 03
        (patched(81, b"\x00"), "unknown quality code 0"),              # group 4 missing quality
        (patched(81, b"\x08"), "unknown quality code 8"),
        (patched(80, b"\x03"), "missing offset 3 out of range"),
        (patched(77, b"\x04"), r"aliases 4 \.\.< 7 outside"),          # group 4 first alias
        (patched(78, b"\x07"), "outside the dictionary"),              # group 4 count 7
        (patched(33, (5).to_bytes(4, "little"), 4), "stray|needs|left|varint"),   # 5 groups
        (patched(33, (1000).to_bytes(4, "little"), 4), "group count 1000 is larger"),
        (patched(33, (3).to_bytes(4, "little"), 4), "stray bytes after the last group"),
        (patched(19, b"\x00" * 8, 8), "no dictionary"),                 # schema id zeroed
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            tw.decode_frame(data, dicts)


def test_stray_trailing_byte(dicts):
    payload = vector_payload(BATCH_BYTES) + b"\x00"
    with pytest.raises(ValueError, match="1 stray bytes after the last group"):
        tw.decode_frame(frame(tw.KIND_BATCH, payload), dicts)


def test_missing_offset_repeated(dicts):
    g = group(G1_VALUES[:3] + b"\x01", count=3, n_missing=2, missing=bytes.fromhex("01 02 02 01 03"))
    with pytest.raises(ValueError, match="missing offset 1 repeated"):
        tw.decode_frame(batch([g]), dicts)
    # the same group with distinct offsets decodes (offsets in either order)
    ok = group(G1_VALUES[:3], count=3, n_missing=2, missing=bytes.fromhex("02 03 01 02 02"))
    b, _ = tw.decode_frame(batch([ok]), dicts)
    assert b.groups[0].values == (("float32", 0x43666666), ("missing", "exception", 2),
                                  ("missing", "timeout", None))
    with pytest.raises(ValueError, match="missing count 4 exceeds count 3"):
        tw.decode_frame(batch([group(b"", count=3, n_missing=4, missing=bytes(12))]), dicts)


def test_every_quality_name(dicts):
    missing = b"".join(u(i) + bytes([q]) + (b"\x0b" if q == 2 else b"") for i, q in enumerate(range(1, 7)))
    g = group(b"", first=0, count=6, n_missing=6, missing=missing)
    b, _ = tw.decode_frame(batch([g]), dicts)
    assert [v.quality for v in b.groups[0].values] == [
        "not_available", "exception", "timeout", "link_down", "io_error", "unsupported"]
    assert b.groups[0].values[1] == ("missing", "exception", 11)
    g = group(b"", first=5, count=1, n_missing=1, missing=b"\x00\x07")
    assert tw.decode_frame(batch([g]), dicts)[0].groups[0].values == (("missing", "unexpected", None),)


def test_integers_outside_their_type(dicts):
    power = lambda v: group(v + z(0) + s("x"), first=3, count=3)   # noqa: E731
    assert tw.decode_frame(batch([power(z(32767))]), dicts)[0].groups[0].values[0] == 32767
    assert tw.decode_frame(batch([power(z(-32768))]), dicts)[0].groups[0].values[0] == -32768
    for v in (32768, -32769, 1 << 40):
        with pytest.raises(ValueError, match="outside int16"):
            tw.decode_frame(batch([power(z(v))]), dicts)
    energy = lambda d: group(fhead(0, 0) + z(d) + b"\x01", count=3)   # noqa: E731  (float 0.0, exponent 0)
    assert tw.decode_frame(batch([energy(0xFFFFFFFF)]), dicts)[0].groups[0].values[1] == 0xFFFFFFFF
    for d in (-1, 1 << 32):
        with pytest.raises(ValueError, match="outside uint32"):
            tw.decode_frame(batch([energy(d)]), dicts)
    # deltas are against the previous value of the same alias, within the batch
    ok = [energy(0xFFFFFFF0), energy(0x0F)]
    assert [g.values[1] for g in tw.decode_frame(batch(ok), dicts)[0].groups] == [0xFFFFFFF0, 0xFFFFFFFF]
    with pytest.raises(ValueError, match="outside uint32"):
        tw.decode_frame(batch([energy(0xFFFFFFF0), energy(0x10)]), dicts)


def test_mantissa_limit(dicts):
    def volt(m: int) -> bytes:   # first float: cleared state, explicit exponent 0
        return group(u((tw.zigzag(m) << 1) | 1) + b"\x00" + b"\x00\x01", count=3)
    limit = 1 << 53
    b, _ = tw.decode_frame(batch([volt(limit - 1)]), dicts)
    assert b.groups[0].values[0] == ("float32", f32(float(limit - 1)))
    for m in (limit, -limit, 1 << 60):
        with pytest.raises(ValueError, match="at or beyond 2\\^53"):
            tw.decode_frame(batch([volt(m)]), dicts)
    # reaching the limit by a delta-only head on the previous mantissa
    with pytest.raises(ValueError, match="at or beyond 2\\^53"):
        step = group(u(tw.zigzag(1) << 1) + b"\x00\x01", count=3)
        tw.decode_frame(batch([volt(limit - 1), step]), dicts)


def test_varint_longer_than_ten_bytes(dicts):
    payload = bytearray(vector_payload(BATCH_BYTES))
    payload[8:9] = b"\x83" + b"\x80" * 9 + b"\x00"      # epoch 3 as an 11-byte varint
    with pytest.raises(ValueError, match="longer than 10 bytes"):
        tw.decode_frame(frame(tw.KIND_BATCH, bytes(payload)), dicts)
    payload = bytearray(vector_payload(BATCH_BYTES))
    payload[8:9] = b"\x83" + b"\x80" * 8 + b"\x00"      # 10 bytes (overlong, not forbidden)
    assert tw.decode_frame(frame(tw.KIND_BATCH, bytes(payload)), dicts)[0].epoch == 3


def test_invalid_utf8_string(dicts):
    g = group(z(1) + z(0) + s(b"\xff\xfe"), first=3, count=3)
    with pytest.raises(ValueError, match="not UTF-8"):
        tw.decode_frame(batch([g]), dicts)


def test_string_longer_than_payload(dicts):
    g = group(z(1) + z(0) + u(50) + b"abc", first=3, count=3)
    with pytest.raises(ValueError, match="needs 50 bytes"):
        tw.decode_frame(batch([g]), dicts)


# ----------------------------------------------------------- dictionary errors, valid CRC

DEMO_POINTS = [
    point("incomer", "voltage_l1", "float32", unit="V"),
    point("pv", "power", "int16", unit="W", exp_alias=2),
    point("pv", "w_sf", "int16"),
]


def test_dictionary_rejections():
    ok = frame(tw.KIND_DICTIONARY, dict_payload("gw", DEMO_POINTS))
    d, _ = tw.decode_frame(ok)
    assert [p.exponent_alias for p in d.points] == [None, 2, None]

    cases = [
        (dict_payload("gw", DEMO_POINTS, schema_id=SCHEMA_ID), "does not match the FNV-1a 64"),
        (dict_payload("gw", DEMO_POINTS, trailing=b"\x00"), "tag 0 is reserved"),
        (dict_payload("gw", DEMO_POINTS[:1] + [point("pv", "p", "int16", exp_alias=3)]
                      + DEMO_POINTS[2:]), "exponent alias 3, outside"),
        (dict_payload("gw", DEMO_POINTS + [point("a", "b", "int16", type_code=11)]), "unknown type code 11"),
        (dict_payload("gw", DEMO_POINTS + [point("a", "b", "int16", type_code=0)]), "unknown type code 0"),
        (dict_payload("gw", DEMO_POINTS, count=100000), "point count 100000 is larger"),
        (dict_payload("gw", DEMO_POINTS, count=4), "needs|left|varint"),
        (dict_payload("gw", [point("dev", b"\xff\xfe", "bool")]),
         "not UTF-8"),
    ]
    for payload, message in cases:
        with pytest.raises(ValueError, match=message):
            tw.decode_frame(frame(tw.KIND_DICTIONARY, payload))
    # the schema id covers every byte after it: change one and the old id no longer fits
    tampered = bytearray(dict_payload("gw", DEMO_POINTS))
    tampered[-1] ^= 1
    with pytest.raises(ValueError, match="does not match"):
        tw.decode_frame(frame(tw.KIND_DICTIONARY, bytes(tampered)))


# ------------------------------------------------- every type, through a fresh dictionary

ALL_TYPES = ["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"]


@pytest.fixture(scope="module")
def all_types():
    d, _ = tw.decode_frame(frame(tw.KIND_DICTIONARY,
                                 dict_payload("gw-all", [point("d", t, t) for t in ALL_TYPES])))
    assert [p.type for p in d.points] == ALL_TYPES
    return d


def all_types_batch(d, groups: list[bytes]) -> tw.Batch:
    return tw.decode_frame(batch(groups, schema_id=d.schema_id, gateway="gw-all"), {d.schema_id: d})[0]


def fhead(delta: int, k: int | None = None) -> bytes:
    if k is None:
        return u(tw.zigzag(delta) << 1)
    return u((tw.zigzag(delta) << 1) | 1) + bytes([k])


def test_all_types_extremes(all_types):
    values = (b"\x01" + z(-(1 << 15)) + z(0xFFFF) + z(-(1 << 31)) + z(0xFFFFFFFF)
              + z(-(1 << 63)) + z(-1)                       # uint64 max: pattern 0 - 1
              + b"\x01\xff" + (0x7F800000).to_bytes(4, "little")           # float32 +inf raw
              + b"\x01\xff" + (0x8000000000000000).to_bytes(8, "little")   # float64 -0.0 raw
              + s("Grüße ⚡"))
    b = all_types_batch(all_types, [group(values, count=10)])
    assert b.groups[0].values == (True, -32768, 65535, -(1 << 31), 0xFFFFFFFF, -(1 << 63), (1 << 64) - 1,
                                  ("float32", 0x7F800000), ("float64", 1 << 63), "Grüße ⚡")
    # int64 wraps: min - 1 -> max
    b = all_types_batch(all_types, [group(values, count=10),
                                    group(z(-1), first=5, count=1)])
    assert b.groups[1].values == ((1 << 63) - 1,)


def test_uint16_and_int32_ranges(all_types):
    for alias, delta, t in ((2, 0x10000, "uint16"), (2, -1, "uint16"), (3, 1 << 31, "int32")):
        with pytest.raises(ValueError, match=f"outside {t}"):
            all_types_batch(all_types, [group(z(delta), first=alias, count=1)])


def test_float_decimal_forms(all_types):
    """Rescaling between exponents, truncating division, cleared state after raw bits."""
    F32, F64 = 7, 8   # aliases
    groups = [
        group(fhead(2304, 1), first=F32, count=1),                  # 230.4  (m 2304, k 1)
        group(fhead(1), first=F32, count=1),                              # 230.5  (m 2305, k 1)
        group(fhead(3, 3), first=F32, count=1),                           # rescale 2305 -> 230500, +3 = 230.503
        group(fhead(-7, 1), first=F32, count=1),                          # 230503 / 100 = 2305 (trunc), -7 = 229.8
        group(b"\x01\xff" + (0x7FC00001).to_bytes(4, "little"), first=F32, count=1),   # NaN payload raw
        group(fhead(5, 2), first=F32, count=1),                           # cleared -> 0, +5 = 0.05
        group(fhead(-123456, 6), first=F64, count=1),                     # -0.123456 (float64)
        group(fhead(0, 0), first=F64, count=1),                           # rescale -123456 /10^6 -> 0 (trunc toward 0)
        group(fhead(-1, 5), first=F64, count=1),                          # 0*10^5 - 1 = -0.00001
    ]
    vals = [g.values[0] for g in all_types_batch(all_types, groups).groups]
    assert vals == [
        ("float32", f32(230.4)), ("float32", f32(230.5)), ("float32", f32(230.503)),
        ("float32", f32(229.8)), ("float32", 0x7FC00001), ("float32", f32(0.05)),
        ("float64", f64(-0.123456)), ("float64", f64(0.0)), ("float64", f64(-0.00001)),
    ]
    # -23055 at k=1 down to k=0 truncates toward zero: -2305 (floor would give -2306)
    b = all_types_batch(all_types, [group(fhead(-23055, 1), first=F64, count=1),
                                    group(fhead(0, 0), first=F64, count=1)])
    assert [g.values[0] for g in b.groups] == [("float64", f64(-2305.5)), ("float64", f64(-2305.0))]
    # a rescale that leaves ±2^53 gives 0
    b = all_types_batch(all_types, [group(fhead((1 << 52) + 1, 0), first=F64, count=1),
                                    group(fhead(7, 1), first=F64, count=1)])
    assert [g.values[0] for g in b.groups] == [("float64", f64(float((1 << 52) + 1))), ("float64", f64(0.7))]


def test_previous_state_resets_every_batch(all_types):
    g = group(fhead(1), first=7, count=1)
    for _ in range(2):   # a fresh batch has no float exponent yet: a delta-only head is an error every time
        with pytest.raises(ValueError, match="without an exponent"):
            all_types_batch(all_types, [g])
    g = group(fhead(10, 1), first=7, count=1)
    for _ in range(2):   # an explicit exponent starts from 0 in every batch
        assert all_types_batch(all_types, [g]).groups[0].values == (("float32", f32(1.0)),)
    g = group(z(5), first=1, count=1)
    assert all_types_batch(all_types, [g, g]).groups[1].values == (10,)
    assert all_types_batch(all_types, [g]).groups[0].values == (5,)


def test_group_times(all_types):
    groups = [group(b"", dt=-5, count=0), group(b"", dt=10, clock=0, count=0),
              group(b"", dt=-1, clock=2, count=0)]
    b = all_types_batch(all_types, groups)
    assert [(g.time_ms, g.synchronised, g.stepped) for g in b.groups] == [
        (BASE_TIME - 5, True, False), (BASE_TIME + 5, False, False), (BASE_TIME + 4, False, True)]


# ------------------------------------------------------------------ dictionary trailer

def golden_with_trailer(trailer: bytes) -> bytes:
    """The golden dictionary's gateway and points followed by `trailer`, schema id and CRC right."""
    return frame(tw.KIND_DICTIONARY, dict_payload("gw-demo", GOLDEN_POINTS, trailing=trailer))


def test_plain_vector_has_no_trailer(dictionary):
    assert [(p.kind, p.interval_ms) for p in dictionary.points] == [("gauge", None)] * 6
    assert dictionary.batch_max_age_ms is None


def test_trailer_vector():
    d, size = tw.decode_frame(TRAILER_DICT_BYTES)
    assert size == len(TRAILER_DICT_BYTES)
    assert TRAILER_DICT_BYTES == golden_with_trailer(TRAILER)
    assert TRAILER_DICT_BYTES[9:17] == bytes.fromhex("01 5a b6 e2 7a 10 5e c7")
    assert d.schema_id == TRAILER_SCHEMA_ID != SCHEMA_ID
    assert [p.kind for p in d.points] == ["gauge", "counter", "gauge", "gauge", "gauge", "gauge"]
    assert [p.interval_ms for p in d.points] == [1000, 1000, 1000, 60000, 60000, 60000]
    assert d.batch_max_age_ms == 10000
    # the points themselves are the plain vector's
    plain, _ = tw.decode_frame(DICT_BYTES)
    strip = lambda p: (p.alias, p.device, p.name, p.unit, p.type, p.scale, p.offset, p.exponent_alias)  # noqa: E731
    assert [strip(p) for p in d.points] == [strip(p) for p in plain.points]
    # the batch vector decodes the same under either dictionary (the trailer says nothing about decoding)
    b1, _ = tw.decode_frame(BATCH_BYTES, {SCHEMA_ID: plain})
    b2, _ = tw.decode_frame(BATCH_BYTES, {SCHEMA_ID: d})
    assert b1.groups == b2.groups and b1.groups[0].values == (("float32", 0x43666666), 12345, True)


def test_invalid_vectors():
    with pytest.raises(ValueError, match="length 5 overruns the 2 bytes left"):
        tw.decode_frame(read_hex("invalid-trailer-overrun.hex"))
    assert read_hex("invalid-trailer-overrun.hex") == golden_with_trailer(bytes.fromhex("03 05 904e"))
    with pytest.raises(ValueError, match="point 5: unknown kind 2"):
        tw.decode_frame(read_hex("invalid-point-kind.hex"))
    assert read_hex("invalid-point-kind.hex") == golden_with_trailer(bytes.fromhex("01 06 000100000002"))


def test_each_section_alone():
    d, _ = tw.decode_frame(golden_with_trailer(bytes.fromhex("03 01 05")))
    assert d.batch_max_age_ms == 5 and {p.kind for p in d.points} == {"gauge"}
    d, _ = tw.decode_frame(golden_with_trailer(bytes.fromhex("02 06 00 00 00 00 00 64")))
    assert [p.interval_ms for p in d.points] == [None] * 5 + [100]
    d, _ = tw.decode_frame(golden_with_trailer(bytes.fromhex("02 06 000000000000 03 01 00")))
    assert [p.interval_ms for p in d.points] == [None] * 6 and d.batch_max_age_ms is None   # 0 = unknown


def test_unknown_sections_are_skipped():
    trailer = bytes.fromhex("01 06 000100000000  04 03 aabbcc  07 00")
    data = golden_with_trailer(trailer)
    d, _ = tw.decode_frame(data)
    assert [p.kind for p in d.points] == ["gauge", "counter", "gauge", "gauge", "gauge", "gauge"]
    assert d.schema_id == tw.fnv1a64(data[17:-4])      # the id covers the skipped bytes too
    d, _ = tw.decode_frame(golden_with_trailer(bytes.fromhex("7f 00")))
    assert d.batch_max_age_ms is None


@pytest.mark.parametrize("trailer, message", [
    ("00 00", "tag 0 is reserved"),
    ("03 01 05 03 01 05", "tag 3 does not follow tag 3"),
    ("03 01 05 01 06 000000000000", "tag 1 does not follow tag 3"),
    ("01 05 0000000000", "5 bytes for 6 points"),
    ("01 07 00000000000000", "7 bytes for 6 points"),
    ("02 05 0101010101", "varint runs past the end"),
    ("02 07 01010101010101", "1 stray bytes after 6 points"),
    ("03 02 0500", "1 stray bytes after the value"),
    ("03 00", "varint runs past the end"),
    ("09", "length: varint runs past the end"),
    ("09 ffffffff0f", "overruns the 0 bytes left"),
    ("01 06 00 01 00 00 00 ff", "point 5: unknown kind 255"),
])
def test_malformed_trailers(trailer, message):
    with pytest.raises(ValueError, match=message):
        tw.decode_frame(golden_with_trailer(bytes.fromhex(trailer)))
