"""The console in a real browser: Debian's headless Chromium, driven by selenium through /usr/bin/chromedriver.

One plant serves every test in this file (module scope, about 20 s to build): a real tram-collector with its console
on a listener of its own, two real tram-agents polling pymodbus PLCs and delivering through the real ingest path, and
a third gateway whose three days of history (with a gap, timeouts and hostile names) this file sends through the same
ingest path with its own encoder (frames.py). Every assertion compares what the browser shows with what SQLite holds.
Screenshots go to $TRAM_ARTIFACTS (default .build/test-artifacts/console).
"""
from __future__ import annotations

import csv
import gzip
import http.client
import io
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

import frames
from conftest import LOOPBACK, PLC_PY, ProcessManager, _start_plc, wait_for
from tramtest import encode

ROOT = Path(__file__).resolve().parents[2]
AGENT_BIN = Path(os.environ.get("TRAM_AGENT", ROOT / ".build" / "debug" / "tram-agent"))
COLLECTOR_BIN = Path(os.environ.get("TRAM_COLLECTOR", ROOT / ".build" / "debug" / "tram-collector"))
ARTIFACTS = Path(os.environ.get("TRAM_ARTIFACTS", ROOT / ".build" / "test-artifacts" / "console"))
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ZONE = "Asia/Ho_Chi_Minh"
HOSTILE = "<img src=x onerror=alert(1)>"
FORMULA = "=HYPERLINK(\"http://x\")"
BATCH_AGE_S = 0.5
REFRESH_S = 5.0
POLL_TIMEOUT_S = 0.3

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def serve_with_console(procs: ProcessManager, db: Path, *extra) -> tuple[subprocess.Popen, str, str]:
    """`tram-collector serve` with ingest and the console on loopback ports of their own, in ZONE: the process, the
    ingest URL and the console URL (from the LISTENING and CONSOLE lines it prints)."""
    collector = procs.spawn([COLLECTOR_BIN, "serve", "--db", db, "--listen", "127.0.0.1:0",
                             "--console-listen", "127.0.0.1:0", "--time-zone", ZONE, *extra], "collector",
                            stdout=subprocess.PIPE)
    lines = {}
    while len(lines) < 2:
        line = collector.stdout.readline().decode()
        assert line, f"collector exited\n{procs.stderr_of(collector)}"
        word, _, address = line.strip().partition(" ")
        lines[word] = "http://" + address
    return collector, lines["LISTENING"], lines["CONSOLE"]


def run(*args, timeout: float = 30) -> str:
    proc = subprocess.run([str(COLLECTOR_BIN), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"tram-collector {args}: rc={proc.returncode}\n{proc.stderr}"
    return proc.stdout.strip()


def rows(db: Path, sql: str, params=()):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


# ----------------------------------------------------------------------------------------------------- the plant

@dataclass
class Plant:
    db: Path
    ingest: str          # http://127.0.0.1:PORT
    console: str         # http://127.0.0.1:PORT
    reader: str          # a read token
    plc_north: object
    history_points: list
    history_from_ms: int
    history_to_ms: int


def agent_file(tmp: Path, name: str, gateway: str, plc_url: str, devices: list, ingest: str, token: str) -> Path:
    token_file = tmp / f"{name}.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    doc = {
        "gateway": {"id": gateway},
        "links": [{"name": "plc", "url": plc_url}],
        "devices": [{
            "name": device, "link": "plc", "unit": unit, "address_base": 0, "poll_interval": "200ms",
            "timeout": f"{int(POLL_TIMEOUT_S * 1000)}ms",
            "points": [
                {"name": "voltage", "table": "holding", "address": 0, "type": "float32", "unit": "V"},
                {"name": "energy", "table": "holding", "address": 2, "type": "uint32", "scale": 0.1, "unit": "kWh"},
                {"name": "status", "table": "holding", "address": 4, "type": "uint16"},
            ],
        } for device, unit in devices],
        "spool": {"directory": str(tmp / f"{name}-spool"), "sync_interval": "100ms"},
        "batch": {"max_age": f"{int(BATCH_AGE_S * 1000)}ms"},
        "sinks": [{"name": "collector", "url": ingest + "/v1/ingest", "token_file": str(token_file)}],
        "control": {"socket": str(tmp / f"{name}.sock"), "metrics_port": None},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def post(url: str, body: bytes, token: str) -> dict:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", "/v1/ingest", body=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/x-tram-frames"})
        reply = conn.getresponse()
        answer = json.loads(reply.read() or b"{}")
        assert reply.status == 200, answer
        return answer
    finally:
        conn.close()


def send_history(ingest: str, token: str, now_ms: int) -> tuple[list, int, int]:
    """Three days at one reading a minute, in 6-hour batches: a two-hour gap, and a run of timeouts on `flow`."""
    points = [
        frames.PointSpec("line-3", "flow", "int32", "m³/h", 0.1),
        frames.PointSpec("line-3", "running", "bool"),
        frames.PointSpec(HOSTILE, HOSTILE, "int32", HOSTILE),
        frames.PointSpec(HOSTILE, FORMULA, "uint32"),
    ]
    dictionary, schema_id = frames.dictionary("gw-history", points)
    start = (now_ms - 3 * 86_400_000) // 60_000 * 60_000
    end = now_ms // 60_000 * 60_000 - 60_000
    gap = range(start + 30 * 3_600_000, start + 32 * 3_600_000)
    timeouts = range(start + 50 * 3_600_000, start + 50 * 3_600_000 + 20 * 60_000)
    groups = []
    for i, t in enumerate(range(start, end, 60_000)):
        if t in gap:
            continue
        flow = ("timeout", 0) if t in timeouts else 500 + (i * 37) % 211 - (300 if i % 997 == 0 else 0)
        groups.append((t, [flow, i % 7 < 5, i % 13 - 6, i]))
    sequence = 0
    for first in range(0, len(groups), 360):
        sequence += 1
        body = (dictionary if sequence == 1 else b"") + frames.batch(
            "gw-history", schema_id, 1, sequence, points, groups[first:first + 360])
        post(ingest, body, token)
    return points, start, end


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    for path in (AGENT_BIN, COLLECTOR_BIN):
        if not path.exists():
            pytest.skip(f"{path} is not built (swift build)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.skip(f"{path} is missing (apt install chromium chromium-driver)")
    tmp = tmp_path_factory.mktemp("console")
    procs = ProcessManager(tmp)
    db = tmp / "collector.db"
    north = run("gateway", "add", "gw-north", "--site", "North park", "--db", db)
    south = run("gateway", "add", "gw-south", "--site", "South park", "--db", db)
    history = run("gateway", "add", "gw-history", "--site", "History park", "--db", db)
    reader = run("token", "add-reader", "browser-tests", "--db", db)
    collector, ingest, console = serve_with_console(procs, db)
    words = encode("float32", 230.5) + encode("uint32", 123456) + [7]
    plc_north = _start_plc(procs, tmp, ["--tcp", f"{LOOPBACK}:0"], "tcp", {u: {"holding": {0: words}} for u in (1, 2)},
                           [1, 2], "ignore", [])
    plc_north.host = LOOPBACK
    plc_south = _start_plc(procs, tmp, ["--tcp", f"{LOOPBACK}:0"], "tcp", {1: {"holding": {0: words}}}, [1],
                           "ignore", [])
    plc_south.host = LOOPBACK
    for name, gateway, plc, devices, token in (
            ("north", "gw-north", plc_north, [("meter", 1), ("pump", 2)], north),
            ("south", "gw-south", plc_south, [("chiller", 1), ("ghost", 7)], south)):
        config = agent_file(tmp, name, gateway, plc.url, devices, ingest, token)
        procs.spawn([AGENT_BIN, "--config", config], f"agent-{name}")
    now_ms = int(time.time() * 1000)
    points, start, end = send_history(ingest, history, now_ms)
    wait_for(lambda: len(rows(db, "SELECT DISTINCT d.name FROM readings r JOIN points p ON p.id = r.point "
                                  "JOIN devices d ON d.id = p.device")) >= 6, 20, "readings from every device")
    try:
        yield Plant(db, ingest, console, reader, plc_north, points, start, end)
    finally:
        procs.close()


# ---------------------------------------------------------------------------------------------------- the browser

class Browser:
    """One Chromium for the module; every page it loads is checked for console errors and foreign requests."""

    def __init__(self, javascript: bool = True):
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1366,768", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--disable-default-apps"):
            options.add_argument(argument)
        if not javascript:
            options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.driver.set_page_load_timeout(30)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.transferred: dict[str, int] = {}

    def drain_logs(self) -> None:
        for entry in self.driver.get_log("browser"):
            if entry["level"] == "SEVERE":
                self.errors.append(entry["message"])
        pending: dict[str, str] = {}
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
                pending[params["requestId"]] = params["request"]["url"]
            elif message["method"] == "Network.loadingFinished" and params.get("requestId") in pending:
                url = pending[params["requestId"]]
                self.transferred[url] = self.transferred.get(url, 0) + int(params.get("encodedDataLength", 0))

    def get(self, url: str):
        self.drain_logs()
        self.driver.get(url)
        return self.driver

    def sign_in(self, console: str, token: str) -> None:
        self.get(console + "/login")
        self.driver.find_element(By.ID, "token").send_keys(token)
        self.driver.find_element(By.CSS_SELECTOR, "#sign-in button, #sign-in [type=submit]").click()

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))

    def quit(self) -> None:
        self.drain_logs()
        self.driver.quit()


@pytest.fixture(scope="module")
def browser(plant):
    b = Browser()
    b.sign_in(plant.console, plant.reader)
    try:
        yield b
    finally:
        b.quit()


def page(plant: Plant, path: str) -> str:
    return plant.console + path


def quoted(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def device_path(gateway: str, device: str) -> str:
    return f"/gateways/{quoted(gateway)}/devices/{quoted(device)}"


def fetch(plant: Plant, path: str, cookie: str | None = None, method: str = "GET", body: bytes | None = None,
          headers: dict | None = None) -> tuple[int, dict, bytes]:
    parts = urllib.parse.urlsplit(plant.console)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        all_headers = dict(headers or {})
        if cookie:
            all_headers["Cookie"] = f"tram_session={cookie}"
        conn.request(method, path, body=body, headers=all_headers)
        reply = conn.getresponse()
        data = reply.read()
        if reply.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, data
    finally:
        conn.close()


def session_cookie(browser: Browser) -> str:
    return browser.driver.get_cookie("tram_session")["value"]


def latest_quality(db: Path, gateway: str, device: str) -> list[int]:
    return [q for (q,) in rows(db, """
        SELECT l.quality FROM point_latest l JOIN points p ON p.id = l.point JOIN devices d ON d.id = p.device
        JOIN gateways g ON g.id = d.gateway WHERE g.name = ? AND d.name = ?""", (gateway, device))]


# --------------------------------------------------------------------------------------------------------- tests

def test_without_a_valid_session_every_page_is_the_sign_in_page(plant):
    for path in ("/", "/problems", "/gateways/gw-north", device_path("gw-north", "meter"),
                 "/report?site=North%20park&period=2026", "/report.csv?site=North%20park&period=2026",
                 "/live" + device_path("gw-north", "meter")):
        for cookie in (None, "not-a-session"):
            status, _, body = fetch(plant, path, cookie)
            assert status == 401, (path, status)
            text = body.decode()
            assert 'id="sign-in"' in text and "gw-north" not in text and "230.5" not in text, path
    # A wrong token is refused with a message; an ingest token is not a read token.
    status, _, body = fetch(plant, "/login", method="POST", body=b"token=tramrd_wrong",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401 and b'id="sign-in-error"' in body


def test_sign_in_sets_a_strict_session_cookie_and_revoking_the_token_ends_it(plant):
    token = run("token", "add-reader", "short-lived", "--db", plant.db)
    status, headers, _ = fetch(plant, "/login", method="POST", body=f"token={token}".encode(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; under TLS it is Secure (Swift tests)
    value = re.match(r"tram_session=([^;]+)", cookie).group(1)
    assert fetch(plant, "/", value)[0] == 200
    assert "short-lived" in run("token", "list", "--db", plant.db)
    run("token", "revoke", "short-lived", "--db", plant.db)
    assert fetch(plant, "/", value)[0] == 401


def test_fleet_lists_exactly_the_gateways_and_device_states_created_through_ingest(plant, browser):
    wait_for(lambda: latest_quality(plant.db, "gw-south", "ghost") and
             all(q != 0 for q in latest_quality(plant.db, "gw-south", "ghost")), 20, "ghost offline")
    driver = browser.get(page(plant, "/"))
    browser.screenshot("fleet-1366")
    found = {r.get_attribute("data-gateway"): r for r in driver.find_elements(By.CSS_SELECTOR, "#fleet tr.gateway")}
    assert set(found) == {"gw-north", "gw-south", "gw-history"}
    assert {g: r.get_attribute("data-site") for g, r in found.items()} == {
        "gw-north": "North park", "gw-south": "South park", "gw-history": "History park"}
    counts = {g: tuple(int(r.get_attribute(f"data-{s}")) for s in ("online", "degraded", "offline"))
              for g, r in found.items()}
    assert counts["gw-north"] == (2, 0, 0)
    assert counts["gw-south"] == (1, 0, 1)
    assert found["gw-north"].get_attribute("data-state") == "reporting"
    # The history gateway's last upload was when the fixture sent it; its devices' states come from their last
    # readings: line-3 all good, the hostile device good too.
    assert counts["gw-history"] == (2, 0, 0)
    midnight = datetime.now(ZoneInfo(ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    (today, size), = rows(plant.db, "SELECT sum(h.readings), sum(h.bytes) FROM ingest_hours h JOIN gateways g "
                                    "ON g.id = h.gateway WHERE g.name = 'gw-history' AND h.hour * 3600000 >= ?",
                          (int(midnight.timestamp() * 1000),))
    assert int(found["gw-history"].get_attribute("data-readings-today")) == today > 4000
    assert int(found["gw-history"].get_attribute("data-bytes-today")) == size
    # Filter by site.
    driver = browser.get(page(plant, "/?site=South%20park"))
    assert [r.get_attribute("data-gateway") for r in driver.find_elements(By.CSS_SELECTOR, "#fleet tr.gateway")] == [
        "gw-south"]


def test_gateway_page_names_each_device_state_and_its_last_problem(plant, browser):
    driver = browser.get(page(plant, "/gateways/gw-south"))
    devices = {r.get_attribute("data-device"): r for r in driver.find_elements(By.CSS_SELECTOR, "#devices tr.device")}
    assert set(devices) == {"chiller", "ghost"}
    assert devices["chiller"].get_attribute("data-state") == "online"
    assert devices["ghost"].get_attribute("data-state") == "offline"
    assert "timeout" in devices["ghost"].find_element(By.CSS_SELECTOR, "td.problem").text
    browser.screenshot("gateway-1366")


def test_device_page_shows_the_stored_latest_value_exactly(plant, browser):
    driver = browser.get(page(plant, device_path("gw-north", "meter")))
    browser.screenshot("device-1366")
    stored = dict(rows(plant.db, """
        SELECT p.name, l.value FROM point_latest l JOIN points p ON p.id = l.point JOIN devices d ON d.id = p.device
        JOIN gateways g ON g.id = d.gateway WHERE g.name = 'gw-north' AND d.name = 'meter'"""))
    shown = {r.get_attribute("data-point"): r for r in driver.find_elements(By.CSS_SELECTOR, "#points tr.point")}
    assert set(shown) == set(stored) == {"voltage", "energy", "status"}
    for name, value in stored.items():
        cell = shown[name].find_element(By.CSS_SELECTOR, "td.value")
        assert float(cell.get_attribute("data-value")) == value, name
    assert stored["voltage"] == 230.5 and stored["energy"] == 12345.6
    # A whole number reads without its ".0"; data-value keeps the stored text.
    assert shown["status"].find_element(By.CSS_SELECTOR, "td.value").text == "7"
    assert shown["voltage"].find_element(By.CSS_SELECTOR, "[data-quality]").get_attribute("data-quality") == "good"


def drawn_buckets(svg) -> list[tuple[int, int, int]]:
    d = svg.find_element(By.CSS_SELECTOR, "path.range").get_attribute("d")
    return [(int(i), int(high), int(low)) for i, high, low in re.findall(r"M\s*(\d+)[ ,](\d+)\s*V\s*(\d+)", d)]


def y_of(value: float, low: float, high: float) -> int:
    if high == low:
        return 500
    y = (high - value) / (high - low) * 1000
    return int(y + 0.5) if y >= 0 else -int(-y + 0.5)


def test_a_plot_draws_exactly_the_buckets_computed_from_the_raw_rows(plant, browser):
    driver = browser.get(page(plant, device_path("gw-history", "line-3") + "?range=7d"))
    browser.screenshot("plot-7d-1366")
    svg = driver.find_element(By.CSS_SELECTOR, "svg.plot[data-point='flow']")
    source = svg.get_attribute("data-source")
    start, end = int(svg.get_attribute("data-from")), int(svg.get_attribute("data-to"))
    width = int(svg.get_attribute("data-width-ms"))
    low, high = float(svg.get_attribute("data-y-low")), float(svg.get_attribute("data-y-high"))
    assert source in ("minute", "hour") and 7 * 86_400_000 <= end - start <= 7 * 86_400_000 + 2 * width
    assert start % width == 0 and width % 60_000 == 0  # buckets aligned, so minute rollups regroup exactly
    assert 1000 <= int(svg.get_attribute("data-buckets")) <= 2000
    point = rows(plant.db, "SELECT p.id FROM points p JOIN devices d ON d.id = p.device WHERE d.name = 'line-3' "
                           "AND p.name = 'flow'")[0][0]
    reference = rows(plant.db, """
        SELECT (time_ms - ?1) / ?2, count(*), min(value), max(value) FROM readings
        WHERE point = ?3 AND time_ms >= ?1 AND time_ms < ?4 AND value IS NOT NULL GROUP BY 1 ORDER BY 1""",
                     (start, width, point, end))
    expected = [(i, y_of(mx, low, high), y_of(mn, low, high)) for i, _, mn, mx in reference]
    assert drawn_buckets(svg) == expected
    assert len(expected) > 500  # three days of data in a seven-day plot
    # The two-hour gap and the timeouts are gaps in the mean line, not straight lines across them.
    mean = svg.find_element(By.CSS_SELECTOR, "path.mean").get_attribute("d")
    assert mean.count("M") >= 3
    # Short ranges draw every reading (one bucket each) from the raw rows.
    driver = browser.get(page(plant, device_path("gw-north", "meter") + "?range=1h"))
    svg = driver.find_element(By.CSS_SELECTOR, "svg.plot[data-point='voltage']")
    assert svg.get_attribute("data-source") in ("raw", "minute")


def test_hostile_names_render_as_text_everywhere(plant, browser):
    for path in ("/", "/gateways/gw-history", device_path("gw-history", HOSTILE), "/problems",
                 "/report?site=History%20park&period=" + datetime.now(ZoneInfo(ZONE)).strftime("%Y")):
        driver = browser.get(page(plant, path))
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 — an alert means the name ran as script
        assert not [i for i in driver.find_elements(By.TAG_NAME, "img") if i.get_attribute("src").endswith("/x")]
        if path not in ("/", "/problems"):  # the fleet names gateways only; the hostile device has no problem
            assert HOSTILE in driver.find_element(By.TAG_NAME, "body").text, path
    status, _, body = fetch(plant, device_path("gw-history", HOSTILE), session_cookie(browser))
    assert status == 200 and HOSTILE.encode() not in body  # escaped in the HTML and in the SVG
    assert b"&lt;img src=x onerror=alert(1)&gt;" in body


def test_every_response_carries_the_security_headers(plant, browser):
    cookie = session_cookie(browser)
    for path in ("/login", "/", device_path("gw-north", "meter"), "/static/console.js", "/static/console.css"):
        status, headers, _ = fetch(plant, path, cookie)
        assert status == 200, path
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy and "script-src 'self'" in policy
        assert headers["x-content-type-options"] == "nosniff"


def test_stopping_a_device_puts_it_on_the_problems_page_within_a_batch_age_and_a_refresh(plant, browser):
    driver = browser.get(page(plant, "/problems"))
    assert not driver.find_elements(By.CSS_SELECTOR, "tr.problem[data-device='pump']")
    plant.plc_north.silence(True, [2])
    stopped = time.monotonic()
    try:
        # The page refreshes itself: the test only looks, it does not reload.
        limit = POLL_TIMEOUT_S + 0.2 + BATCH_AGE_S + REFRESH_S + 2.0
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr.problem[data-device='pump'][data-kind='offline']"),
                 limit, "pump on the problems page")
        elapsed = time.monotonic() - stopped
        browser.screenshot("problems-1366")
        row = driver.find_element(By.CSS_SELECTOR, "tr.problem[data-device='pump']")
        assert row.get_attribute("data-gateway") == "gw-north"
        assert row.find_element(By.CSS_SELECTOR, "a").get_attribute("href").endswith(device_path("gw-north", "pump"))
        since = int(row.get_attribute("data-since-ms"))
        assert abs(since / 1000 - time.time()) < limit + 5
        print(f"pump on the problems page {elapsed:.1f} s after it stopped answering (limit {limit:.1f} s)")
    finally:
        plant.plc_north.silence(False, [2])
    wait_for(lambda: all(q == 0 for q in latest_quality(plant.db, "gw-north", "pump")), 10, "pump back")


def test_live_values_refresh_without_reloading_the_page(plant, browser):
    driver = browser.get(page(plant, device_path("gw-north", "pump")))
    driver.execute_script("window.tramNotReloaded = true")
    words = encode("float32", 231.25)
    plant.plc_north.set(2, "holding", 0, *words)
    try:
        cell = lambda: driver.find_element(By.CSS_SELECTOR, "tr.point[data-point='voltage'] td.value")  # noqa: E731
        wait_for(lambda: cell().get_attribute("data-value") == "231.25", REFRESH_S + BATCH_AGE_S + 3, "the new value")
        assert "231.25" in cell().text
        assert driver.execute_script("return window.tramNotReloaded === true")
    finally:
        plant.plc_north.set(2, "holding", 0, *encode("float32", 230.5))


def month_bounds(year: int, month: int) -> tuple[int, int]:
    zone = ZoneInfo(ZONE)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def test_report_csv_totals_equal_sql_counts_over_the_same_period(plant, browser):
    cookie = session_cookie(browser)
    first = datetime.fromtimestamp(plant.history_from_ms / 1000, ZoneInfo(ZONE))
    last = datetime.fromtimestamp(plant.history_to_ms / 1000, ZoneInfo(ZONE))
    months = sorted({(first.year, first.month), (last.year, last.month)})
    for year, month in months + [(last.year, None)]:
        period = f"{year}-{month:02d}" if month else f"{year}"
        status, headers, body = fetch(plant, f"/report.csv?site=History%20park&period={period}", cookie)
        assert status == 200 and headers["content-type"].startswith("text/csv")
        assert "attachment" in headers.get("content-disposition", "")
        table = list(csv.DictReader(io.StringIO(body.decode())))
        total = [r for r in table if r["device"] == "total" or r.get("site") == "total"]
        assert len(total) == 1, table
        start, end = month_bounds(year, month) if month else (
            int(datetime(year, 1, 1, tzinfo=ZoneInfo(ZONE)).timestamp() * 1000),
            int(datetime(year + 1, 1, 1, tzinfo=ZoneInfo(ZONE)).timestamp() * 1000))
        (count,), = rows(plant.db, """
            SELECT count(*) FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device
            JOIN gateways g ON g.id = d.gateway WHERE g.site = 'History park' AND r.time_ms >= ? AND r.time_ms < ?""",
                         (start, end))
        assert int(total[0]["readings"]) == count, period
        per_device = {r["device"]: int(r["readings"]) for r in table if r is not total[0] and r["device"]}
        assert sum(per_device.values()) == count
        # A name that starts a formula is neutralised in its cell.
        assert all(not cell.startswith(("=", "+", "-", "@")) for r in table for cell in r.values() if cell)
    driver = browser.get(page(plant, f"/report?site=History%20park&period={months[-1][0]}-{months[-1][1]:02d}"))
    browser.screenshot("report-1366")
    assert driver.find_element(By.ID, "report") and ZONE in driver.find_element(By.TAG_NAME, "body").text


PAGES = ["/", "/problems", "/gateways/gw-north", device_path("gw-north", "meter"),
         device_path("gw-history", "line-3") + "?range=7d", "/report?site=History%20park&period=2026"]


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
def test_pages_fit_an_office_screen_and_a_phone_without_horizontal_scrolling(plant, browser, width, height):
    driver = browser.driver
    driver.set_window_size(width, height)
    try:
        # The window size includes the browser's own frame: set the viewport exactly.
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(width + (width - inner[0]), height + (height - inner[1]))
        for path in PAGES:
            browser.get(page(plant, path))
            assert driver.execute_script("return window.innerWidth") == width
            scroll = driver.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} at {width}x{height}: scrollWidth {scroll}"
            browser.screenshot(f"{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-') or 'fleet'}-{width}")
    finally:
        driver.set_window_size(1366, 768)


def test_first_load_of_every_page_is_small_and_comes_only_from_the_collector(plant, browser):
    origin = plant.console
    for path in PAGES:
        browser.transferred.clear()
        browser.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        browser.get(page(plant, path))
        browser.drain_logs()
        total = sum(browser.transferred.values())
        assert 0 < total <= 300_000, f"{path}: {total} bytes"
    foreign = [u for u in browser.requests if not (u.startswith(origin) or u.startswith("data:"))]
    assert not foreign


def test_pages_work_with_javascript_off(plant):
    b = Browser(javascript=False)
    try:
        b.sign_in(plant.console, plant.reader)
        driver = b.get(page(plant, device_path("gw-history", "line-3") + "?range=24h"))
        assert driver.find_elements(By.CSS_SELECTOR, "svg.plot path.range")
        assert driver.find_elements(By.CSS_SELECTOR, "#points tr.point")
        b.screenshot("device-no-js")
    finally:
        b.quit()
    assert not b.errors


def test_no_page_logged_a_console_error(plant, browser):
    browser.drain_logs()
    assert not browser.errors
