"""The console's wiring in tram-collector: its own listener beside ingest (its own TLS, never ingest's mTLS), the
CONSOLE line, the plain-HTTP warning, sites set by the operator, read tokens listed and revoked (which ends their
sessions at once), and the flags' checks. The pages themselves are test_console.py's (a real browser).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from test_collector import collector_bin, run  # noqa: F401  (collector_bin is a fixture)
from test_collector_tls import pki  # noqa: F401  (a fixture)


class Collector:
    """`serve` with a console; reads both bound ports from stdout (LISTENING and CONSOLE, in either order)."""

    def __init__(self, procs, binary: Path, db: Path, *extra):
        self.proc = procs.spawn([binary, "serve", "--db", db, "--listen", "127.0.0.1:0", *extra], "collector",
                                stdout=subprocess.PIPE)
        self.procs = procs
        self.lines = {}
        for _ in range(2):
            line = self.proc.stdout.readline().decode().strip()
            assert line, f"stdout closed\n{procs.stderr_of(self.proc)}"
            kind, address = line.split(" ", 1)
            self.lines[kind] = address
        self.port = int(self.lines["LISTENING"].rsplit(":", 1)[1])
        self.console = int(self.lines["CONSOLE"].rsplit(":", 1)[1])

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        assert self.proc.wait(timeout=10) == 0, self.procs.stderr_of(self.proc)


def curl(*args) -> tuple[int, int, str, str]:
    """(curl's exit code, HTTP status or 0, headers, body)."""
    proc = subprocess.run(["curl", "-sS", "--max-time", "10", "-D", "-", "-o", "-", "-w", "\n%{http_code}",
                           *map(str, args)], capture_output=True, text=True, timeout=30)
    text, _, code = proc.stdout.rpartition("\n")
    head, _, body = text.partition("\n\n")
    return proc.returncode, int(code or 0), head, body if proc.returncode == 0 else proc.stderr


def sign_in(base: str, token: str, *curl_args) -> tuple[int, str]:
    """(status, the Set-Cookie header's value)."""
    _, code, head, _ = curl(*curl_args, "--data-urlencode", f"token={token}", f"{base}/login")
    cookie = next((l.split(":", 1)[1].strip() for l in head.splitlines() if l.lower().startswith("set-cookie:")), "")
    return code, cookie


def test_console_beside_mtls_ingest_with_its_own_tls(collector_bin, procs, pki, tmp_path):
    db = tmp_path / "collector.db"
    run(collector_bin, "gateway", "add", "gw-A", "--site", "Bac Ninh", "--db", db)
    token = run(collector_bin, "token", "add-reader", "operator", "--db", db).strip()
    cert, key = pki.server()
    collector = Collector(procs, collector_bin, db, "--tls-cert", cert, "--tls-key", key, "--tls-client-ca", pki.ca,
                          "--console-listen", "127.0.0.1:0", "--console-tls-cert", cert, "--console-tls-key", key,
                          "--time-zone", "Asia/Ho_Chi_Minh", "--session-hours", "2")
    assert collector.lines["CONSOLE"].startswith("127.0.0.1:") and collector.console != collector.port
    base = f"https://127.0.0.1:{collector.console}"
    # No client certificate: ingest's handshake fails, the console's does not.
    rc, _, _, _ = curl("--cacert", pki.ca, f"https://127.0.0.1:{collector.port}/health")
    assert rc != 0
    rc, code, head, body = curl("--cacert", pki.ca, f"{base}/")
    assert (rc, code) == (0, 401) and 'id="sign-in"' in body and "gw-A" not in body
    assert "content-security-policy: default-src 'self'" in head.lower()

    code, cookie = sign_in(base, token, "--cacert", pki.ca)
    assert code == 303
    assert cookie.endswith("; HttpOnly; SameSite=Strict; Path=/; Max-Age=7200; Secure"), cookie
    session = cookie.split(";", 1)[0]
    rc, code, _, body = curl("--cacert", pki.ca, "-H", f"Cookie: {session}", f"{base}/")
    assert (rc, code) == (0, 200)
    assert 'data-gateway="gw-A" data-site="Bac Ninh"' in body and "Asia/Ho_Chi_Minh" in body

    # token list shows the open session; revoking the token ends it at once.
    listing = run(collector_bin, "token", "list", "--db", db)
    assert listing.startswith("operator\tactive\t") and "sessions=1" in listing, listing
    assert "revoked operator (1 token)" in run(collector_bin, "token", "revoke", "operator", "--db", db)
    rc, code, _, body = curl("--cacert", pki.ca, "-H", f"Cookie: {session}", f"{base}/")
    assert code == 401 and "gw-A" not in body
    assert sign_in(base, token, "--cacert", pki.ca)[0] == 401
    assert "operator\trevoked\t" in run(collector_bin, "token", "list", "--db", db)
    collector.stop()
    assert "plain HTTP off loopback" not in procs.stderr_of(collector.proc)


def test_plain_http_console_off_loopback_warns(collector_bin, procs, tmp_path):
    db = tmp_path / "collector.db"
    collector = Collector(procs, collector_bin, db, "--console-listen", "0.0.0.0:0")
    assert collector.lines["CONSOLE"].startswith("0.0.0.0:")
    rc, code, _, _ = curl(f"http://127.0.0.1:{collector.console}/login")
    assert (rc, code) == (0, 200)
    collector.stop()
    assert "the console listens with plain HTTP off loopback" in procs.stderr_of(collector.proc)


def test_sites_are_the_operators(collector_bin, tmp_path):
    db = tmp_path / "collector.db"
    run(collector_bin, "gateway", "add", "gw-A", "--site", "north", "--db", db)
    run(collector_bin, "gateway", "add", "gw-B", "--db", db)
    assert run(collector_bin, "gateway", "set-site", "gw-B", "south", "--db", db).strip() == "gw-B\tsite=south"
    lines = run(collector_bin, "gateway", "list", "--db", db).splitlines()
    assert [l.split("\t")[2] for l in lines] == ["site=north", "site=south"]
    failed = subprocess.run([collector_bin, "gateway", "set-site", "gw-C", "x", "--db", db], capture_output=True,
                            text=True)
    assert failed.returncode != 0 and "no gateway named 'gw-C'" in failed.stderr


def test_console_flags_are_checked(collector_bin, tmp_path):
    db = tmp_path / "collector.db"
    for extra, message in [
        (["--console-listen", "127.0.0.1:0", "--console-tls-cert", "x.pem"], "go together"),
        (["--console-tls-cert", "x.pem", "--console-tls-key", "x.key"], "need --console-listen"),
        (["--console-listen", "127.0.0.1:0", "--time-zone", "Mars/Olympus"], "unknown time zone"),
        (["--console-listen", "127.0.0.1"], "--console-listen takes HOST:PORT"),
        (["--console-listen", "127.0.0.1:0", "--console-tls-cert", "missing.pem", "--console-tls-key", "missing.key"],
         "--console-tls-cert missing.pem"),
    ]:
        proc = subprocess.run([collector_bin, "serve", "--db", db, "--listen", "127.0.0.1:0", *extra],
                              capture_output=True, text=True, timeout=20)
        assert proc.returncode != 0 and message in proc.stderr, (extra, proc.stderr)
