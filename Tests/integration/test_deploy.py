"""The systemd units in deploy/: their security rating, and their system-call sandbox against what the binaries really
do.

* `systemd-analyze security --offline=true` rates each unit an exposure of 2.0 or lower ("OK"), with no unknown or
  unparsable directive.
* A real run: pymodbus PLCs (Modbus TCP, and RTU on a pty: the serial port's ioctls and lock file) → tram-agent →
  tram-collector over TLS (by name, `localhost`) → a line-protocol relay target, with `tramctl status` on the control
  socket, /metrics, sd_notify, a reload by `/bin/kill -HUP` (the unit's ExecReload) and SIGTERM. Both daemons run as an
  unprivileged user (nobody) when the tests run as root, as under their units (SQLite, for one, calls fchown only as
  root). It runs twice:
  - under `strace -f -C`: every system call each process made must be in its unit's SystemCallFilter (expanded with
    `systemd-analyze syscall-filter`), and every socket it opened of a family RestrictAddressFamilies allows;
  - inside the units' seccomp sandbox (unit_sandbox.py: the same allow list, other calls failing with EPERM as
    SystemCallErrorNumber=EPERM makes them, and other socket families with EAFNOSUPPORT): the same run must work.
  The one family the processes ask for and do not get is AF_NETLINK: glibc's getaddrinfo(AI_ADDRCONFIG) asks the
  kernel for the interfaces' addresses over netlink, and when refused assumes IPv4 and IPv6 are both configured. The
  sandboxed run shows delivery and the relay working by name with it refused.

Skipped, saying why, when systemd-analyze (systemd 250 or later, for --offline), strace or libseccomp is missing, or
ptrace is not permitted. The binaries are .build/debug's unless TRAM_AGENT / TRAM_COLLECTOR / TRAMCTL name others.
"""
from __future__ import annotations

import ctypes.util
import http.server
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml

import unit_sandbox
from conftest import TRAMCTL, wait_for
from test_collector_tls import PKI
from tramtest import encode

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = {"tram-agent": DEPLOY / "tram-agent.service", "tram-collector": DEPLOY / "tram-collector.service"}
AGENT_BIN = Path(os.environ.get("TRAM_AGENT", ROOT / ".build" / "debug" / "tram-agent"))
COLLECTOR_BIN = Path(os.environ.get("TRAM_COLLECTOR", ROOT / ".build" / "debug" / "tram-collector"))
SANDBOX = Path(unit_sandbox.__file__).resolve()
MAX_EXPOSURE = 2.0
# Refused by RestrictAddressFamilies on purpose, and shown harmless by the sandboxed run (see the docstring).
REFUSED_FAMILIES = {"AF_NETLINK"}


# ----------------------------------------------------------------------------------- systemd-analyze and units

def systemd_analyze() -> str:
    """The systemd-analyze binary, or skip: --offline needs systemd 250 or later."""
    path = shutil.which("systemd-analyze")
    if not path:
        pytest.skip("systemd-analyze is not installed (scripts/setup --test installs systemd)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.match(r"systemd (\d+)", version)
    if not match or int(match.group(1)) < 250:
        pytest.skip(f"systemd-analyze is too old for --offline (needs 250): {version.splitlines()[:1]}")
    return path


def security(unit: Path) -> tuple[float, str, str]:
    """(exposure, rating, what systemd-analyze printed on stderr) for a unit file, analysed offline."""
    proc = subprocess.run([systemd_analyze(), "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", proc.stdout)
    assert match, f"no exposure level in:\n{proc.stdout}\n{proc.stderr}"
    return float(match.group(1)), match.group(2), proc.stderr


def allowed_syscalls(unit: Path) -> set[str]:
    return unit_sandbox.allowed_syscalls(unit, systemd_analyze())


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit_is_rated_ok_by_systemd_analyze_security(name):
    exposure, rating, stderr = security(UNITS[name])
    print(f"{name}: exposure {exposure} {rating}")
    assert exposure <= MAX_EXPOSURE and rating == "OK", f"{name}: exposure {exposure} {rating}\n{stderr}"
    # Every directive is known to this systemd and parses (a typo would silently drop a restriction).
    problems = [line for line in stderr.splitlines() if re.search(r"Unknown|Failed to parse|Invalid|ignoring", line)]
    assert not problems, "\n".join(problems)


def test_agent_unit_allows_reading_the_clock_status_but_no_other_privileged_call():
    allowed = allowed_syscalls(UNITS["tram-agent"])
    # glibc's adjtimex() is clock_adjtime(CLOCK_REALTIME, …): the agent reads STA_UNSYNC through it.
    assert {"adjtimex", "clock_adjtime"} <= allowed
    for call in ("settimeofday", "clock_settime", "setuid", "setgroups", "chown", "reboot", "mount", "ptrace",
                 "setrlimit", "sched_setscheduler", "init_module", "bpf", "kexec_load"):
        assert call not in allowed, call
    assert "ProtectClock=yes" not in UNITS["tram-agent"].read_text(), "ProtectClock=yes would deny adjtimex"
    # Of @privileged, only the clock-status reads (clock_adjtime64: 32-bit ARM's time64 variant).
    privileged = unit_sandbox.expand(["@privileged"], unit_sandbox.syscall_groups(systemd_analyze()))
    assert privileged & allowed == {"adjtimex", "clock_adjtime", "clock_adjtime64"}


# ----------------------------------------------------------------------------------- the real run

def strace_binary() -> str:
    path = shutil.which("strace")
    if not path:
        pytest.skip("strace is not installed (scripts/setup --test installs it)")
    probe = subprocess.run([path, "-f", "-o", "/dev/null", "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here (ptrace not permitted?): {probe.stderr.strip()}")
    return path


class Trace:
    """A finished `strace -f -C` output: the syscalls of its summary table, and what the trace shows of sockets."""

    def __init__(self, path: Path):
        text = path.read_text(errors="replace")
        head, sep, summary = text.partition("% time")
        assert sep, f"no strace summary in {path}"
        self.calls: dict[str, int] = {}
        for line in summary.splitlines()[2:]:
            fields = line.split()
            if not fields or fields[0].startswith("-"):
                break
            # % time, seconds, usecs/call, calls, [errors], syscall
            self.calls[fields[-1]] = int(fields[3])
        self.families = set(re.findall(r"\bsocket(?:pair)?\((AF_[A-Z0-9]+)", head))
        self.ioctls = set(re.findall(r"\bioctl\(\d+, ([A-Z0-9_]+)", head))

    def check(self, unit: Path) -> None:
        allowed = allowed_syscalls(unit)
        outside = {call: n for call, n in self.calls.items() if call not in allowed}
        assert not outside, (f"{unit.name}'s SystemCallFilter denies these calls the process made (calls): {outside}; "
                             "add them to the unit (or stop making them)")
        families = unit_sandbox.address_families(unit)
        assert self.families - families <= REFUSED_FAMILIES, f"{unit.name} denies socket families {self.families - families}"


class RelayTarget(http.server.BaseHTTPRequestHandler):
    """An Influx line-protocol endpoint that takes every write (the collector's relay target)."""
    lines: list[str] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        RelayTarget.lines.extend(body.decode().splitlines())
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def ctl_status(socket_path: Path) -> dict | None:
    proc = subprocess.run([str(TRAMCTL), "status", "--json", "--socket", str(socket_path)], capture_output=True,
                          text=True, timeout=10)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


@pytest.fixture
def workdir():
    """A directory the unprivileged user can use (pytest's tmp_path is root's, 0700). TRAM_KEEP_WORKDIR=1 keeps it
    (the straces are in it)."""
    path = Path(tempfile.mkdtemp(prefix="tram-deploy-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    os.environ.get("TRAM_KEEP_WORKDIR") or shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("mode", ["strace", "sandbox"])
def test_a_real_run_needs_nothing_the_units_deny(mode, procs, plc_tcp, plc_rtu, free_port, workdir):
    for path in (AGENT_BIN, COLLECTOR_BIN, TRAMCTL):
        if not path.exists():
            pytest.skip(f"{path} is not built (swift build)")
    systemd_analyze()
    if mode == "strace":
        strace = strace_binary()
    elif not ctypes.util.find_library("seccomp"):
        pytest.skip("libseccomp is not installed (it comes with systemd: scripts/setup --test)")
    user = "nobody" if os.geteuid() == 0 else None
    # The binaries where the unprivileged user can run them (the checkout may be in root's home).
    agent_bin, collector_bin = workdir / "tram-agent", workdir / "tram-collector"
    shutil.copy2(AGENT_BIN, agent_bin)
    shutil.copy2(COLLECTOR_BIN, collector_bin)

    def confined(unit: str, name: str, *argv) -> list[str]:
        """argv as its unit would run it: traced (summary in workdir/NAME.strace), or in the unit's sandbox."""
        if mode == "strace":
            return [strace, "-f", "-qq", "-C", "-s", "0", "-o", str(workdir / f"{name}.strace"),
                    *(["-u", user] if user else []), "--", *map(str, argv)]
        return [sys.executable, str(SANDBOX), str(UNITS[unit]), *(["--user", user] if user else []), "--", *map(str, argv)]

    # A line-protocol endpoint for the collector's relay.
    RelayTarget.lines = []
    relay = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RelayTarget)
    threading.Thread(target=relay.serve_forever, daemon=True).start()

    # tram-collector over TLS, with a gateway enrolled.
    (workdir / "pki").mkdir()
    pki = PKI(workdir / "pki")
    cert, key = pki.server()
    db = workdir / "collector.db"
    token = subprocess.run([str(collector_bin), "gateway", "add", "gw-deploy", "--db", str(db)], capture_output=True,
                           text=True, timeout=30, check=True).stdout.strip()
    token_file = workdir / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o640)

    # Two PLCs: Modbus TCP, and Modbus RTU on a pty.
    words = encode("float32", 230.5) + encode("uint32", 123456) + [7]
    tcp = plc_tcp({1: {"holding": {0: words}}}, units=[1])
    rtu = plc_rtu({1: {"holding": {0: words}}}, units=[1])
    serial_port = os.path.realpath(rtu.device)  # /dev/pts/N: the link beside it is in root's tmp_path
    os.chmod(serial_port, 0o666)  # the unprivileged agent's serial port (group dialout, on a gateway)
    points = [{"name": "voltage", "table": "holding", "address": 0, "type": "float32", "unit": "V"},
              {"name": "energy", "table": "holding", "address": 2, "type": "uint32", "scale": 0.1, "unit": "kWh"},
              {"name": "status", "table": "holding", "address": 4, "type": "uint16"}]
    control, metrics_port = workdir / "agent.sock", free_port()

    # sd_notify as systemd offers it (READY=1 and WATCHDOG=1 datagrams).
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(workdir / "notify.sock"))
    notify.settimeout(0.2)

    if user:
        entry = pwd.getpwnam(user)
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
    (workdir / "notify.sock").chmod(0o777)

    collector = procs.spawn(confined("tram-collector", "collector", collector_bin, "serve", "--db", db,
                                     "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                                     "--relay-influx", f"http://localhost:{relay.server_address[1]}"),
                            "collector", stdout=subprocess.PIPE)
    line = collector.stdout.readline().decode()
    assert line.startswith("LISTENING "), f"{line!r}\n{procs.stderr_of(collector)}"
    collector_port = int(line.rsplit(":", 1)[1])

    def agent_file(poll: str) -> Path:
        doc = {
            "gateway": {"id": "gw-deploy"},
            "links": [{"name": "plc", "url": tcp.url},
                      {"name": "bus", "url": f"rtu://{serial_port}", "serial": {"baud": 9600}, "response_timeout": "500ms"}],
            "devices": [{"name": "meter", "link": "plc", "unit": 1, "address_base": 0, "poll_interval": poll, "points": points},
                        {"name": "rtu-meter", "link": "bus", "unit": 1, "address_base": 0, "poll_interval": poll,
                         "points": points}],
            "spool": {"directory": str(workdir / "spool"), "sync_interval": "100ms"},
            "batch": {"max_age": "300ms"},
            "sinks": [{"name": "collector", "url": f"https://localhost:{collector_port}/v1/ingest",
                       "token_file": str(token_file), "ca_file": str(pki.ca)}],
            "control": {"socket": str(control), "metrics_port": metrics_port},
            # On, though there is no ModemManager here: the sd-bus connect and the health sampler run under the
            # unit's filter and in the syscall trace too.
            "modem": {"enabled": True},
        }
        path = workdir / "agent.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        path.chmod(0o644)
        return path

    env = dict(os.environ, NOTIFY_SOCKET=str(workdir / "notify.sock"), WATCHDOG_USEC="2000000",
               TRAM_LOCK_DIR=str(workdir))
    env.pop("WATCHDOG_PID", None)
    agent_log = open(workdir.parent / f"{workdir.name}-agent.log", "w+b")  # noqa: SIM115 (read at the end)
    agent = procs.spawn(confined("tram-agent", "agent", agent_bin, "--config", agent_file("200ms")), "agent", env=env,
                        stdout=agent_log)

    def tracee(proc: subprocess.Popen) -> int:
        """The daemon's pid: strace's child (signals go to it, not to strace), or the sandbox's exec'd self."""
        if mode != "strace":
            return proc.pid
        return int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])

    wait_for(lambda: agent.poll() is not None or ctl_status(control), 30, "the agent's control socket")
    assert agent.poll() is None, procs.stderr_of(agent)
    agent_pid = tracee(agent)

    def notifications() -> list[str]:
        out = []
        while True:
            try:
                out.append(notify.recv(4096).decode())
            except OSError:
                return out

    def stored() -> dict[str, int]:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            # Readings with the PLC's value (a failed poll is stored too, without one).
            return dict(conn.execute("SELECT d.name, count(*) FROM readings r JOIN points p ON p.id = r.point "
                                     "JOIN devices d ON d.id = p.device WHERE p.name = 'voltage' AND r.value = 230.5 "
                                     "GROUP BY d.name").fetchall())

    def delivered(minimum: dict[str, int]):
        try:
            counts = stored()
        except sqlite3.Error:
            return False
        return all(counts.get(device, 0) >= n for device, n in minimum.items())

    try:
        wait_for(lambda: delivered({"meter": 3, "rtu-meter": 3}), 60, "readings of both devices at the collector")
        wait_for(lambda: RelayTarget.lines, 30, "the collector's relay writes")
        assert "tram_readings_produced_total" in urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        assert any("READY=1" in n for n in notifications()), "no READY=1 on NOTIFY_SOCKET"

        # The unit's ExecReload (`/bin/kill -HUP $MAINPID`, as the service's user): a changed poll interval restarts
        # polling, and the RTU port is closed and opened again.
        reloads = ctl_status(control)["agent"]["reloads"]
        agent_file("300ms")
        killed = subprocess.run(confined("tram-agent", "kill", "/bin/kill", "-HUP", agent_pid), capture_output=True,
                                text=True, timeout=30)
        assert killed.returncode == 0, f"{killed.stderr}\n{procs.stderr_of(agent)}"
        wait_for(lambda: (ctl_status(control) or {}).get("agent", {}).get("reloads", 0) > reloads, 30, "the reload")
        before = stored()
        try:
            wait_for(lambda: delivered({"meter": before["meter"] + 2, "rtu-meter": before["rtu-meter"] + 2}), 60,
                     "readings of both devices after the reload")
        except TimeoutError:
            status = ctl_status(control)
            print(json.dumps([{k: d.get(k) for k in ("name", "health", "last_error", "cycles")} for d in status["devices"]], indent=1))
            raise

        # Graceful stop: SIGTERM to the agent (as systemd stops it), then to the collector.
        os.kill(agent_pid, signal.SIGTERM)
        assert agent.wait(timeout=30) == 0, procs.stderr_of(agent)
        os.kill(tracee(collector), signal.SIGTERM)
        assert collector.wait(timeout=30) == 0, procs.stderr_of(collector)
    finally:
        relay.shutdown()
        notify.close()
        agent_log.seek(0)
        log = agent_log.read().decode(errors="replace")
        agent_log.close()
        os.unlink(agent_log.name)

    # Nothing the agent did was refused without it saying so in the log, and it logged no refusal.
    assert "Operation not permitted" not in log, log[-3000:]
    if mode == "strace":
        agent_calls, collector_calls = Trace(workdir / "agent.strace"), Trace(workdir / "collector.strace")
        print("tram-agent:", len(agent_calls.calls), "distinct syscalls", sorted(agent_calls.calls))
        print("tram-agent socket families:", sorted(agent_calls.families), "ioctls:", sorted(agent_calls.ioctls))
        print("tram-collector:", len(collector_calls.calls), "distinct syscalls", sorted(collector_calls.calls))
        print("tram-collector socket families:", sorted(collector_calls.families))
        agent_calls.check(UNITS["tram-agent"])
        Trace(workdir / "kill.strace").check(UNITS["tram-agent"])
        collector_calls.check(UNITS["tram-collector"])
        # The run did what it was meant to exercise: the serial port (termios, TIOCEXCL), TCP, the control socket,
        # and the clock status.
        assert {"AF_INET", "AF_UNIX"} <= agent_calls.families
        assert "TIOCEXCL" in agent_calls.ioctls and "TCGETS" in agent_calls.ioctls, agent_calls.ioctls
        assert "clock_adjtime" in agent_calls.calls or "adjtimex" in agent_calls.calls
