"""tram-collector over TLS and mTLS, and retention: the built binary, certificates made with the openssl CLI at test
time (a throwaway CA, a server certificate for 127.0.0.1/localhost, client certificates naming gateways), curl as the
client, SQLite read back directly.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from test_collector import batch, collector_bin, dictionary, run  # noqa: F401  (collector_bin is a fixture)

TRAM = "application/x-tram-frames"


# ------------------------------------------------------------------------------------ certificates

def openssl(*args, cwd: Path):
    proc = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"openssl {args}: {proc.stderr}"


class PKI:
    """A CA, a server certificate signed by it, and client certificates on demand (P-256 keys, valid one day)."""

    def __init__(self, d: Path, name: str = "ca"):
        self.dir = d
        self.ca, self.ca_key = d / f"{name}.pem", d / f"{name}.key"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", 1,
                "-subj", f"/CN=Tram test {name}", "-keyout", self.ca_key, "-out", self.ca,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def issue(self, stem: str, subject: str, extensions: str) -> tuple[Path, Path]:
        key, csr, cert, ext = (self.dir / f"{stem}.{s}" for s in ("key", "csr", "pem", "ext"))
        ext.write_text(extensions + "\n")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
                "-keyout", key, "-out", csr, cwd=self.dir)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial", "-days", 1,
                "-extfile", ext, "-out", cert, cwd=self.dir)
        return cert, key

    def server(self) -> tuple[Path, Path]:
        return self.issue("server", "/CN=localhost",
                          "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")

    def client(self, stem: str, subject: str, san: str | None = None) -> tuple[Path, Path]:
        return self.issue(stem, subject, "extendedKeyUsage=clientAuth" + (f"\nsubjectAltName={san}" if san else ""))


@pytest.fixture
def pki(tmp_path) -> PKI:
    d = tmp_path / "pki"
    d.mkdir()
    return PKI(d)


# ------------------------------------------------------------------------------------ the collector

class TLSCollector:
    def __init__(self, procs, binary: Path, db: Path, *extra):
        self.proc = procs.spawn([binary, "serve", "--db", db, "--listen", "127.0.0.1:0", *extra], "collector",
                                stdout=subprocess.PIPE)
        self.procs = procs
        line = self.proc.stdout.readline().decode()
        assert line.startswith("LISTENING "), f"no LISTENING line: {line!r}\n{procs.stderr_of(self.proc)}"
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        assert self.proc.wait(timeout=10) == 0, self.procs.stderr_of(self.proc)


def curl(*args) -> tuple[int, int, str]:
    """(curl's exit code, HTTP status or 0, body)."""
    proc = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *map(str, args)],
                          capture_output=True, text=True, timeout=30)
    body, _, code = proc.stdout.rpartition("\n")
    return proc.returncode, int(code or 0), body if proc.returncode == 0 else proc.stderr


def post(url: str, body_file: Path, *curl_args, token: str | None = None, gateway: str | None = None):
    headers = ["-H", f"Content-Type: {TRAM}"]
    if token:
        headers += ["-H", f"Authorization: Bearer {token}"]
    if gateway:
        headers += ["-H", f"Tram-Gateway: {gateway}"]
    return curl(*curl_args, *headers, "--data-binary", f"@{body_file}", url)


def frames(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


T0 = 1_764_000_000_000


def gateway_frames(tmp_path: Path, gateway: str, sequences, stem: str | None = None) -> Path:
    dict_frame, schema_id = dictionary(gateway, "m", ["a", "b", "c"])
    body = dict_frame + b"".join(batch(gateway, schema_id, 1, s, T0 + s * 1000, [s, s + 1, s + 2]) for s in sequences)
    return frames(tmp_path, f"{stem or gateway}.bin", body)


# ------------------------------------------------------------------------------------ tests

def test_tls_serves_https_and_refuses_plain_http(collector_bin, procs, pki, tmp_path):
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-A", "--db", db)
    cert, key = pki.server()
    collector = TLSCollector(procs, collector_bin, db, "--tls-cert", cert, "--tls-key", key)
    https = f"https://127.0.0.1:{collector.port}"

    rc, code, body = curl("--cacert", pki.ca, f"{https}/health")
    assert (rc, code, json.loads(body)) == (0, 200, {"status": "ok"})
    rc, code, _ = curl("--cacert", pki.ca, f"https://localhost:{collector.port}/health")
    assert (rc, code) == (0, 200)
    # Without the CA the server is not trusted (curl 60: peer certificate cannot be authenticated).
    rc, _, err = curl(f"{https}/health")
    assert rc == 60, err
    # Plain HTTP to the TLS port gets no HTTP answer.
    rc, code, err = curl(f"http://127.0.0.1:{collector.port}/health")
    assert rc != 0 and code == 0, (rc, code, err)

    # A token still authenticates over HTTPS; without a client CA no certificate is asked for or used.
    rc, code, body = post(f"{https}/v1/ingest", gateway_frames(tmp_path, "gw-A", [0, 1]), "--cacert", pki.ca,
                          token=token, gateway="gw-A")
    assert (rc, code) == (0, 200) and json.loads(body)["stored"] == [0, 1], body
    client_cert, client_key = pki.client("gw-A", "/CN=gw-A")
    rc, code, body = post(f"{https}/v1/ingest", gateway_frames(tmp_path, "gw-A", [2]), "--cacert", pki.ca,
                          "--cert", client_cert, "--key", client_key)
    assert (rc, code) == (0, 401), body
    collector.stop()


def test_mtls_client_certificate_names_the_gateway(collector_bin, procs, pki, tmp_path):
    db = tmp_path / "collector.db"
    token_a = run(collector_bin, "gateway", "add", "gw-A", "--db", db)
    token_b = run(collector_bin, "gateway", "add", "gw-B", "--db", db)
    reader = run(collector_bin, "token", "add-reader", "ops", "--db", db)
    cert, key = pki.server()
    cert_a = pki.client("gw-A", "/O=Plant 7/CN=gw-A")
    cert_b = pki.client("gw-B", "/CN=gw-B")
    cert_san = pki.client("gw-A-san", "/O=Plant 7", san="DNS:gw-A")  # no CN: the DNS SAN names it
    cert_unknown = pki.client("gw-Z", "/CN=gw-Z")
    rogue = PKI(pki.dir, "rogue")
    cert_rogue = rogue.client("rogue-gw-A", "/CN=gw-A")
    collector = TLSCollector(procs, collector_bin, db, "--tls-cert", cert, "--tls-key", key, "--tls-client-ca", pki.ca)
    url = f"https://127.0.0.1:{collector.port}"
    ca = ["--cacert", pki.ca]

    def with_cert(pair):
        return [*ca, "--cert", pair[0], "--key", pair[1]]

    body_a = gateway_frames(tmp_path, "gw-A", [0, 1])
    # No client certificate, or one from another CA: the handshake fails, whatever the token.
    rc, code, err = post(f"{url}/v1/ingest", body_a, *ca, token=token_a)
    assert rc != 0 and code == 0, (rc, code, err)
    rc, code, err = curl(*ca, f"{url}/health")
    assert rc != 0 and code == 0, (rc, code, err)
    rc, code, err = post(f"{url}/v1/ingest", body_a, *with_cert(cert_rogue))
    assert rc != 0 and code == 0, (rc, code, err)

    # gw-A's certificate alone ingests as gw-A.
    rc, code, body = post(f"{url}/v1/ingest", body_a, *with_cert(cert_a), gateway="gw-A")
    assert (rc, code) == (0, 200) and json.loads(body)["stored"] == [0, 1], body
    con = sqlite3.connect(db)
    assert con.execute("""SELECT g.name, count(*) FROM readings r JOIN points p ON p.id = r.point
                          JOIN devices d ON d.id = p.device JOIN gateways g ON g.id = d.gateway GROUP BY g.name""").fetchall() \
        == [("gw-A", 6)]

    # gw-A's certificate claiming gw-B: by header, by frames, or with gw-B's token.
    body_b = gateway_frames(tmp_path, "gw-B", [0])
    rc, code, body = post(f"{url}/v1/ingest", body_a, *with_cert(cert_a), gateway="gw-B")
    assert code == 403 and json.loads(body)["reason"] == "forbidden", body
    rc, code, body = post(f"{url}/v1/ingest", body_b, *with_cert(cert_a))
    assert code == 403 and "client certificate is 'gw-A'" in json.loads(body)["detail"], body
    rc, code, body = post(f"{url}/v1/ingest", body_b, *with_cert(cert_a), token=token_b)
    assert code == 403 and "client certificate names 'gw-A'" in json.loads(body)["detail"], body
    # Certificate and token of the same gateway: fine (and the batches are duplicates now).
    rc, code, body = post(f"{url}/v1/ingest", body_a, *with_cert(cert_a), token=token_a)
    assert code == 200 and json.loads(body)["duplicates"] == [0, 1], body
    # gw-B's own certificate ingests as gw-B; a certificate naming it by DNS SAN only is gw-A.
    rc, code, body = post(f"{url}/v1/ingest", body_b, *with_cert(cert_b))
    assert code == 200 and json.loads(body)["stored"] == [0], body
    rc, code, body = post(f"{url}/v1/ingest", gateway_frames(tmp_path, "gw-A", [2], "gw-A-2"), *with_cert(cert_san))
    assert code == 200 and json.loads(body)["stored"] == [2], body
    # A certificate the CA signed for a name that is not an enrolled gateway: 401.
    rc, code, body = post(f"{url}/v1/ingest", gateway_frames(tmp_path, "gw-Z", [0]), *with_cert(cert_unknown))
    assert code == 401 and json.loads(body)["reason"] == "unauthorized", body

    # The read API still wants a read token (a gateway certificate is not one).
    rc, code, _ = curl(*with_cert(cert_a), f"{url}/v1/fleet")
    assert code == 401
    rc, code, body = curl(*with_cert(cert_a), "-H", f"Authorization: Bearer {reader}", f"{url}/v1/fleet")
    assert code == 200 and [g["name"] for g in json.loads(body)["gateways"]] == ["gw-A", "gw-B"]

    # Revoking the gateway revokes its certificate too.
    run(collector_bin, "gateway", "revoke", "gw-A", "--db", db)
    rc, code, body = post(f"{url}/v1/ingest", gateway_frames(tmp_path, "gw-A", [3], "gw-A-3"), *with_cert(cert_a))
    assert code == 401 and "revoked" in json.loads(body)["detail"], body
    rc, code, metrics = curl(*with_cert(cert_b), f"{url}/metrics")
    assert 'tram_collector_rejects_total{reason="forbidden"} 3' in metrics
    assert 'tram_collector_rejects_total{reason="unauthorized"} 2' in metrics
    collector.stop()


def test_mtls_optional_lets_a_token_in_without_a_certificate(collector_bin, procs, pki, tmp_path):
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-A", "--db", db)
    cert, key = pki.server()
    client = pki.client("gw-A", "/CN=gw-A")
    rogue = PKI(pki.dir, "rogue").client("rogue-gw-A", "/CN=gw-A")
    collector = TLSCollector(procs, collector_bin, db, "--tls-cert", cert, "--tls-key", key,
                             "--tls-client-ca", pki.ca, "--tls-client-auth", "optional")
    url = f"https://127.0.0.1:{collector.port}"
    rc, code, _ = curl("--cacert", pki.ca, f"{url}/health")
    assert (rc, code) == (0, 200)
    rc, code, body = post(f"{url}/v1/ingest", gateway_frames(tmp_path, "gw-A", [0]), "--cacert", pki.ca)
    assert code == 401, body
    rc, code, body = post(f"{url}/v1/ingest", gateway_frames(tmp_path, "gw-A", [0]), "--cacert", pki.ca, token=token)
    assert code == 200, body
    rc, code, body = post(f"{url}/v1/ingest", gateway_frames(tmp_path, "gw-A", [1]), "--cacert", pki.ca,
                          "--cert", client[0], "--key", client[1])
    assert code == 200 and json.loads(body)["stored"] == [1], body
    # A presented certificate must still verify.
    rc, code, err = post(f"{url}/v1/ingest", gateway_frames(tmp_path, "gw-A", [2]), "--cacert", pki.ca,
                         "--cert", rogue[0], "--key", rogue[1])
    assert rc != 0 and code == 0, (rc, code, err)
    collector.stop()


def test_tls_flags_are_checked(collector_bin, tmp_path, pki):
    db = tmp_path / "collector.db"
    cert, key = pki.server()
    for args, message in [(["--tls-cert", cert], "go together"), (["--tls-client-ca", pki.ca], "needs --tls-cert"),
                          (["--tls-cert", cert, "--tls-key", tmp_path / "missing.key"], "missing.key"),
                          (["--retention", "30x"], "--retention")]:
        proc = subprocess.run([collector_bin, "serve", "--db", db, "--listen", "127.0.0.1:0", *map(str, args)],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode != 0 and message in proc.stderr, (args, proc.stderr)


# ------------------------------------------------------------------------------------ retention

def metric(port: int, name: str) -> int:
    rc, code, body = curl(f"http://127.0.0.1:{port}/metrics")
    assert code == 200, body
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_retention_deletes_old_readings_in_chunks_and_keeps_dedupe(collector_bin, procs, tmp_path):
    db = tmp_path / "collector.db"
    token = run(collector_bin, "gateway", "add", "gw-R", "--db", db)
    names = [f"p{i}" for i in range(100)]
    dict_frame, schema_id = dictionary("gw-R", "m", names)
    now = int(time.time() * 1000)
    old_time = now - 3 * 3_600_000  # three hours ago; the retention is one hour
    # 250 old batches of 100 readings (25,000 rows: three chunks of at most 10,000), then 10 new ones.
    old = [batch("gw-R", schema_id, 5, s, old_time + s * 1000, list(range(s, s + 100))) for s in range(250)]
    new = [batch("gw-R", schema_id, 5, 250 + s, now + s * 1000, list(range(100))) for s in range(10)]

    collector = TLSCollector(procs, collector_bin, db, "--rate", 0, "--retention", "1h", "--retention-interval", "1s")
    http = f"http://127.0.0.1:{collector.port}"
    assert metric(collector.port, "tram_collector_retention_deleted_readings_total") == 0
    for i, chunk in enumerate([[dict_frame]] + [old[j:j + 50] for j in range(0, 250, 50)] + [new]):
        rc, code, body = post(f"{http}/v1/ingest", frames(tmp_path, f"r{i}.bin", b"".join(chunk)), token=token)
        assert code == 200, body

    deadline = time.monotonic() + 20
    while metric(collector.port, "tram_collector_retention_deleted_readings_total") < 25_000:
        assert time.monotonic() < deadline, "retention did not delete the old readings"
        time.sleep(0.2)
    assert metric(collector.port, "tram_collector_retention_deleted_readings_total") == 25_000
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), min(time_ms) FROM readings").fetchone() == (1000, now)
    # The old batches' dedupe state is kept: sent again, they are duplicates and nothing comes back.
    rc, code, body = post(f"{http}/v1/ingest", frames(tmp_path, "again.bin", b"".join(old[:3] + old[200:201])), token=token)
    assert code == 200, body
    assert json.loads(body)["duplicates"] == [0, 1, 2, 200] and json.loads(body)["stored"] == []
    assert con.execute("SELECT count(*) FROM readings").fetchone()[0] == 1000
    assert con.execute("SELECT watermark FROM dedupe_epochs").fetchall() == [(260,)]
    assert metric(collector.port, "tram_collector_retention_passes_total") >= 2
    collector.stop()

    # A restart runs a pass at once: readings that aged past the limit while it was down go at start.
    con.execute("UPDATE readings SET time_ms = time_ms - 2 * 3600000 WHERE time_ms < ?", (now + 5000,))
    con.commit()
    collector = TLSCollector(procs, collector_bin, db, "--retention", "1h")
    deadline = time.monotonic() + 10
    while metric(collector.port, "tram_collector_retention_deleted_readings_total") < 500:
        assert time.monotonic() < deadline, "no retention pass at start"
        time.sleep(0.1)
    assert con.execute("SELECT count(*) FROM readings").fetchone()[0] == 500
    collector.stop()
