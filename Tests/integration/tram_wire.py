"""Independent decoder for Tram wire format v1, written from docs/wire-format.md alone.

Standard library only (Python 3.11).  It exists to show that the spec can be implemented
without reading Sources/TramSchema; test_wire_python.py checks it against the golden vectors
in Tests/TramSchemaTests/vectors/.

    frame, size = decode_frame(data, dictionaries)   # dictionaries: {schema_id: Dictionary}

`frame` is a `Dictionary` or a `Batch`; `size` is the number of bytes the frame took (data may
continue with further frames).  Every violation of the format raises `ValueError`.

Values in `Group.values` (one per alias first_alias ..< first_alias + count, in alias order):
    bool                         -> bool
    int16 … uint64               -> int
    string                       -> str
    float32 / float64            -> FloatValue(kind, bits), a NamedTuple equal to ("float32", bits);
                                    .value is the Python float
    missing                      -> Missing("missing", quality_name, exception_code or None)

Choices the spec leaves open are marked "GUESS" below (see the report that came with this file).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple, Union

__all__ = [
    "FORMAT_VERSION", "KIND_DICTIONARY", "KIND_BATCH", "TYPE_NAMES", "QUALITY_NAMES", "KIND_NAMES",
    "UnsupportedVersion", "FloatValue", "Missing", "Point", "Dictionary", "Group", "Batch",
    "crc32c", "fnv1a64", "zigzag", "unzigzag", "encode_uvarint", "encode_svarint",
    "decode_frame", "decode_frames", "engineering_value", "group_readings",
]

FORMAT_VERSION = 2          # the newest version this decoder knows
FORMAT_VERSIONS = (1, 2)
KIND_DICTIONARY = 1
KIND_BATCH = 2
MAGIC = b"TR"
HEADER_SIZE = 9
CRC_SIZE = 4

TYPE_NAMES = {
    1: "bool", 2: "int16", 3: "uint16", 4: "int32", 5: "uint32",
    6: "int64", 7: "uint64", 8: "float32", 9: "float64", 10: "string",
}
QUALITY_NAMES = {
    1: "not_available", 2: "exception", 3: "timeout", 4: "link_down",
    5: "io_error", 6: "unsupported", 7: "unexpected",
    8: "disabled", 9: "absent", 10: "not_ready",     # version 2 only
}
V2_QUALITIES = (8, 9, 10)
GROUP_SNAPSHOT = 1 << 2   # version 2 group flag bits
GROUP_SPARSE = 1 << 3
QUALITY_EXCEPTION = 2
KIND_NAMES = {0: "gauge", 1: "counter"}
TRAILER_POINT_KINDS = 1
TRAILER_POINT_INTERVALS = 2
TRAILER_BATCH_MAX_AGE = 3

# inclusive (min, max) of each integer type, checked on the decoded value
INT_RANGES = {
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint64": (0, (1 << 64) - 1),
}
SIGNED_TYPES = {"int16", "int32", "int64"}

MASK64 = (1 << 64) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
MANTISSA_LIMIT = 1 << 53          # |m| must stay below 2^53
MAX_FLOAT_EXPONENT = 6
RAW_FLOAT_MARKER = 0xFF
MAX_VARINT_BYTES = 10


# ------------------------------------------------------------------ checksums

def _make_crc32c_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli), reflected, init and final XOR 0xFFFFFFFF (check("123456789") = 0xE3069283)."""
    c = crc ^ 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


# ------------------------------------------------------------------- varints

def zigzag(n: int) -> int:
    """(n << 1) ^ (n >> 63) on a 64-bit signed n, as an unsigned 64-bit value."""
    if not INT64_MIN <= n <= INT64_MAX:
        raise ValueError(f"{n} does not fit in 64 bits")
    return ((n << 1) ^ (n >> 63)) & MASK64


def unzigzag(u: int) -> int:
    return (u >> 1) ^ -(u & 1)


def encode_uvarint(u: int) -> bytes:
    if not 0 <= u <= MASK64:
        raise ValueError(f"{u} is not an unsigned 64-bit value")
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_svarint(n: int) -> bytes:
    return encode_uvarint(zigzag(n))


# -------------------------------------------------------------------- values

class FloatValue(NamedTuple):
    """A float reading, bit-exact: ("float32", bits) or ("float64", bits)."""
    kind: str
    bits: int

    @property
    def value(self) -> float:
        if self.kind == "float32":
            return struct.unpack("<f", struct.pack("<I", self.bits))[0]
        return struct.unpack("<d", struct.pack("<Q", self.bits))[0]

    @classmethod
    def from_float(cls, kind: str, x: float) -> "FloatValue":
        if kind == "float32":
            return cls(kind, struct.unpack("<I", struct.pack("<f", x))[0])
        return cls(kind, struct.unpack("<Q", struct.pack("<d", x))[0])


class Missing(NamedTuple):
    """A reading that has no value: ("missing", quality_name, exception_code)."""
    tag: str
    quality: str
    exception_code: int | None


Value = Union[bool, int, str, FloatValue, Missing]


@dataclass(frozen=True)
class Point:
    alias: int
    device: str
    name: str
    unit: str
    type: str                      # one of TYPE_NAMES' values
    scale: float
    offset: float
    exponent_alias: int | None     # alias of the point holding the decimal exponent (SunSpec _SF)
    kind: str = "gauge"            # "gauge" or "counter" (trailer tag 1)
    interval_ms: int | None = None  # poll interval of the point's device (trailer tag 2); None unknown


@dataclass(frozen=True)
class Dictionary:
    gateway: str
    schema_id: int
    points: tuple[Point, ...]
    batch_max_age_ms: int | None = None   # the gateway's batch max age (trailer tag 3); None unknown


DictionaryFrame = Dictionary


@dataclass(frozen=True)
class Group:
    time_ms: int
    clock_flags: int
    first_alias: int
    values: tuple[Value, ...]
    listed: tuple[int, ...] | None = None   # a sparse group's aliases (version 2)
    snapshot: bool = False                  # version 2

    @property
    def synchronised(self) -> bool:
        return bool(self.clock_flags & 1)

    @property
    def stepped(self) -> bool:
        return bool(self.clock_flags & 2)

    @property
    def aliases(self):
        if self.listed is not None:
            return self.listed
        return range(self.first_alias, self.first_alias + len(self.values))


@dataclass(frozen=True)
class Batch:
    gateway: str
    epoch: int
    sequence: int
    schema_id: int
    base_time_ms: int
    groups: tuple[Group, ...] = field(default_factory=tuple)
    version: int = 1
    dropped: tuple[tuple[int, int], ...] = ()   # version 2: (first sequence, length) ranges


BatchFrame = Batch


# -------------------------------------------------------------------- reader

class _Reader:
    """Bounds-checked cursor over one payload; every shortfall is a ValueError."""

    def __init__(self, data: bytes, what: str):
        self.data = data
        self.pos = 0
        self.what = what

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def fail(self, message: str) -> ValueError:
        return ValueError(f"{self.what}: {message} (payload offset {self.pos})")

    def take(self, n: int, field_name: str) -> bytes:
        if n < 0 or n > self.left:
            raise self.fail(f"{field_name}: needs {n} bytes, {self.left} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, field_name: str) -> int:
        return self.take(1, field_name)[0]

    def u32le(self, field_name: str) -> int:
        return int.from_bytes(self.take(4, field_name), "little")

    def u64le(self, field_name: str) -> int:
        return int.from_bytes(self.take(8, field_name), "little")

    def f64le(self, field_name: str) -> float:
        return struct.unpack("<d", self.take(8, field_name))[0]

    def uvarint(self, field_name: str) -> int:
        result = 0
        shift = 0
        for i in range(MAX_VARINT_BYTES):
            if self.left == 0:
                raise self.fail(f"{field_name}: varint runs past the end")
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                # GUESS: a 10-byte varint whose value needs more than 64 bits is rejected
                # (the spec only says "at most 10 bytes").  Overlong (non-minimal) encodings
                # are accepted: the spec does not forbid them.
                if result > MASK64:
                    raise self.fail(f"{field_name}: varint exceeds 64 bits")
                return result
            shift += 7
        raise self.fail(f"{field_name}: varint longer than {MAX_VARINT_BYTES} bytes")

    def svarint(self, field_name: str) -> int:
        return unzigzag(self.uvarint(field_name))

    def count(self, field_name: str) -> int:
        n = self.uvarint(field_name)
        if n > self.left:
            raise self.fail(f"{field_name} {n} is larger than the {self.left} bytes left")
        return n

    def string(self, field_name: str) -> str:
        n = self.uvarint(f"{field_name} length")
        raw = self.take(n, field_name)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:  # wire-format.md: invalid UTF-8 is rejected
            raise self.fail(f"{field_name} is not UTF-8: {e}") from None


# ------------------------------------------------------------------ envelope

class UnsupportedVersion(ValueError):
    """A frame of a version this decoder does not know: keep and report it, never guess at it."""


def _envelope(data: bytes) -> tuple[int, bytes, int, int]:
    """Check magic, version, kind, flags, length and CRC; return (kind, payload, frame size, version)."""
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise ValueError(f"truncated frame header: {len(data)} of {HEADER_SIZE} bytes")
    if data[0:2] != MAGIC:
        raise ValueError(f"bad magic {data[0:2].hex()} (want 5452 'TR')")
    if data[2] not in FORMAT_VERSIONS:
        raise UnsupportedVersion(f"unknown format version {data[2]} (this decoder knows {FORMAT_VERSIONS})")
    kind = data[3]
    if kind not in (KIND_DICTIONARY, KIND_BATCH):
        raise ValueError(f"unknown frame kind {kind}")
    if data[4] != 0:
        raise ValueError(f"flags 0x{data[4]:02x}: a zstd-compressed payload (bit 0) must be decompressed first; other bits are undefined")
    length = int.from_bytes(data[5:9], "little")
    size = HEADER_SIZE + length + CRC_SIZE
    if size > len(data):
        raise ValueError(f"payload length {length} runs beyond the input "
                         f"(frame needs {size} bytes, have {len(data)})")
    stored = int.from_bytes(data[HEADER_SIZE + length:size], "little")
    computed = crc32c(data[:HEADER_SIZE + length])
    if stored != computed:
        raise ValueError(f"checksum mismatch: frame says 0x{stored:08x}, bytes give 0x{computed:08x}")
    return kind, data[HEADER_SIZE:HEADER_SIZE + length], size, data[2]


def decode_frame(data: bytes, dictionaries: dict[int, Dictionary] | None = None
                 ) -> tuple[Dictionary | Batch, int]:
    """Decode the frame at the start of `data`; return (frame, bytes consumed).

    A batch needs the dictionary it was encoded with: `dictionaries` maps schema id -> Dictionary."""
    kind, payload, size, version = _envelope(data)
    if kind == KIND_DICTIONARY:
        return _decode_dictionary(payload), size
    return _decode_batch(payload, dictionaries or {}, version), size


def decode_frames(data: bytes, dictionaries: dict[int, Dictionary] | None = None
                  ) -> list[Dictionary | Batch]:
    """Decode back-to-back frames; dictionary frames are added to a copy of `dictionaries` as met."""
    known = dict(dictionaries or {})
    frames = []
    pos = 0
    while pos < len(data):
        frame, size = decode_frame(data[pos:], known)
        if isinstance(frame, Dictionary):
            known[frame.schema_id] = frame
        frames.append(frame)
        pos += size
    return frames


# ---------------------------------------------------------------- dictionary

def _decode_dictionary(payload: bytes) -> Dictionary:
    r = _Reader(payload, "dictionary")
    schema_id = r.u64le("schema id")
    content_hash = fnv1a64(payload[r.pos:])
    if content_hash != schema_id:
        # GUESS: "everything after this field" = the rest of the payload (not the CRC).
        raise ValueError(f"dictionary: schema id 0x{schema_id:016x} does not match the FNV-1a 64 "
                         f"of its content 0x{content_hash:016x}")
    gateway = r.string("gateway id")
    n = r.count("point count")
    raw_points = []
    for alias in range(n):
        device = r.string(f"point {alias} device name")
        name = r.string(f"point {alias} point name")
        unit = r.string(f"point {alias} unit")
        code = r.u8(f"point {alias} type")
        if code not in TYPE_NAMES:  # GUESS: not in the rule list, but nothing else is possible
            raise r.fail(f"point {alias}: unknown type code {code}")
        scale = r.f64le(f"point {alias} scale")
        offset = r.f64le(f"point {alias} offset")
        exp_plus_1 = r.uvarint(f"point {alias} exponent alias")
        raw_points.append((alias, device, name, unit, TYPE_NAMES[code], scale, offset, exp_plus_1))
    kinds, intervals, batch_max_age = _decode_trailer(r, n)
    points = []
    for alias, device, name, unit, type_name, scale, offset, exp_plus_1 in raw_points:
        exponent_alias = None
        if exp_plus_1:
            exponent_alias = exp_plus_1 - 1
            if exponent_alias >= n:
                raise ValueError(f"dictionary: point {alias} names exponent alias {exponent_alias}, "
                                 f"outside the dictionary of {n} points")
            # GUESS: the spec does not say what type an exponent point must have, nor whether a
            # point may be its own exponent; neither is checked here.
        points.append(Point(alias, device, name, unit, type_name, scale, offset, exponent_alias,
                            kinds[alias], intervals[alias]))
    return Dictionary(gateway, schema_id, tuple(points), batch_max_age)


def _decode_trailer(r: _Reader, n: int) -> tuple[list[str], list[int | None], int | None]:
    """The sections after the last point, to the payload's end: (kinds, intervals, batch max age)."""
    kinds: list[str] = ["gauge"] * n
    intervals: list[int | None] = [None] * n
    batch_max_age = None
    previous = 0
    while r.left:
        tag = r.uvarint("trailer section tag")
        if tag == 0:
            raise r.fail("trailer section tag 0 is reserved")
        if tag <= previous:
            raise r.fail(f"trailer section tag {tag} does not follow tag {previous}")
        previous = tag
        length = r.uvarint(f"trailer section {tag} length")
        if length > r.left:
            raise r.fail(f"trailer section {tag} length {length} overruns the {r.left} bytes left")
        section = _Reader(r.take(length, f"trailer section {tag}"), f"dictionary trailer section {tag}")
        if tag == TRAILER_POINT_KINDS:
            if length != n:
                raise section.fail(f"point kinds: {length} bytes for {n} points")
            for alias in range(n):
                code = section.u8(f"point {alias} kind")
                if code not in KIND_NAMES:
                    raise section.fail(f"point {alias}: unknown kind {code}")
                kinds[alias] = KIND_NAMES[code]
        elif tag == TRAILER_POINT_INTERVALS:
            for alias in range(n):
                interval = section.uvarint(f"point {alias} interval")
                intervals[alias] = interval or None
            if section.left:
                raise section.fail(f"point intervals: {section.left} stray bytes after {n} points")
        elif tag == TRAILER_BATCH_MAX_AGE:
            batch_max_age = section.uvarint("batch max age") or None
            if section.left:
                raise section.fail(f"batch max age: {section.left} stray bytes after the value")
        # any other tag: a later version's section, skipped (its bytes are in the schema id)
    return kinds, intervals, batch_max_age


# --------------------------------------------------------------------- batch

class _FloatState:
    """Per-alias float state: (m, k), or cleared (after raw bits, and at the start of a batch)."""
    __slots__ = ("m", "k", "cleared")

    def __init__(self) -> None:
        # A batch starts cleared (wire-format.md): a delta-only head is then an error, and an
        # explicit-exponent head rescales from 0.
        self.m = 0
        self.k = 0
        self.cleared = True


def _rescale(m: int, from_k: int, to_k: int) -> int:
    if to_k >= from_k:
        result = m * 10 ** (to_k - from_k)
        # "0 on overflow or outside ±2^53" -- GUESS: "outside" means |result| >= 2^53, matching
        # "|m| must stay below 2^53"; Int64 overflow implies that anyway.
        return result if -MANTISSA_LIMIT < result < MANTISSA_LIMIT else 0
    divisor = 10 ** (from_k - to_k)
    q = abs(m) // divisor           # truncating division (toward zero), not Python's floor
    return q if m >= 0 else -q


def _decode_float(r: _Reader, kind: str, state: _FloatState, where: str) -> FloatValue:
    head = r.uvarint(f"{where} float head")
    if head & 1 == 0:
        if state.cleared:  # the spec: a delta needs an exponent; a cleared state has none
            raise r.fail(f"{where}: float delta without an exponent (state cleared)")
        delta = unzigzag(head >> 1)
        m = state.m + delta
        k = state.k
    else:
        k = r.u8(f"{where} float exponent")
        if k == RAW_FLOAT_MARKER:
            if head != 1:
                raise r.fail(f"{where}: raw float head must be 1, is {head}")
            bits = r.u32le(f"{where} float32 bits") if kind == "float32" else r.u64le(f"{where} float64 bits")
            state.m, state.k, state.cleared = 0, 0, True
            return FloatValue(kind, bits)
        if k > MAX_FLOAT_EXPONENT:
            raise r.fail(f"{where}: float exponent {k} above {MAX_FLOAT_EXPONENT}")
        delta = unzigzag(head >> 1)
        base = 0 if state.cleared else _rescale(state.m, state.k, k)
        m = base + delta
    if not -MANTISSA_LIMIT < m < MANTISSA_LIMIT:
        raise r.fail(f"{where}: float mantissa {m} at or beyond 2^53")
    state.m, state.k, state.cleared = m, k, False
    x = float(m) / float(10 ** k)   # Double(m) / 10^k; both exact, one rounding
    return FloatValue.from_float(kind, x)  # struct 'f' rounds the double to nearest float32


def _decode_batch(payload: bytes, dictionaries: dict[int, Dictionary], version: int = 1) -> Batch:
    r = _Reader(payload, "batch")
    gateway = r.string("gateway id")
    epoch = r.uvarint("stream epoch")
    sequence = r.uvarint("sequence number")
    schema_id = r.u64le("schema id")
    base_time = r.svarint("base time")
    dictionary = dictionaries.get(schema_id)
    if dictionary is None:
        raise r.fail(f"no dictionary for schema id 0x{schema_id:016x} "
                     f"(known: {', '.join(f'0x{s:016x}' for s in dictionaries) or 'none'})")
    # GUESS: the batch's gateway id is not required to equal the dictionary's (the spec is silent).
    points = dictionary.points
    n_points = len(points)
    group_count = r.u32le("group count")
    if group_count > r.left:
        raise r.fail(f"group count {group_count} is larger than the {r.left} bytes left")

    int_prev = [0] * n_points                        # 64-bit patterns, reset every batch
    float_state = [_FloatState() for _ in range(n_points)]
    groups = []
    time_ms = base_time
    for g in range(group_count):
        where = f"group {g + 1}"
        time_ms += r.svarint(f"{where} time delta")
        if not INT64_MIN <= time_ms <= INT64_MAX:   # GUESS: wrapping is not a thing for wall time
            raise r.fail(f"{where}: time overflows 64 bits")
        clock = r.u8(f"{where} clock flags")
        # GUESS: in version 1, clock flag bits 2..7 are not given a meaning nor forbidden; kept, not rejected.
        snapshot = False
        listed = None
        if version >= 2:
            snapshot = bool(clock & GROUP_SNAPSHOT)
            sparse = bool(clock & GROUP_SPARSE)
            clock &= ~(GROUP_SNAPSHOT | GROUP_SPARSE)
        else:
            sparse = False
        if sparse:
            count = r.count(f"{where} sparse count")
            if count > n_points:
                raise r.fail(f"{where}: {count} listed aliases in a dictionary of {n_points} points")
            aliases = []
            nxt = 0
            for _ in range(count):
                alias = nxt + r.uvarint(f"{where} alias gap")
                if alias >= n_points:
                    raise r.fail(f"{where}: listed alias {alias} outside the dictionary of {n_points} points")
                aliases.append(alias)
                nxt = alias + 1
            listed = tuple(aliases)
            first = aliases[0] if aliases else 0
        else:
            first = r.uvarint(f"{where} first alias")
            count = r.count(f"{where} count")
            if first + count > n_points or first > n_points:
                raise r.fail(f"{where}: aliases {first} ..< {first + count} outside the dictionary "
                             f"of {n_points} points")
        n_missing = r.count(f"{where} missing count")
        if n_missing > count:
            raise r.fail(f"{where}: missing count {n_missing} exceeds count {count}")
        missing: dict[int, Missing] = {}
        for _ in range(n_missing):
            off = r.uvarint(f"{where} missing offset")
            if off >= count:
                raise r.fail(f"{where}: missing offset {off} out of range 0 ..< {count}")
            if off in missing:
                raise r.fail(f"{where}: missing offset {off} repeated")
            q = r.u8(f"{where} quality")
            if q not in QUALITY_NAMES or (q in V2_QUALITIES and version < 2):
                raise r.fail(f"{where}: unknown quality code {q} in a version {version} frame")
            code = r.u8(f"{where} exception code") if q == QUALITY_EXCEPTION else None
            missing[off] = Missing("missing", QUALITY_NAMES[q], code)
            # GUESS: offsets need not be ascending; a missing reading leaves the alias's
            # previous state untouched.
        if count - n_missing > r.left:
            raise r.fail(f"{where}: {count - n_missing} values but only {r.left} bytes left")
        values: list[Value] = []
        for off in range(count):
            if off in missing:
                values.append(missing[off])
                continue
            alias = listed[off] if listed is not None else first + off
            point = points[alias]
            vwhere = f"{where} alias {alias} ({point.device}/{point.name})"
            t = point.type
            if t == "bool":
                b = r.u8(f"{vwhere} bool")
                if b > 1:
                    raise r.fail(f"{vwhere}: bool byte {b} is not 0 or 1")
                values.append(bool(b))
            elif t in INT_RANGES:
                delta = r.svarint(f"{vwhere} delta")
                pattern = (int_prev[alias] + delta) & MASK64
                int_prev[alias] = pattern
                value = pattern - (1 << 64) if t in SIGNED_TYPES and pattern >> 63 else pattern
                lo, hi = INT_RANGES[t]
                if not lo <= value <= hi:
                    raise r.fail(f"{vwhere}: {value} outside {t}")
                values.append(value)
            elif t == "string":
                values.append(r.string(f"{vwhere} string"))
            else:
                values.append(_decode_float(r, t, float_state[alias], vwhere))
        groups.append(Group(time_ms, clock, first, tuple(values), listed, snapshot))
    dropped = []
    if version >= 2:
        n_ranges = r.count("dropped range count")
        floor = 0
        for i in range(n_ranges):
            start = r.uvarint(f"dropped range {i + 1} first")
            length = r.uvarint(f"dropped range {i + 1} length")
            if length == 0 or start < floor or start + length > sequence:
                raise r.fail(f"dropped range {start}+{length} is empty, out of order, or not before "
                             f"sequence {sequence}")
            dropped.append((start, length))
            floor = start + length + 1
    if r.left:
        raise r.fail(f"{r.left} stray bytes after the last group")
    return Batch(gateway, epoch, sequence, schema_id, base_time, tuple(groups), version, tuple(dropped))


# -------------------------------------------------------------- engineering

def _numeric(raw) -> float:
    if isinstance(raw, FloatValue):
        return raw.value
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"no engineering value for {raw!r}")
    return float(raw)


def _scaled(x: float, scale: float) -> float:
    """x × scale, but x ÷ 10^k when scale is 10^-k (0.1, 0.01, …): the spec's rule, so 473 × 0.1 gives 47.3."""
    if not 0 < scale < 1:
        return x * scale
    divisor = float(round(1 / scale))
    power = 10.0
    while power < divisor and power < 1e22:
        power *= 10
    return x / divisor if power == divisor and 1 / divisor == scale else x * scale


def engineering_value(point: Point, raw, exponent=None) -> float | None:
    """raw × scale × 10^e + offset; e is the raw value of the point's exponent alias in the same group.

    `exponent` is ignored when the point has no exponent alias.  Returns None when the point has an
    exponent alias but `exponent` is None or Missing, and when `raw` is Missing (GUESS: the spec
    does not say).  Bool and string points have no engineering value (ValueError).
    GUESS on arithmetic: evaluated left to right in doubles, ((raw × scale) × 10^e) + offset, with
    10^e for negative e done as a division by 10^-e (exact for |e| <= 22), not as × 0.1…, and a scale of
    10^-k (0.1, 0.01, …) applied as ÷ 10^k, as docs/wire-format.md now says."""
    if point.type in ("bool", "string"):
        raise ValueError(f"{point.type} point {point.device}/{point.name} has no engineering value")
    if isinstance(raw, Missing):
        return None
    x = _scaled(_numeric(raw), point.scale)
    if point.exponent_alias is not None:
        if exponent is None or isinstance(exponent, Missing):
            return None
        if isinstance(exponent, bool) or not isinstance(exponent, int):
            raise ValueError(f"exponent must be an integer, not {exponent!r}")
        x = x * 10.0 ** exponent if exponent >= 0 else x / 10.0 ** -exponent
    return x + point.offset


def group_readings(dictionary: Dictionary, group: Group) -> list[tuple[Point, Value, float | None]]:
    """(point, raw value, engineering value or None) for each alias of a group; exponents are looked
    up in the same group (None if the exponent point is not in the group)."""
    by_alias = dict(zip(group.aliases, group.values))
    out = []
    for alias, raw in by_alias.items():
        point = dictionary.points[alias]
        if point.type in ("bool", "string"):
            out.append((point, raw, None))
            continue
        exp = by_alias.get(point.exponent_alias) if point.exponent_alias is not None else None
        out.append((point, raw, engineering_value(point, raw, exp)))
    return out
