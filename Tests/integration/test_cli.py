"""tramctl validate / plan / scan / simulate, and poll's output stream."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from conftest import mbpoll_read
from tramtest import DEVICES, REPO, poll_json, points, run_ok, tramctl_background, write_agent

PROFILES = sorted(DEVICES.glob("*/*.yaml"))
PROFILE_IDS = [f"{p.parent.name}/{p.stem}" for p in PROFILES]


# ------------------------------------------------------------------ validate

@pytest.mark.parametrize("profile", PROFILES, ids=PROFILE_IDS)
def test_validate_every_profile(tramctl, profile):
    proc = tramctl("validate", profile)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in (proc.stdout + proc.stderr).lower()


def test_validate_all_profiles_in_one_run(tramctl):
    proc = tramctl("validate", *PROFILES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len([l for l in proc.stdout.splitlines() if ": ok: " in l]) == len(PROFILES), proc.stdout


def test_validate_demo_agent(tramctl):
    proc = tramctl("validate", REPO / "deploy" / "demo" / "agent.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


BROKEN = """\
gateway:
  id: gw-broken
profiles: {profiles}
links:
  - name: line1
    url: tcp://127.0.0.1:1502
    respone_timeout: 500ms
devices:
  - name: incomer
    link: line1
    unit: 1
    profile: eastron/sdm63
  - name: incomer
    link: line1
    unit: 2
    profile: eastron/sdm630
  - name: plc
    link: line1
    unit: 3
    address_base: 0
    points:
      - {{ name: temp, table: holding, adress: 10, type: int16 }}
      - {{ name: flow, table: holding, address: 20, type: int32 }}
      - {{ name: level, table: holding, address: 21, type: int16 }}
      - {{ name: total, table: holding, address: 65535, type: int32 }}
"""


def test_validate_reports_every_problem_in_one_run(tramctl, tmp_path):
    path = tmp_path / "broken.yaml"
    text = BROKEN.format(profiles=DEVICES)
    path.write_text(text)
    lines = text.splitlines()

    def at(fragment: str, occurrence: int = 1, col_of: str | None = None) -> tuple[int, int | None]:
        hits = [i for i, l in enumerate(lines) if fragment in l]
        i = hits[occurrence - 1]
        return i + 1, (lines[i].index(col_of) + 1 if col_of else None)

    proc = tramctl("validate", path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    diags = []
    for line in out.splitlines():
        m = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): error: (.*)$", line)
        if m:
            diags.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    assert diags, out

    def expect(where: tuple[int, int | None], *words: str) -> None:
        line, col = where
        found = [d for d in diags if d[0] == line and all(w in d[2] for w in words)]
        assert found, f"no error at line {line} mentioning {words}:\n{out}"
        if col is not None:
            assert any(d[1] == col for d in found), f"wrong column (want {col}) for {found}"

    expect(at("adress:", col_of="adress"), "adress", "did you mean 'address'")
    expect(at("respone_timeout", col_of="respone_timeout"), "respone_timeout", "did you mean 'response_timeout'")
    expect(at("profile: eastron/sdm63", col_of="eastron/sdm63"),   # first hit: the sdm63 line
           "eastron/sdm63", "did you mean 'eastron/sdm630'")
    expect(at("- name: incomer", 2), "duplicate", "incomer")
    expect(at("name: level"), "overlap", "level", "flow")
    expect(at("name: total"), "65535")
    # and nothing is reported twice for the same place and reason
    assert len(diags) == len(set(diags)), out


def test_validate_profile_with_errors_points_at_the_profile(tramctl, tmp_path):
    profile = tmp_path / "acme" / "m1.yaml"
    profile.parent.mkdir()
    profile.write_text("profile:\n  vendor: Acme\n  model: M1\naddress_base: 0\npoints:\n"
                       "  - { name: a, table: input, address: 0, type: float32, ordr: CDAB }\n"
                       "  - { name: a, table: input, address: 10, type: float32 }\n")
    proc = tramctl("validate", profile)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert re.search(rf"{re.escape(str(profile))}:6:\d+: error: .*ordr.*did you mean 'order'", out), out
    assert re.search(rf"{re.escape(str(profile))}:7:\d+: error: .*duplicate.*'a'", out, re.I), out


# ---------------------------------------------------------------------- plan

TYPE_REGISTERS = {"int16": 1, "uint16": 1, "bit": 1, "int32": 2, "uint32": 2, "float32": 2,
                  "int64": 4, "uint64": 4, "float64": 4, "bool": 1}
FUNCTION = {"coil": 1, "discrete_input": 2, "holding": 3, "input": 4}


def _point_span(point: dict, defaults: dict, base: int) -> tuple[str, int, int]:
    """(table, first PDU address, count) of a profile point."""
    table = point.get("table", defaults.get("table"))
    type_ = str(point.get("type", defaults.get("type")))
    m = re.fullmatch(r"string\((\d+)\)", type_)
    if m:
        count = int(m.group(1))
    elif type_ == "string":
        count = int(point["length"])
    else:
        count = TYPE_REGISTERS[type_]
    return table, int(point["address"]) - base, count


def _profile_agent(tmp_path: Path, ref: str, limits: dict | None = None) -> Path:
    dev = {"name": "dev", "link": "l", "unit": 1, "profile": ref}
    if limits:
        dev["limits"] = limits
    return write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": "tcp://127.0.0.1:1502"}], [dev],
                       profiles=DEVICES)


def _check_plan(plan: list[dict], doc: dict, limits: dict) -> None:
    defaults = doc.get("defaults") or {}
    base = doc["address_base"]
    spans = {p["name"]: _point_span(p, defaults, base) for p in doc["points"]}
    scale_from = {p["name"]: p["scale_from"] for p in doc["points"] if p.get("scale_from")}
    [dev] = plan
    seen: dict[str, int] = {}
    for r in dev["requests"]:
        table, address, count = r["table"], r["address"], r["count"]
        bits = table in ("coil", "discrete_input")
        assert r["function"] == FUNCTION[table], r
        limit = limits.get("max_registers", 125) if not bits else 2000
        assert 1 <= count <= limit, (r, limits)
        if limits.get("even_count") and not bits:
            assert count % 2 == 0, (r, limits)
        assert 0 <= address and address + count <= 65536, r
        covered = []
        for name in r["points"]:
            seen[name] = seen.get(name, 0) + 1
            t, a, n = spans[name]
            assert t == table, (name, r)
            assert address <= a and a + n <= address + count, (name, (a, n), r)
            covered.append((a, a + n))
        # the request reads nothing outside its points except the even-count pad, and no gap over max_gap
        covered.sort()
        assert covered[0][0] - address + (address + count - max(e for _, e in covered)) <= \
            (1 if limits.get("even_count") else 0), (r, covered)
        # a value and its scale_from exponent are read in one request, gaps or not
        groups = []
        for name in r["points"]:
            sf = scale_from.get(name)
            if sf:
                assert sf in r["points"], f"{name} is not read in the same request as its scale_from {sf}: {r}"
                (_, a1, n1), (_, a2, n2) = spans[name], spans[sf]
                groups.append((min(a1, a2), max(a1 + n1, a2 + n2)))
        end = covered[0][1]
        for s, e in covered[1:]:
            if s - end > limits.get("max_gap", 10):
                assert any(g0 <= end and s <= g1 for g0, g1 in groups), (f"gap {s - end} > max_gap", r)
            end = max(end, e)
    assert seen == {name: 1 for name in spans}, "every point in exactly one request"


@pytest.mark.parametrize("profile", PROFILES, ids=PROFILE_IDS)
def test_plan_respects_profile_limits(tramctl, tmp_path, profile):
    doc = yaml.safe_load(profile.read_text())
    ref = f"{profile.parent.name}/{profile.stem}"
    plan = json.loads(run_ok(tramctl, "plan", _profile_agent(tmp_path, ref), "--json").stdout)
    assert plan[0]["points"] == len(doc["points"])
    _check_plan(plan, doc, doc.get("limits") or {})


@pytest.mark.parametrize("ref,max_registers,even", [
    ("eastron/sdm630", 80, True), ("carlo-gavazzi/em24-din", 11, False), ("schneider/atv320", 63, False),
])
def test_named_profiles_have_the_documented_limits(ref, max_registers, even):
    limits = yaml.safe_load((DEVICES / f"{ref}.yaml").read_text())["limits"]
    assert limits["max_registers"] == max_registers and bool(limits.get("even_count")) == even


@pytest.mark.parametrize("ref,override", [
    ("schneider/atv320", {"max_registers": 29}),                       # ATV312, as the profile says
    ("eastron/sdm630", {"max_registers": 20}),
    ("sunspec/inverter-103", {"max_registers": 60, "max_gap": 0}),
])
def test_plan_applies_agent_limit_overrides(tramctl, tmp_path, ref, override):
    doc = yaml.safe_load((DEVICES / f"{ref}.yaml").read_text())
    plan = json.loads(run_ok(tramctl, "plan", _profile_agent(tmp_path, ref, override), "--json").stdout)
    _check_plan(plan, doc, {**(doc.get("limits") or {}), **override})


# ---------------------------------------------------------------------- scan

@pytest.mark.parametrize("missing_unit", ["ignore", "exception"])
def test_scan_finds_exactly_the_units_present(tramctl, plc_tcp, missing_unit):
    # unit 3 has no holding register 0: it answers exception 02, which still means "present"
    plc = plc_tcp({1: {"holding": {0: [11]}}, 3: {"input": {0: [33]}}}, units=[1, 3], missing_unit=missing_unit)
    t0 = time.monotonic()
    proc = run_ok(tramctl, "scan", "--link", plc.url, "--from", 1, "--to", 5, "--timeout", "100ms", "--json")
    elapsed = time.monotonic() - t0
    found = json.loads(proc.stdout)
    assert [f["unit"] for f in found] == [1, 3], found
    assert sorted(u for u, *_ in plc.log()) == [1, 2, 3, 4, 5], plc.log()
    assert elapsed < 5, elapsed


# ------------------------------------------------------------------ simulate

def test_simulate_sdm630_serves_plausible_values(tramctl, procs, tmp_path):
    sim = tramctl_background(procs, "simulate", "--profile", DEVICES / "eastron" / "sdm630.yaml",
                             "--listen", "127.0.0.1:0")
    ready = sim.wait_line(lambda l: l.startswith("READY"), 15, "READY line")
    m = re.fullmatch(r"READY tcp://127\.0\.0\.1:(\d+)", ready.strip())
    assert m, ready
    port = int(m.group(1))
    assert port != 0
    volts = mbpoll_read(("127.0.0.1", port), 1, "input", 0, 3, "float")
    assert all(200 <= v <= 260 for v in volts), volts

    agent = write_agent(tmp_path / "agent.yaml", [{"name": "sim", "url": f"tcp://127.0.0.1:{port}"}],
                        [{"name": "incomer", "link": "sim", "unit": 1, "profile": "eastron/sdm630"}],
                        profiles=DEVICES)
    readings = poll_json(tramctl, agent, "--cycles", 2, "--interval", "100ms")
    assert len(readings) == 2
    doc = yaml.safe_load((DEVICES / "eastron" / "sdm630.yaml").read_text())
    for r in readings:
        got = points(r)
        assert set(got) == {p["name"] for p in doc["points"]}
        bad = {n: p["quality"] for n, p in got.items() if p["quality"] != "good"}
        assert not bad, bad
        assert r["health"] == "online" and r["failed_requests"] == 0, r
        for phase in ("l1", "l2", "l3"):
            assert 200 <= got[f"voltage_{phase}"]["value"] <= 260, got[f"voltage_{phase}"]
            assert got[f"voltage_{phase}"]["unit"] == "V"
    assert sim.proc.poll() is None, "simulator must keep serving"


# ---------------------------------------------------------------- poll output

def test_poll_json_lines_stream_while_polling(tramctl, plc_tcp, procs, tmp_path):
    plc = plc_tcp({1: {"holding": {0: [42]}}})
    agent = write_agent(tmp_path / "agent.yaml", [{"name": "l", "url": plc.url}],
                        [{"name": "dev", "link": "l", "unit": 1, "address_base": 0, "points": [
                            {"name": "v", "table": "holding", "address": 0, "type": "uint16"}]}])
    poll = tramctl_background(procs, "poll", agent, "--json", "--cycles", 40, "--interval", "200ms")
    first = poll.wait_json(lambda r: True, 3, "the first JSON line (the run takes 8 s)")
    assert first["cycle"] == 1
