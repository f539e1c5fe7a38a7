"""tram-collector end to end: the built binary, its CLI, curl as the client, SQLite read back directly.

The frames come from the golden vectors (written by Tram's encoder) and from a small independent Python encoder
below (written from docs/wire-format.md), and every stored value is checked against tram_wire's independent decoder.
"""
from __future__ import annotations

import gzip
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

import frames
import tram_wire as tw
from test_wire_python import BATCH_BYTES, DICT_BYTES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collector_bin() -> Path:
    path = Path(os.environ.get("TRAM_COLLECTOR", ROOT / ".build" / "debug" / "tram-collector"))
    if not path.exists():
        pytest.skip(f"{path} is not built (swift build --product tram-collector)")
    return path


def run(binary: Path, *args, timeout: float = 30) -> str:
    proc = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"tram-collector {args}: rc={proc.returncode}\n{proc.stderr}"
    return proc.stdout.strip()


class Collector:
    """`tram-collector serve` on an ephemeral loopback port. With `--console-listen` among `extra`, `console_url` is the
    console's address (the LISTENING and CONSOLE lines may come in either order); else None."""

    def __init__(self, procs, binary: Path, db: Path, *extra):
        self.proc = procs.spawn([binary, "serve", "--db", db, "--listen", "127.0.0.1:0", *extra], "collector",
                                stdout=subprocess.PIPE)
        wanted = {"LISTENING"} | ({"CONSOLE"} if "--console-listen" in map(str, extra) else set())
        addresses: dict[str, str] = {}
        while wanted - set(addresses):
            line = self.proc.stdout.readline().decode()
            word, _, address = line.strip().partition(" ")
            assert word in wanted, f"no LISTENING line: {line!r}\n{procs.stderr_of(self.proc)}"
            addresses[word] = address
        self.port = int(addresses["LISTENING"].rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.console_url = f"http://{addresses['CONSOLE']}" if "CONSOLE" in addresses else None
        self.console_cookie: str | None = None

    def get(self, path: str, token: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
        """GET on the ingest/read listener (`token`: a read token, sent as Bearer): status and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()

    def get_json(self, path: str, token: str | None = None) -> dict:
        status, body = self.get(path, token)
        assert status == 200, f"GET {path} -> {status}: {body[:500]!r}"
        return json.loads(body)

    def console_sign_in(self, reader_token: str) -> str:
        """Signs in to the console with a read token (as the sign-in form posts it); keeps and returns the session."""
        host, port = self.console_url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("POST", "/login", body=f"token={reader_token}".encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            reply = conn.getresponse()
            reply.read()
            cookie = reply.getheader("Set-Cookie") or ""
            assert reply.status == 303 and cookie.startswith("tram_session="), (reply.status, cookie)
        finally:
            conn.close()
        self.console_cookie = cookie.split(";", 1)[0].split("=", 1)[1]
        return self.console_cookie

    def console_get(self, path: str, timeout: float = 10) -> tuple[int, str]:
        """GET a console page (or a /live route) with the session from ``console_sign_in``: status and text."""
        host, port = self.console_url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.request("GET", path, headers={"Cookie": f"tram_session={self.console_cookie}"})
            reply = conn.getresponse()
            data = reply.read()
            if reply.getheader("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            return reply.status, data.decode()
        finally:
            conn.close()

    def post(self, body: bytes, token: str, timeout: float = 10) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", "/v1/ingest", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/x-tram-frames"})
            reply = conn.getresponse()
            return reply.status, json.loads(reply.read() or b"{}")
        finally:
            conn.close()


def curl(*args) -> tuple[int, str]:
    proc = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *map(str, args)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    body, _, code = proc.stdout.rpartition("\n")
    return int(code), body


# -------------------------------------------------- frames of uint32 points, by the independent encoder

def dictionary(gateway: str, device: str, names: list[str]) -> tuple[bytes, int]:
    return frames.dictionary(gateway, uint32_points(device, names))


def batch(gateway: str, schema_id: int, epoch: int, sequence: int, time_ms: int, values: list[int]) -> bytes:
    """One group at time_ms, one value per point (the points as `dictionary` names them, all uint32)."""
    points = [frames.PointSpec("", "", type="uint32")] * len(values)
    return frames.batch(gateway, schema_id, epoch, sequence, points, [(time_ms, values)])


def uint32_points(device: str, names: list[str]) -> list[frames.PointSpec]:
    return [frames.PointSpec(device, name, type="uint32") for name in names]


# ---------------------------------------------------------------------------------------- tests

def test_cli_ingest_read_and_limits_with_curl(collector_bin, procs, tmp_path):
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-demo", "--db", db)
    reader = run(collector_bin, "token", "add-reader", "ops", "--db", db)
    assert token.startswith("tramgw_") and reader.startswith("tramrd_")
    stored = sqlite3.connect(db).execute("SELECT hash FROM tokens").fetchall()
    assert all(token not in h and len(h) == 64 for (h,) in stored)  # only SHA-256 hashes are kept

    collector = Collector(procs, collector_bin, db, "--max-body", 65536)
    frames = tmp_path / "frames.bin"
    frames.write_bytes(DICT_BYTES + BATCH_BYTES)
    auth = ["-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/x-tram-frames",
            "-H", "Tram-Gateway: gw-demo", "-H", "Tram-Batches: 3/42-42"]
    code, body = curl(*auth, "--data-binary", f"@{frames}", f"{collector.url}/v1/ingest")
    assert code == 200, body
    assert json.loads(body)["stored"] == [42]
    code, body = curl(*auth, "--data-binary", f"@{frames}", f"{collector.url}/v1/ingest")
    assert code == 200 and json.loads(body)["duplicates"] == [42]

    # What SQLite holds is exactly what the independent decoder reads from the vectors.
    d, _ = tw.decode_frame(DICT_BYTES, {})
    b, _ = tw.decode_frame(BATCH_BYTES, {d.schema_id: d})
    expected = []
    for group in b.groups:
        for point, value, engineering in tw.group_readings(d, group):
            expected.append((point.device, point.name, group.time_ms, value, engineering))
    rows = sqlite3.connect(db).execute("""
        SELECT d.name, p.name, r.time_ms, r.raw_int, r.raw_text, r.value, r.quality, r.exception
        FROM readings r JOIN points p ON p.id = r.point JOIN devices d ON d.id = p.device ORDER BY r.time_ms, r.rowid""").fetchall()
    assert len(rows) == len(expected) == 12
    for (device, name, t, raw_int, raw_text, value, quality, exception), (e_dev, e_name, e_t, e_value, e_eng) in zip(rows, expected):
        assert (device, name, t) == (e_dev, e_name, e_t)
        if isinstance(e_value, tw.Missing):
            assert (quality, exception, raw_int, value) == (2, e_value.exception_code, None, None)
        elif isinstance(e_value, tw.FloatValue):
            assert raw_int == e_value.bits and quality == 0
            assert value == (None if e_eng is None or e_eng != e_eng else e_eng)
        elif isinstance(e_value, str):
            assert raw_text == e_value and value is None
        elif isinstance(e_value, bool):
            assert raw_int == int(e_value) and value is None
        else:
            assert raw_int == e_value and value == e_eng, name

    code, body = curl("-H", f"Authorization: Bearer {reader}", f"{collector.url}/v1/points/latest?gateway=gw-demo")
    assert code == 200
    latest = {p["point"]: p for p in json.loads(body)["points"]}
    assert latest["power"]["value"] == 1782.2 and latest["energy"]["quality"] == "exception"
    assert latest["voltage_l1"]["raw_bits"] == "7fc00000" and latest["voltage_l1"]["value"] is None
    code, body = curl("-H", f"Authorization: Bearer {reader}", f"{collector.url}/v1/points/gw-demo/incomer/energy")
    assert code == 200 and [r["raw"] for r in json.loads(body)["readings"]] == [12345, 12347, None]

    # Refusals: a wrong token, a read token used to ingest, an oversize chunked body (no Content-Length).
    tram = ["-H", "Content-Type: application/x-tram-frames", "--data-binary", f"@{frames}"]
    code, body = curl("-H", "Authorization: Bearer tramgw_wrong", *tram, f"{collector.url}/v1/ingest")
    assert code == 401 and json.loads(body)["reason"] == "unauthorized"
    code, _ = curl("-H", f"Authorization: Bearer {reader}", *tram, f"{collector.url}/v1/ingest")
    assert code == 403
    code, body = curl("-H", f"Authorization: Bearer {token}", "--data-binary", f"@{frames}", f"{collector.url}/v1/ingest")
    assert code == 415 and json.loads(body)["reason"] == "unsupported-media-type"  # curl's default form type
    big = tmp_path / "big.bin"
    big.write_bytes(DICT_BYTES * 2000)
    code, body = curl(*auth, "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{big}", f"{collector.url}/v1/ingest")
    assert code == 413 and json.loads(body)["reason"] == "too-large"

    code, body = curl(f"{collector.url}/metrics")
    assert code == 200
    assert "tram_collector_readings_total 12" in body and "tram_collector_duplicate_batches_total 1" in body
    assert 'tram_collector_rejects_total{reason="unauthorized"} 1' in body
    code, body = curl(f"{collector.url}/health")
    assert code == 200 and json.loads(body) == {"status": "ok"}

    # Rotation and revocation through the CLI.
    new = run(collector_bin, "gateway", "rotate", "gw-demo", "--db", db)
    assert collector.post(DICT_BYTES, token)[0] == 200 and collector.post(DICT_BYTES, new)[0] == 200
    run(collector_bin, "gateway", "revoke", "gw-demo", "--db", db)
    assert collector.post(DICT_BYTES, new)[0] == 401

    os.killpg(collector.proc.pid, signal.SIGTERM)
    assert collector.proc.wait(timeout=10) == 0


def test_kill_9_mid_ingest_loses_nothing_acked_and_duplicates_nothing(collector_bin, procs, tmp_path):
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-k", "--db", db)
    names = ["a", "b", "c"]
    dict_frame, schema_id = dictionary("gw-k", "m", names)
    total, per_request, epoch, senders = 3000, 3, 17, 4
    batches = [batch("gw-k", schema_id, epoch, s, 1_764_000_000_000 + s * 1000, [s, 2 * s, 3 * s]) for s in range(total)]
    requests = [(list(range(i, i + per_request)), b"".join(batches[i:i + per_request])) for i in range(0, total, per_request)]

    collector = Collector(procs, collector_bin, db, "--rate", 0)
    assert collector.post(dict_frame, token)[0] == 200
    # Four senders keep requests in flight; the collector is killed once a random number of batches are acked.
    acked: set[int] = set()
    lock = threading.Lock()
    kill_after = random.randint(150, 1500)
    failures: list[str] = []

    def sender(mine):
        for seqs, body in mine:
            try:
                status, answer = collector.post(body, token, timeout=5)
            except (OSError, http.client.HTTPException):
                return
            if status != 200:
                failures.append(f"{status} {answer}")
                return
            with lock:
                acked.update(seqs)

    threads = [threading.Thread(target=sender, args=(requests[i::senders],)) for i in range(senders)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(acked) < kill_after and any(t.is_alive() for t in threads):
        time.sleep(0.001)
    os.killpg(collector.proc.pid, signal.SIGKILL)
    for t in threads:
        t.join(timeout=30)
    collector.proc.wait(timeout=10)
    assert not failures, failures
    assert 0 < len(acked) < total, f"the kill did not land mid-run ({len(acked)} of {total} acked)"

    # After the restart every acknowledged batch is there, complete.
    collector = Collector(procs, collector_bin, db, "--rate", 0)
    con = sqlite3.connect(db)
    have = {t for (t,) in con.execute("SELECT DISTINCT (time_ms - 1764000000000) / 1000 FROM readings")}
    assert acked <= have
    print(f"killed with {len(acked)} of {total} batches acked; {len(have)} stored after the restart")
    complete = con.execute("SELECT count(*) FROM (SELECT time_ms FROM readings GROUP BY time_ms HAVING count(*) = 3)").fetchone()[0]
    assert complete == len(have)  # a batch is stored whole or not at all
    # The agent retransmits everything it holds (acked or not, in another order): each reading ends up stored once.
    random.shuffle(requests)
    for seqs, body in requests:
        status, answer = collector.post(body, token)
        assert status == 200, answer
    rows = con.execute("""SELECT p.name, r.time_ms, r.raw_int FROM readings r JOIN points p ON p.id = r.point""").fetchall()
    assert len(rows) == total * 3
    assert sorted(rows) == sorted((n, 1_764_000_000_000 + s * 1000, (i + 1) * s) for s in range(total) for i, n in enumerate(names))
    assert con.execute("SELECT watermark FROM dedupe_epochs").fetchall() == [(total,)]
    assert con.execute("SELECT count(*) FROM dedupe_runs").fetchone()[0] == 0
