"""The console's cellular link in a real browser (Debian's headless Chromium through selenium): the fleet's Link
column and the report's coverage section, for gateways whose built-in `modem` device (docs/builtin-devices.md) sent
history through the collector's real ingest path (encoded by frames.py). Every value the browser shows is compared with
what SQLite holds, and the percentiles with a nearest-rank computation over the raw rows made here.

    TRAM_COLLECTOR=.build/debug/tram-collector python3 -m pytest -q Tests/integration/test_console_link.py
"""
from __future__ import annotations

import math
import os
import subprocess
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import frames
from conftest import ProcessManager
from test_console import CHROMEDRIVER, CHROMIUM, COLLECTOR_BIN, Browser, post, rows, run, serve_with_console

ZONE = "Asia/Ho_Chi_Minh"
SITE = "Coastal park"
HOSTILE_OPERATOR = "<img src=x onerror=alert(1)>"
POINTS = [
    frames.PointSpec("modem", "technology", "uint16"),
    frames.PointSpec("modem", "operator_code", "uint32"),
    frames.PointSpec("modem", "operator_name", "string"),
    frames.PointSpec("modem", "lte_rsrp", "float64", "dBm"),
    frames.PointSpec("modem", "lte_rsrq", "float64", "dB"),
    frames.PointSpec("modem", "lte_snr", "float64", "dB"),
    frames.PointSpec("modem", "nr_rsrp", "float64", "dBm"),
    frames.PointSpec("modem", "nr_rsrq", "float64", "dB"),
    frames.PointSpec("modem", "nr_snr", "float64", "dB"),
]
NA = ("not_available", 0)


def send_modem(ingest: str, token: str, gateway: str, groups: list) -> None:
    dictionary, schema_id = frames.dictionary(gateway, POINTS)
    for sequence, first in enumerate(range(0, len(groups), 60)):
        body = (dictionary if sequence == 0 else b"") + frames.batch(
            gateway, schema_id, 1, sequence, POINTS, groups[first:first + 60])
        post(ingest, body, token)


@pytest.fixture(scope="module")
def cell_plant(tmp_path_factory):
    for path in (COLLECTOR_BIN, CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.skip(f"{path} is missing")
    tmp = tmp_path_factory.mktemp("console-link")
    procs = ProcessManager(tmp)
    db = tmp / "collector.db"
    tokens = {g: run("gateway", "add", g, "--site", SITE, "--db", db) for g in ("gw-5g", "gw-lte", "gw-none")}
    reader = run("token", "add-reader", "link-tests", "--db", db)
    collector, ingest, console = serve_with_console(procs, db)
    # Two hours of a poll a minute, all in one local month: up to now, or, in a month's first two hours, up to the
    # month's start (the previous month then). The report is asked for that month by name.
    now = int(time.time() * 1000) // 60_000 * 60_000
    local = datetime.fromtimestamp(now / 1000, ZoneInfo(ZONE))
    month_start = int(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    end = now if now - month_start >= 120 * 60_000 else month_start
    times = list(range(end - 120 * 60_000, end, 60_000))
    period = datetime.fromtimestamp((end - 1) / 1000, ZoneInfo(ZONE)).strftime("%Y-%m")
    nsa = [(t, [5, 45201, "MobiFone", -97.0 - i % 9, -11.0, 7.5 + i % 5, -84.0 - i % 13, -10.5, 18.0 + i % 7])
           for i, t in enumerate(times)]
    lte = [(t, [4, 45204, HOSTILE_OPERATOR, -104.5 + (i * 7) % 17, -16.0, -1.0 + i % 4, NA, NA, NA])
           for i, t in enumerate(times)]
    send_modem(ingest, tokens["gw-5g"], "gw-5g", nsa)
    send_modem(ingest, tokens["gw-lte"], "gw-lte", lte)
    meter = [frames.PointSpec("meter", "power", "int32")]
    dictionary, schema_id = frames.dictionary("gw-none", meter)
    post(ingest, dictionary + frames.batch("gw-none", schema_id, 1, 0, meter, [(now - 60_000, [5])]), tokens["gw-none"])
    browser = Browser()
    browser.sign_in(console, reader)
    try:
        yield db, console, browser, period
    finally:
        browser.quit()
        procs.close()


def latest(db: Path, gateway: str, point: str):
    found = rows(db, """
        SELECT l.value, l.raw_text, l.time_ms FROM point_latest l JOIN points p ON p.id = l.point
        JOIN devices d ON d.id = p.device JOIN gateways g ON g.id = d.gateway
        WHERE g.name = ? AND d.name = 'modem' AND p.name = ? AND l.quality = 0""", (gateway, point))
    return found[0] if found else None


def shown(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def test_the_fleet_shows_each_link_as_stored(cell_plant):
    db, console, browser, _ = cell_plant
    driver = browser.get(console + "/")
    cells = {c.find_element("xpath", "..").get_attribute("data-gateway"): c
             for c in driver.find_elements("css selector", "#fleet tr.gateway td.link")}
    assert set(cells) == {"gw-5g", "gw-lte", "gw-none"}
    five = cells["gw-5g"]
    assert five.get_attribute("data-technology") == "5g-nsa" and five.get_attribute("data-radio") == "NR"
    for name in ("rsrp", "rsrq", "snr"):
        assert five.get_attribute(f"data-{name}") == shown(latest(db, "gw-5g", f"nr_{name}")[0])
    assert five.get_attribute("data-measured-ms") == str(latest(db, "gw-5g", "nr_rsrp")[2])
    assert "MobiFone" in five.text and "NR" in five.text
    lte = cells["gw-lte"]
    assert lte.get_attribute("data-radio") == "LTE"
    rsrp = latest(db, "gw-lte", "lte_rsrp")[0]
    assert lte.get_attribute("data-rsrp") == shown(rsrp)
    band = "excellent" if rsrp >= -80 else "good" if rsrp >= -90 else "mid-cell" if rsrp >= -100 else "cell-edge"
    span = lte.find_element("css selector", "span.signal[data-measure='rsrp']")
    assert span.get_attribute("data-band") == band and f"band-{band}" in span.get_attribute("class")
    assert HOSTILE_OPERATOR in lte.text  # shown as text, never as an element
    assert not driver.find_elements("css selector", "td.link img")
    assert cells["gw-none"].get_attribute("data-link") == "none" and cells["gw-none"].text.strip() == "—"
    browser.screenshot("fleet-link")


def nearest_rank_floor(values: list[float], percent: int) -> int:
    ordered = sorted(values)
    return math.floor(ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1])


def test_the_report_shows_coverage_and_percentiles_from_the_readings(cell_plant):
    db, console, browser, period = cell_plant
    loaded = time.time()
    driver = browser.get(console + "/report?site=" + urllib.parse.quote(SITE, safe="") + "&period=" + period)
    section = driver.find_element("id", "telecom")
    values = {code: [v for (v,) in rows(db, """
        SELECT r.value FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device
        JOIN gateways g ON g.id = d.gateway WHERE g.site = ? AND d.name = 'modem' AND p.name = 'lte_rsrp'
          AND r.quality = 0 AND g.name = ?""", (SITE, gateway))] for code, gateway in ((45201, "gw-5g"), (45204, "gw-lte"))}
    for code, readings in values.items():
        row = section.find_element("css selector", f"#telecom-operators tr.operator[data-operator='{code}']")
        assert row.get_attribute("data-lte-rsrp-readings") == str(len(readings))
        assert row.get_attribute("data-lte-rsrp-p50") == str(nearest_rank_floor(readings, 50))
        assert row.get_attribute("data-lte-rsrp-p10") == str(nearest_rank_floor(readings, 10))
        figure = section.find_element(
            "css selector", f"figure.distribution[data-measure='lte_rsrp'][data-operator='{code}']")
        bars = figure.find_elements("css selector", "svg.histogram rect.bucket")
        counted = {int(b.get_attribute("data-low")): int(b.get_attribute("data-count")) for b in bars}
        expected: dict[int, int] = {}
        for v in readings:
            expected[math.floor(v / 5) * 5] = expected.get(math.floor(v / 5) * 5, 0) + 1
        assert counted == expected
    assert HOSTILE_OPERATOR in section.text
    assert not section.find_elements("css selector", "img")
    all_row = section.find_element("css selector", "#telecom-operators tr.all")
    # Availability counts whole UTC hours that have passed: every upload was in the current hour, which has not.
    local = datetime.fromtimestamp(time.time(), ZoneInfo(ZONE))
    month_start = int(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    passed = {3 * (int(t * 1000) // 3_600_000 - month_start // 3_600_000) for t in (loaded, time.time())}
    assert int(all_row.get_attribute("data-hours")) in passed
    uploads = rows(db, "SELECT count(*) FROM ingest_hours WHERE hour >= ? AND hour < ?",
                   (month_start // 3_600_000, int(loaded * 1000) // 3_600_000))[0][0]
    assert int(all_row.get_attribute("data-uplink-hours")) == uploads
    assert all_row.get_attribute("data-time-5g-nsa-ms") and all_row.get_attribute("data-time-lte-ms")
    browser.screenshot("report-coverage")
    # Nothing in the section is wider than the page (an office screen).
    assert driver.execute_script("return document.documentElement.scrollWidth") <= driver.execute_script(
        "return window.innerWidth")
