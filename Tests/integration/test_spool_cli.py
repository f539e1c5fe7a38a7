"""`tramctl poll --spool` stores sealed batches the way the agent will; `tramctl spool` inspects them read-only."""
from __future__ import annotations

import json

from tramtest import encode, poll_json, write_agent


def _agent(tmp_path, plc_tcp):
    plc = plc_tcp({1: {"holding": {0: encode("float32", 50.25) + encode("uint16", 9)}}})
    return write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": plc.url}], [
        {"name": "m", "link": "l", "unit": 1, "address_base": 0, "points": [
            {"name": "hz", "table": "holding", "address": 0, "type": "float32"},
            {"name": "n", "table": "holding", "address": 2, "type": "uint16"},
        ]}])


def _stats(tramctl, spool):
    proc = tramctl("spool", "stats", "--dir", spool, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_spool_books_verify_and_dump(tramctl, plc_tcp, tmp_path):
    agent, spool = _agent(tmp_path, plc_tcp), tmp_path / "spool"
    polled = len(poll_json(tramctl, agent, "--cycles", 3, "--interval", "20ms", "--spool", spool))
    polled += len(poll_json(tramctl, agent, "--cycles", 2, "--interval", "20ms", "--spool", spool))
    assert polled == 5

    stats = _stats(tramctl, spool)
    assert stats["balances"] and stats["owner"] is None
    assert stats["appended"] == {"readings": 10, "batches": 2}          # 5 cycles × 2 points, one batch per run
    assert stats["buffered"] == stats["appended"] and stats["delivered"]["batches"] == 0
    assert stats["next_sequence"] == 2                                  # a clean close keeps the epoch going

    verify = tramctl("spool", "verify", "--dir", spool)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "0 damaged" in verify.stdout

    dump = tramctl("spool", "dump", "--dir", spool, "--decode", "--json")
    assert dump.returncode == 0, dump.stderr
    rows = [json.loads(line) for line in dump.stdout.splitlines()]
    assert len(rows) == 10
    assert {r["raw"] for r in rows if r["point"] == "hz"} == {50.25}
    assert {r["raw"] for r in rows if r["point"] == "n"} == {9}


def test_spool_verify_finds_damage_and_stats_still_balance(tramctl, plc_tcp, tmp_path):
    agent, spool = _agent(tmp_path, plc_tcp), tmp_path / "spool"
    poll_json(tramctl, agent, "--cycles", 2, "--interval", "20ms", "--spool", spool)
    poll_json(tramctl, agent, "--cycles", 2, "--interval", "20ms", "--spool", spool)
    first = sorted(spool.glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[-5] ^= 0x40                                                    # inside the last record: its batch
    first.write_bytes(bytes(data))

    verify = tramctl("spool", "verify", "--dir", spool)
    assert verify.returncode == 1
    assert f"DAMAGED  {first.name}" in verify.stdout and "torn tail" in verify.stdout

    before = first.read_bytes()
    stats = _stats(tramctl, spool)                                      # read-only: nothing repaired or cut
    assert first.read_bytes() == before
    assert stats["balances"] and stats["appended"]["batches"] == 2


def test_a_second_owner_is_refused_with_the_holder(tramctl, plc_tcp, tmp_path):
    """The agent's lock: a second process that wants to write the spool is told who holds it."""
    import fcntl
    import os
    spool = tmp_path / "spool"
    spool.mkdir()
    lock = open(spool / "lock", "w")
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        stats = _stats(tramctl, spool)
        assert stats["owner"] == f"pid {os.getpid()}"
        proc = tramctl("poll", _agent(tmp_path, plc_tcp), "--spool", spool)
        assert proc.returncode != 0
        assert f"is in use by pid {os.getpid()}" in proc.stderr
    finally:
        lock.close()
