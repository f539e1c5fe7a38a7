"""Faults: exception responses, optional points, silence, a PLC that dies and comes back, slow devices."""
from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest
import yaml
from conftest import find_free_port
from tramtest import (DEVICES, decode, poll_json, points, qualities, run_ok, start_plc_at,
                      tramctl_background, write_agent)

BAD = {"timeout", "link_down", "io_error"}


# ------------------------------------------------------------- (a) exceptions

@pytest.mark.parametrize("table,address,count", [
    ("holding", 50, 1),      # nothing there
    ("holding", 9, 2),       # runs one past the end
    ("input", 0, 1),
    ("coil", 4, 1),
    ("discrete_input", 0, 1),
])
def test_read_of_missing_register_is_exception_2(tramctl, plc_tcp, table, address, count):
    plc = plc_tcp({1: {"holding": {0: list(range(10))}, "coil": {0: [1, 0, 1, 1]}}})
    proc = tramctl("read", "--link", plc.url, "--unit", 1, "--table", table, "--address", address,
                   "--count", count, "--json")
    assert proc.returncode != 0, proc.stdout
    assert "exception 2" in proc.stderr, proc.stderr
    assert proc.stdout.strip() in ("", "[]"), proc.stdout
    assert plc.log()[-1][1:] == ({"holding": 3, "input": 4, "coil": 1, "discrete_input": 2}[table], address, count)


def test_gateway_exception_for_absent_unit(tramctl, plc_tcp):
    plc = plc_tcp({1: {"holding": {0: [1]}}}, missing_unit="exception")
    proc = tramctl("read", "--link", plc.url, "--unit", 9, "--address", 0, "--timeout", "500ms")
    assert proc.returncode != 0
    assert "exception 11" in proc.stderr, proc.stderr


# ------------------------------------------------- (b) optional points, splits

def _profile(rel: str) -> dict:
    return yaml.safe_load((DEVICES / rel).read_text())


def _touches(entry, first: int, last: int) -> bool:
    _, _, address, count = entry
    return address <= last and address + count - 1 >= first


def test_optional_point_in_a_coalesced_request_becomes_unsupported(tramctl, plc_tcp, tmp_path):
    """Carlo Gavazzi EM340: kWh(-) at 0x4E is optional (some variants answer exception 02).

    The PLC serves every input register up to 0x4D but not 0x4E/0x4F. The planner coalesces
    0x28..0x4F into one request; the engine must split it, deliver every other point good in
    the very first cycle, retire export_energy as unsupported, and never ask for it again."""
    profile = _profile("carlo-gavazzi/em340.yaml")
    words = [(i * 7919 + 0x1234) & 0xFFFF for i in range(0x4E)]
    plc = plc_tcp({1: {"input": {0: words}}})
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": plc.url, "response_timeout": "500ms"}],
                        [{"name": "em340", "link": "l", "unit": 1, "profile": "carlo-gavazzi/em340"}],
                        profiles=DEVICES)
    plan = json.loads(run_ok(tramctl, "plan", agent, "--json").stdout)
    [with_optional] = [r for r in plan[0]["requests"] if "export_energy" in r["points"]]
    assert len(with_optional["points"]) > 1, "the optional point should share a request with good points"

    cycles = 4
    readings = poll_json(tramctl, agent, "--cycles", cycles, "--interval", "50ms")
    assert [r["cycle"] for r in readings] == list(range(1, cycles + 1))
    defaults = profile.get("defaults", {})
    for r in readings:
        got = points(r)
        assert r["unsupported"] == ["export_energy"], r
        assert got["export_energy"]["quality"] == "unsupported"
        assert "raw" not in got["export_energy"] or got["export_energy"]["raw"] is None
        # every requested point arrived, so the device is online; the rejected attempts of cycle 1 are still counted
        assert r["health"] == "online", r
        assert (r["failed_requests"] >= 1) if r["cycle"] == 1 else (r["failed_requests"] == 0), r
        for p in profile["points"]:
            if p.get("optional"):
                continue
            type_, order = p.get("type", defaults.get("type")), p.get("order", defaults.get("order"))
            n = 1 if type_.endswith("16") else 2
            want = decode(type_, words[p["address"]:p["address"] + n], order)
            assert got[p["name"]]["quality"] == "good", (r["cycle"], got[p["name"]])
            assert got[p["name"]]["raw"] == want, (p["name"], got[p["name"]], want)
            assert got[p["name"]]["value"] == pytest.approx(want * p.get("scale", 1)), p["name"]

    log = plc.log()
    later = sum(r["requests"] for r in readings[1:])
    first_cycle, later_cycles = log[:len(log) - later], log[len(log) - later:]
    assert any(_touches(e, 0x4E, 0x4F) for e in first_cycle), first_cycle
    assert not any(_touches(e, 0x4E, 0x4F) for e in later_cycles), later_cycles
    # fewer failures after the first cycle: every later request is answered
    assert len(first_cycle) == readings[0]["requests"], "every attempt of cycle 1, rejected ones included, is reported"
    assert len(later_cycles) == (cycles - 1) * readings[-1]["requests"]


def test_plan_is_recoalesced_after_optional_point_is_retired(tramctl, plc_tcp, tmp_path):
    doc = _profile("carlo-gavazzi/em340.yaml")
    doc["points"] = [p for p in doc["points"] if not p.get("optional")]
    (tmp_path / "profiles" / "cg").mkdir(parents=True)
    (tmp_path / "profiles" / "cg" / "em340-no-export.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    reference = write_agent(tmp_path / "reference.yaml", [{"name": "l", "url": "tcp://127.0.0.1:1502"}],
                            [{"name": "em340", "link": "l", "unit": 1, "profile": "cg/em340-no-export"}],
                            profiles=tmp_path / "profiles")
    ideal = json.loads(run_ok(tramctl, "plan", reference, "--json").stdout)[0]["requests"]

    plc = plc_tcp({1: {"input": {0: list(range(0x4E))}}})
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": plc.url}],
                        [{"name": "em340", "link": "l", "unit": 1, "profile": "carlo-gavazzi/em340"}],
                        profiles=DEVICES)
    readings = poll_json(tramctl, agent, "--cycles", 3, "--interval", "50ms")
    assert readings[-1]["unsupported"] == ["export_energy"]
    steady = plc.log()[-readings[-1]["requests"]:]
    assert [(a, n) for _, _, a, n in steady] == [(r["address"], r["count"]) for r in ideal], steady


def test_missing_required_point_is_exception_2_and_neighbours_stay_good(tramctl, plc_tcp, tmp_path):
    plc = plc_tcp({1: {"holding": {100: [1, 2, 3], 104: [5, 6]}}})   # 103 is missing
    pts = [{"name": n, "table": "holding", "address": a, "type": "uint16"}
           for n, a in (("a", 100), ("b", 101), ("c", 102), ("missing", 103), ("d", 104), ("e", 105))]
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": plc.url}],
                        [{"name": "plc", "link": "l", "unit": 1, "address_base": 0, "points": pts}])
    plan = json.loads(run_ok(tramctl, "plan", agent, "--json").stdout)
    assert [(r["address"], r["count"]) for r in plan[0]["requests"]] == [(100, 6)]

    readings = poll_json(tramctl, agent, "--cycles", 2, "--interval", "50ms")
    assert len(readings) == 2
    for r in readings:
        got = points(r)
        assert got["missing"]["quality"] == "exception(2)", r
        assert {n: got[n]["raw"] for n in "abcde"} == {"a": 1, "b": 2, "c": 3, "d": 5, "e": 6}, r
        assert all(got[n]["quality"] == "good" for n in "abcde"), r
        assert r["unsupported"] == []
        assert r["health"] == "degraded" and r["failed_requests"] >= 1, r
        assert "exception 2" in (r.get("last_error") or ""), r
    # the second cycle goes straight to the split plan: no full-range request any more
    second = plc.log()[-readings[1]["requests"]:]
    assert (1, 3, 100, 6) not in second and any(_touches(e, 103, 103) for e in second), second


# ------------------------------------------------------------- (c) silence

def _single_point_agent(tmp_path, url, *, timeout="200ms"):
    return write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": url, "response_timeout": timeout}],
                       [{"name": "dev", "link": "l", "unit": 1, "address_base": 0, "points": [
                           {"name": "v", "table": "holding", "address": 0, "type": "uint16"}]}])


def _good(r: dict) -> bool:
    return r.get("health") == "online" and all(p["quality"] == "good" for p in r["points"])


def _assert_good_bad_good(lines: list[dict], allowed_bad: set[str]) -> list[dict]:
    """good+ bad+ good+ with consecutive cycle numbers; returns the bad lines."""
    assert [r["cycle"] for r in lines] == list(range(1, len(lines) + 1)), [r["cycle"] for r in lines]
    kinds = "".join("g" if _good(r) else "b" for r in lines)
    assert re.fullmatch(r"g+b+g+", kinds), f"expected good, then bad, then good cycles: {kinds}"
    bad = [r for r in lines if not _good(r)]
    for r in bad:
        assert r["health"] == "offline" and r["failed_requests"] == r["requests"], r
        assert set(qualities(r).values()) <= allowed_bad, r
    return bad


def test_silence_gives_timeout_and_offline_then_recovers(tramctl, plc_tcp, procs, tmp_path):
    plc = plc_tcp({1: {"holding": {0: [42]}}})
    agent = _single_point_agent(tmp_path, plc.url)
    poll = tramctl_background(procs, "poll", agent, "--json", "--cycles", 80, "--interval", "100ms",
                              line_buffered=True)
    poll.wait_json(_good, 15, "a good cycle")
    plc.silence(True)
    first_bad = poll.wait_json(lambda r: not _good(r), 10, "a failed cycle after silence on")
    assert qualities(first_bad) == {"v": "timeout"}, first_bad
    assert first_bad["health"] == "offline", first_bad
    assert first_bad["cycle_ms"] >= 180, first_bad   # it really waited for the 200 ms response timeout
    poll.wait_json(lambda r: not _good(r), 5, "a second failed cycle")
    plc.silence(False)
    t0 = time.monotonic()
    recovered = poll.wait_json(_good, 10, "recovery after silence off")
    recovery_s = time.monotonic() - t0
    poll.wait_json(_good, 5, "a second good cycle")
    poll.stop()

    lines = poll.json_lines()
    bad = _assert_good_bad_good(lines, {"timeout", "link_down", "io_error"})
    assert qualities(bad[0]) == {"v": "timeout"}
    assert points(recovered)["v"]["raw"] == 42
    assert recovery_s < 5, f"took {recovery_s:.1f}s to recover"


def test_silence_runs_to_completion_with_cycles(tramctl, plc_tcp, tmp_path):
    """Silent from the start: every cycle is reported (none skipped) and the run ends on its own."""
    plc = plc_tcp({1: {"holding": {0: [42]}}})
    plc.silence(True)
    agent = _single_point_agent(tmp_path, plc.url, timeout="150ms")
    t0 = time.monotonic()
    readings = poll_json(tramctl, agent, "--cycles", 4, "--interval", "100ms", timeout=30)
    assert [r["cycle"] for r in readings] == [1, 2, 3, 4]
    assert qualities(readings[0]) == {"v": "timeout"}
    for r in readings:
        assert r["health"] == "offline" and set(qualities(r).values()) <= BAD, r
    assert time.monotonic() - t0 < 10


# ------------------------------------------------------ (d) PLC dies, restarts

def test_plc_killed_and_restarted_on_same_port(tramctl, procs, tmp_path):
    port = find_free_port()
    values = {1: {"holding": {0: [7, 8]}}}
    plc = start_plc_at(procs, tmp_path, port, values)
    agent = write_agent(tmp_path / "agent.yaml",
                        [{"name": "l", "url": f"tcp://127.0.0.1:{port}", "response_timeout": "300ms",
                          "connect_timeout": "300ms"}],
                        [{"name": "dev", "link": "l", "unit": 1, "address_base": 0, "points": [
                            {"name": "a", "table": "holding", "address": 0, "type": "uint16"},
                            {"name": "b", "table": "holding", "address": 1, "type": "uint16"}]}])
    poll = tramctl_background(procs, "poll", agent, "--json", "--cycles", 150, "--interval", "200ms",
                              line_buffered=True)
    poll.wait_json(_good, 15, "a good cycle")
    poll.wait_json(_good, 5, "a second good cycle")

    os.killpg(plc.proc.pid, signal.SIGKILL)       # a crash: no goodbye on the connection
    plc.proc.wait(timeout=10)
    first_bad = poll.wait_json(lambda r: not _good(r), 10, "a failed cycle after the PLC died")
    # stay down for 8 cycles (1.6 s): long enough to see the backoff spacing out connect attempts
    poll.wait_json(lambda r: r["cycle"] >= first_bad["cycle"] + 7, 10, "8 failed cycles")

    values[1]["holding"][0] = [17, 18]             # the new PLC has new values: no stale data passes
    plc2 = start_plc_at(procs, tmp_path, port, values)
    t0 = time.monotonic()
    back = poll.wait_json(_good, 15, "recovery after the PLC restarted")
    recovery_s = time.monotonic() - t0
    poll.wait_json(_good, 5, "a second good cycle after restart")
    poll.stop()

    assert (points(back)["a"]["raw"], points(back)["b"]["raw"]) == (17, 18)
    bad = _assert_good_bad_good(poll.json_lines(), BAD)
    assert len(bad) >= 8
    assert any("link_down" in qualities(r).values() for r in bad)
    assert plc2.requests() >= 2
    assert recovery_s < 10, f"took {recovery_s:.1f}s to reconnect"
    # Backoff, not a connect attempt every cycle: cycles inside the backoff window say
    # "link down: ...; retrying in ..." and send nothing.  250 ms doubling gives ~3 attempts in 8+ cycles.
    skipped = [r for r in bad[1:] if (r.get("last_error") or "").startswith("link down")]
    assert len(skipped) >= len(bad[1:]) // 2, [r.get("last_error") for r in bad]


# -------------------------------------------- (e) slow device vs fast device

def _two_link_agent(tmp_path, slow_url, fast_url, io_threads):
    def dev(name, link):
        return {"name": name, "link": link, "unit": 1, "address_base": 0, "points": [
            {"name": "v", "table": "holding", "address": 0, "type": "uint16"}]}
    return write_agent(tmp_path / f"agent-{io_threads}.yaml",
                       [{"name": "slow-link", "url": slow_url, "response_timeout": "3s"},
                        {"name": "fast-link", "url": fast_url, "response_timeout": "1s"}],
                       [dev("slow", "slow-link"), dev("fast", "fast-link")], io_threads=io_threads)


def test_slow_device_does_not_delay_others(tramctl, plc_tcp, tmp_path):
    slow = plc_tcp({1: {"holding": {0: [1]}}})
    fast = plc_tcp({1: {"holding": {0: [2]}}})
    slow.delay(800)
    agent = _two_link_agent(tmp_path, slow.url, fast.url, io_threads=2)
    proc = run_ok(tramctl, "poll", agent, "--json", "--cycles", 5, "--interval", "100ms", timeout=60)
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
    by = {name: [r for r in lines if r["device"] == name] for name in ("slow", "fast")}
    assert [r["cycle"] for r in by["fast"]] == [1, 2, 3, 4, 5]
    assert [r["cycle"] for r in by["slow"]] == [1, 2, 3, 4, 5]
    for r in by["fast"]:
        assert _good(r) and points(r)["v"]["raw"] == 2, r
        assert r["cycle_ms"] < 200, [x["cycle_ms"] for x in by["fast"]]
    for r in by["slow"]:
        assert _good(r) and points(r)["v"]["raw"] == 1, r
        assert r["cycle_ms"] >= 800, [x["cycle_ms"] for x in by["slow"]]
    # the fast device finished all its cycles while the slow one was still on its first or second
    order = [(r["device"], r["cycle"]) for r in lines]
    assert order.index(("fast", 5)) < order.index(("slow", 2)), order


def test_one_io_thread_is_shared_by_tcp_links(tramctl, plc_tcp, tmp_path):
    """Control for the test above: with io_threads: 1 the pool really is one thread, so the slow
    link's 800 ms answers hold up the fast link (this is what io_threads: 2 avoids)."""
    slow = plc_tcp({1: {"holding": {0: [1]}}})
    fast = plc_tcp({1: {"holding": {0: [2]}}})
    slow.delay(800)
    agent = _two_link_agent(tmp_path, slow.url, fast.url, io_threads=1)
    proc = run_ok(tramctl, "poll", agent, "--json", "--cycles", 3, "--interval", "100ms", timeout=60)
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
    fast_ms = [r["cycle_ms"] for r in lines if r["device"] == "fast"]
    assert len(fast_ms) == 3 and max(fast_ms) >= 400, fast_ms


# ------------------------------------------------------------- identity registers (`expect`)

def _sunspec_words(model1_length: int) -> dict[int, list[int]]:
    """A SunSpec device: 'SunS', model 1 of the given length, then model 103 (L=50), then the end marker."""
    words = {40000: [0x5375, 0x6E53, 1, model1_length] + [0x2020] * model1_length}
    inverter = 40004 + model1_length
    words[inverter] = [103, 50] + [0] * 50 + [0xFFFF, 0]
    return words


@pytest.mark.parametrize("length,fits", [(66, True), (65, False)])
def test_sunspec_map_that_does_not_fit_is_flagged(tramctl, plc_tcp, tmp_path, length, fits):
    """The SunSpec profile is written for model 1 with L=66. A device with L=65 (SolarEdge, Fronius) shifts every
    inverter register by one: Tram must say the map does not fit instead of reporting plausible wrong values."""
    plc = plc_tcp({1: {"holding": _sunspec_words(length)}})
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": plc.url}],
                        [{"name": "pv", "link": "l", "unit": 1, "profile": "sunspec/inverter-103"}], profiles=DEVICES)
    [reading] = poll_json(tramctl, agent)
    got = qualities(reading)
    assert got["sunspec_id"] == "good" and got["common_model_id"] == "good"
    if fits:
        assert reading["health"] == "online" and reading.get("map_mismatch") is None, reading
        assert got["common_model_length"] == "good" and got["inverter_model_id"] == "good"
    else:
        assert got["common_model_length"] == "unexpected"
        assert reading["health"] == "degraded", reading
        assert "common_model_length" in reading["map_mismatch"] and "does not fit" in reading["map_mismatch"]
