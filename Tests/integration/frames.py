"""A small independent encoder of Tram frames (dictionary and batch), written from docs/wire-format.md.

For tests that must send history through the collector's real ingest path: many groups per batch, missing values
with their quality, and int32, uint16, uint32, uint64, bool, float64 (as raw bits) and string points. tram_wire.py is the matching independent decoder.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import tram_wire as tw

TYPE_CODES = {"bool": 1, "uint16": 3, "int32": 4, "uint32": 5, "uint64": 7, "float64": 9, "string": 10}
QUALITY_CODES = {"not_available": 1, "exception": 2, "timeout": 3, "link_down": 4}


@dataclass(frozen=True)
class PointSpec:
    device: str
    name: str
    type: str = "int32"
    unit: str = ""
    scale: float = 1.0


def frame(kind: int, payload: bytes) -> bytes:
    head = b"TR" + bytes([1, kind, 0]) + struct.pack("<I", len(payload)) + payload
    return head + struct.pack("<I", tw.crc32c(head))


def string(s: str) -> bytes:
    data = s.encode()
    return tw.encode_uvarint(len(data)) + data


def dictionary(gateway: str, points: list[PointSpec]) -> tuple[bytes, int]:
    body = string(gateway) + tw.encode_uvarint(len(points))
    for p in points:
        body += string(p.device) + string(p.name) + string(p.unit) + bytes([TYPE_CODES[p.type]])
        body += struct.pack("<dd", p.scale, 0.0) + b"\x00"
    schema_id = tw.fnv1a64(body)
    return frame(1, struct.pack("<Q", schema_id) + body), schema_id


def batch(gateway: str, schema_id: int, epoch: int, sequence: int, points: list[PointSpec],
          groups: list[tuple[int, list]], clock: int = 1) -> bytes:
    """groups: (time_ms, values) with one value per point in alias order; a value is an int (a bool as 0/1), a float
    for a float64 point, a str for a string point, or a (quality, exception) tuple for a missing one."""
    base = groups[0][0] if groups else 0
    payload = string(gateway) + tw.encode_uvarint(epoch) + tw.encode_uvarint(sequence) + struct.pack("<Q", schema_id)
    payload += tw.encode_svarint(base) + struct.pack("<I", len(groups))
    previous_time = base
    previous = [0] * len(points)
    for time_ms, values in groups:
        payload += tw.encode_svarint(time_ms - previous_time) + bytes([clock])
        previous_time = time_ms
        missing = [(i, v) for i, v in enumerate(values) if isinstance(v, tuple)]
        payload += tw.encode_uvarint(0) + tw.encode_uvarint(len(values)) + tw.encode_uvarint(len(missing))
        for offset, (quality, exception) in missing:
            payload += tw.encode_uvarint(offset) + bytes([QUALITY_CODES[quality]])
            if quality == "exception":
                payload += bytes([exception])
        for alias, value in enumerate(values):
            if isinstance(value, tuple):
                continue
            if points[alias].type == "bool":
                payload += bytes([1 if value else 0])
            elif points[alias].type == "float64":
                # Raw bits (head 1, exponent byte 0xFF): always exact, and it clears the float state.
                payload += tw.encode_uvarint(1) + b"\xff" + struct.pack("<d", value)
            elif points[alias].type == "string":
                payload += string(value)
            else:
                payload += tw.encode_svarint(value - previous[alias])
                previous[alias] = value
    return frame(2, payload)
