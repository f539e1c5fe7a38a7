"""`tramctl decode` against the golden vectors, cross-checked with the independent Python decoder."""
from __future__ import annotations

import json
import math
import struct

import tram_wire as tw
from test_wire_python import BATCH_BYTES, DICT_BYTES


def test_tramctl_decode_agrees_with_the_python_decoder(tramctl, tmp_path):
    path = tmp_path / "frames.bin"
    path.write_bytes(DICT_BYTES + BATCH_BYTES)
    proc = tramctl("decode", path, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]

    dictionary, size = tw.decode_frame(DICT_BYTES, {})
    batch, _ = tw.decode_frame(BATCH_BYTES, {dictionary.schema_id: dictionary})
    expected = []
    for group in batch.groups:
        for offset, value in enumerate(group.values):
            p = dictionary.points[group.first_alias + offset]
            expected.append((group.time_ms, p.device, p.name, value))
    assert [(r["ts"], r["device"], r["point"]) for r in rows] == [e[:3] for e in expected]
    for row, (*_, value) in zip(rows, expected):
        if isinstance(value, tw.Missing):
            assert row["quality"] == f"exception({value.exception_code})" and row["raw"] is None
        elif isinstance(value, tw.FloatValue):
            if math.isnan(value.value):
                assert row["raw"] == "nan"
            else:  # tramctl prints the float32's shortest digits; they must round-trip to the same bits
                assert struct.unpack(">I", struct.pack(">f", row["raw"]))[0] == value.bits
        else:
            assert row["raw"] == value
    energy = [r for r in rows if r["point"] == "energy" and r["quality"] == "good"]
    assert [r["value"] for r in energy] == [1234.5, 1234.7]   # scale 0.1 applied
    power = [r for r in rows if r["point"] == "power"]
    assert power[0]["value"] == 1782.2                          # × 10^(w_sf = -1)


def test_tramctl_decode_reports_a_corrupt_frame(tramctl, tmp_path):
    broken = bytearray(DICT_BYTES + BATCH_BYTES)
    broken[len(DICT_BYTES) + 20] ^= 0x01
    path = tmp_path / "frames.bin"
    path.write_bytes(bytes(broken))
    proc = tramctl("decode", path)
    assert proc.returncode == 1
    assert f"at byte {len(DICT_BYTES)}" in proc.stderr and "checksum" in proc.stderr


def test_poll_frames_round_trip(tramctl, plc_tcp, tmp_path):
    """What `poll` reads from pymodbus, written as wire frames, decodes to the same raw values and qualities."""
    from tramtest import encode, poll_json, write_agent
    words = encode("float32", 230.5) + encode("int32", -42) + encode("uint16", 7)
    plc = plc_tcp({1: {"holding": {0: words}}})
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": plc.url}], [
        {"name": "m", "link": "l", "unit": 1, "address_base": 0, "points": [
            {"name": "v", "table": "holding", "address": 0, "type": "float32"},
            {"name": "n", "table": "holding", "address": 2, "type": "int32", "scale": 0.5},
            {"name": "c", "table": "holding", "address": 4, "type": "uint16"},
            {"name": "gone", "table": "holding", "address": 40, "type": "uint16"},
        ]}])
    frames = tmp_path / "out.frames"
    readings = poll_json(tramctl, agent, "--cycles", 3, "--interval", "50ms", "--frames", frames)
    proc = tramctl("decode", frames, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 3 * 4
    polled = [(p["name"], p.get("raw"), p["quality"]) for r in readings for p in r["points"]]
    decoded = [(r["point"], r["raw"], r["quality"]) for r in rows]
    assert [d[0] for d in decoded] == [p[0] for p in polled]
    for (name, raw, quality), (_, wire_raw, wire_quality) in zip(polled, decoded):
        assert wire_quality == quality, name
        assert wire_raw == raw, name
    assert {r["quality"] for r in rows if r["point"] == "gone"} == {"exception(2)"}
    assert {r["value"] for r in rows if r["point"] == "n"} == {-21.0}


def test_tramctl_decode_shows_the_dictionary_trailer(tramctl, tmp_path):
    """`--points` lists each point with its kind and poll interval; the summary names counters and the batch age."""
    from test_wire_python import TRAILER_DICT_BYTES
    path = tmp_path / "frames.bin"
    path.write_bytes(TRAILER_DICT_BYTES)
    proc = tramctl("decode", path, "--points")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    d, _ = tw.decode_frame(TRAILER_DICT_BYTES)
    assert lines[0] == f"dictionary 0x{d.schema_id:x} gateway gw-demo: 6 points (1 counter), batch max age 10s"
    assert lines[1:7] == [
        "  #0 incomer/voltage_l1 float32 V gauge every 1s",
        "  #1 incomer/energy uint32 kWh scale 0.1 counter every 1s",
        "  #2 incomer/breaker_closed bool gauge every 1s",
        "  #3 pv/power int16 W exponent #4 gauge every 60s",
        "  #4 pv/w_sf int16 gauge every 60s",
        "  #5 pv/model string gauge every 60s",
    ]
    plain = tmp_path / "plain.bin"
    plain.write_bytes(DICT_BYTES)
    proc = tramctl("decode", plain)
    assert proc.stdout.splitlines()[0] == "dictionary 0x3730411dc17d8009 gateway gw-demo: 6 points"


def test_tramctl_decode_reads_version_2_as_the_python_decoder_does(tramctl, tmp_path):
    """batch-v2.hex: a sparse group's aliases, the version-2 qualities, and the dropped ranges in the summary."""
    from test_wire_python import V2_BATCH_BYTES
    path = tmp_path / "v2.bin"
    path.write_bytes(DICT_BYTES + V2_BATCH_BYTES)
    proc = tramctl("decode", path, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    dictionary, _ = tw.decode_frame(DICT_BYTES, {})
    batch, _ = tw.decode_frame(V2_BATCH_BYTES, {dictionary.schema_id: dictionary})
    expected = [(g.time_ms, dictionary.points[a].name) for g in batch.groups for a in g.aliases]
    assert [(r["ts"], r["point"]) for r in rows] == expected
    assert [r["quality"] for r in rows if r["quality"] != "good"] == ["absent", "disabled", "not_ready"]
    text = tramctl("decode", path)
    assert "wire format 2, 1 snapshot group; the gateway dropped sequences 30-34, 40 undelivered" in text.stdout
