"""Test-peer harness for Tram's integration tests.

Everything runs on loopback or on pseudo-terminals; every wait polls a
condition against a deadline; every process started here is killed (with its
whole process group) at fixture teardown, also when the test fails.

Fixtures (all function-scoped):
    procs                      ProcessManager: spawn()/kill-at-teardown
    free_port()                -> int          a currently free TCP port on 127.0.0.1
    plc_tcp(values=None, units=None, *, framer="socket", missing_unit="ignore", args=())
                               -> Plc (.host, .port, .url "tcp://127.0.0.1:PORT"; control methods)
    pty_pair()                 -> PtyPair (.a, .b paths of the two linked ptys; .proc)
    plc_rtu(values=None, units=None, *, baud=9600, parity="N", missing_unit="ignore", args=())
                               -> Plc (.device: the pty end a client opens; .url "rtu://DEVICE")
    rtu_over_tcp_bridge(pty_path) -> int       port of a socat TCP listener wired to pty_path
    rtu_recorder(values=None, units=None, *, baud=19200, parity="N", stopbits=1, args=())
                               -> Recorder (peers/rtu_recorder.py on a pty pair: .device, .record_path,
                                            .records(), .check_gaps(pause_ms), Plc's control methods)
    tramctl                    -> run_tramctl  (skips the test if the binary is not built)
    modem_bus                  -> ModemBus     (peers/modem_bus.py: a private system bus with a simulated
                                                ModemManager 1.20; .address is the agent's DBUS_SYSTEM_BUS_ADDRESS)
Plain helpers (also importable: `from conftest import mbpoll_read`):
    run_tramctl(*args, timeout=30, input=None, env=None, cwd=None) -> CompletedProcess[str]
    mbpoll_read(target, unit, table, address0, count, kind="raw", *, port=None, ...)
    mbpoll_write(target, unit, table, address0, values, *, port=None, ...)
    wait_for(predicate, timeout, what)
"""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLC_PY = HERE / "peers" / "plc.py"
RTU_RECORDER_PY = HERE / "peers" / "rtu_recorder.py"
TRAMCTL = Path(os.environ.get("TRAMCTL") or REPO / ".build" / "debug" / "tramctl")
LOOPBACK = "127.0.0.1"

START_TIMEOUT = 15.0   # seconds for a peer to become ready
STOP_TIMEOUT = 5.0     # seconds between SIGTERM and SIGKILL
CONTROL_TIMEOUT = 10.0  # seconds for a control command's reply


# --------------------------------------------------------------------- waiting

def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02):
    """Poll `predicate` until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def find_free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago (callers that race must retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL the child if the test process dies (Linux PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except Exception:  # pylint: disable=broad-except
        pass


def port_accepts(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------- processes

class ProcessManager:
    """Starts processes in their own process group and kills the groups at close()."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []
        self._n = 0

    def spawn(self, argv: Sequence[str], name: str, *, stdin=subprocess.DEVNULL,
              stdout=subprocess.DEVNULL, **kw) -> subprocess.Popen:
        """Start argv; its stderr goes to <log_dir>/<name>-N.err (see .stderr_path)."""
        self._n += 1
        err_path = self.log_dir / f"{name}-{self._n}.err"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(list(map(str, argv)), stdin=stdin, stdout=stdout, stderr=err,
                                    start_new_session=True, preexec_fn=_die_with_parent, **kw)
        proc.stderr_path = err_path  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    @staticmethod
    def stderr_of(proc: subprocess.Popen) -> str:
        try:
            return Path(proc.stderr_path).read_text(errors="replace")  # type: ignore[attr-defined]
        except OSError:
            return ""

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGTERM the process group, SIGKILL it if still alive after STOP_TIMEOUT."""
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # the leader may be gone while forked children (socat fork) live on
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pipe in (proc.stdin, proc.stdout):
            if pipe:
                try:
                    pipe.close()
                except OSError:
                    pass

    def close(self) -> None:
        while self.procs:
            self.kill(self.procs.pop())


@pytest.fixture
def procs(tmp_path):
    manager = ProcessManager(tmp_path)
    try:
        yield manager
    finally:
        manager.close()


@pytest.fixture
def free_port() -> Callable[[], int]:
    return find_free_port


# ----------------------------------------------------------------------- PLC

class PlcError(RuntimeError):
    pass


class Plc:
    """A running peers/plc.py.  Control methods raise PlcError on an ERR reply."""

    def __init__(self, proc: subprocess.Popen, kind: str):
        self.proc = proc
        self.kind = kind                  # "tcp" or "rtu"
        self.host: str | None = None
        self.port: int | None = None
        self.device: str | None = None    # rtu: the pty end clients open
        self.server_device: str | None = None
        self.pair: PtyPair | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}" if self.kind == "tcp" else f"rtu://{self.device}"

    def _pump(self) -> None:
        try:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self._lines.put(line.rstrip("\n"))
        except (ValueError, OSError):  # pipe closed at teardown
            pass
        self._lines.put(None)

    def read_line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"plc gave no output within {timeout:.1f}s; stderr:\n"
                               f"{ProcessManager.stderr_of(self.proc)}") from None
        if line is None:
            self._lines.put(None)
            raise PlcError(f"plc exited (rc={self.proc.poll()}); stderr:\n"
                           f"{ProcessManager.stderr_of(self.proc)}")
        return line

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
            elif line == "READY":
                return

    def command(self, line: str, timeout: float = CONTROL_TIMEOUT) -> str:
        """Send one control line; return the text after OK (raise PlcError on ERR)."""
        with self._lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.strip() + "\n")
            self.proc.stdin.flush()
            reply = self.read_line(timeout)
        if reply == "OK" or reply.startswith("OK "):
            return reply[3:]
        raise PlcError(f"{line!r} -> {reply}")

    # convenience wrappers --------------------------------------------------
    def ping(self) -> None:
        self.command("ping")

    def silence(self, on: bool = True, units: Iterable[int] = ()) -> None:
        self.command(" ".join(["silence", "on" if on else "off", *map(str, units)]))

    def delay(self, ms: float, units: Iterable[int] = ()) -> None:
        self.command(" ".join(["delay", str(ms), *map(str, units)]))

    def writes(self, mode: str, code: int | None = None, units: Iterable[int] = ()) -> None:
        """mode: normal | ignore | exception (code: the exception code, e.g. 2 or 3)."""
        words = ["writes", mode] + ([str(code)] if mode == "exception" else [])
        self.command(" ".join([*words, *map(str, units)]))

    def set(self, unit: int, table: str, address: int, *values: int) -> None:
        self.command(" ".join(["set", str(unit), table, str(address), *map(str, values)]))

    def get(self, unit: int, table: str, address: int, count: int = 1) -> list[int]:
        return [int(v) for v in self.command(f"get {unit} {table} {address} {count}").split()]

    def unset(self, unit: int, table: str, address: int, count: int = 1) -> None:
        self.command(f"unset {unit} {table} {address} {count}")

    def requests(self) -> int:
        return int(self.command("requests"))

    def log(self) -> list[tuple[int, int, int, int]]:
        """Requests received so far: (unit, function code, address, count)."""
        out = []
        for item in self.command("log").split():
            u, fc, a, c = item.split(":")
            out.append((int(u), int(fc), int(a) if a != "-" else -1, int(c) if c != "-" else -1))
        return out

    def clear(self) -> None:
        self.command("clear")

    def stop(self) -> None:
        ProcessManager.kill(self.proc)


def _values_file(tmp_dir: Path, values) -> Path | None:
    """dict -> JSON file (int keys become strings); str/Path passes through."""
    if values is None:
        return None
    if isinstance(values, (str, Path)):
        return Path(values)

    def norm(obj):
        if isinstance(obj, dict):
            return {str(k): norm(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [norm(v) for v in obj]
        return obj

    fd, name = _mkstemp(tmp_dir, "values-", ".json")
    with os.fdopen(fd, "w") as f:
        json.dump(norm(values), f)
    return Path(name)


def _mkstemp(d: Path, prefix: str, suffix: str):
    import tempfile
    return tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=d)


def _start_peer(procs: ProcessManager, tmp_dir: Path, cls: type[Plc], name: str, kind: str,
                argv: list[str], values, units, args: Sequence[str]):
    """Start a peer (plc.py or rtu_recorder.py: argv, then --values, --units, args) and wait for READY."""
    vf = _values_file(tmp_dir, values)
    if vf:
        argv += ["--values", str(vf)]
    if units:
        argv += ["--units", ",".join(map(str, units))]
    argv += list(args)
    proc = procs.spawn(argv, name, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       text=True, bufsize=1)
    peer = cls(proc, kind)
    peer.wait_ready()
    return peer


def _start_plc(procs: ProcessManager, tmp_dir: Path, where: list[str], kind: str, values, units,
               missing_unit: str, args: Sequence[str]) -> Plc:
    return _start_peer(procs, tmp_dir, Plc, "plc", kind,
                       [sys.executable, str(PLC_PY), *where, "--missing-unit", missing_unit], values, units, args)


@pytest.fixture
def plc_tcp(procs, tmp_path):
    """plc_tcp(values=None, units=None, *, framer="socket"|"rtu", missing_unit=..., args=()) -> Plc.

    Binds 127.0.0.1:0 (race-free: the PLC reports the port it got)."""
    def start(values=None, units=None, *, framer: str = "socket", missing_unit: str = "ignore",
              args: Sequence[str] = ()) -> Plc:
        plc = _start_plc(procs, tmp_path, ["--tcp", f"{LOOPBACK}:0", "--framer", framer], "tcp",
                         values, units, missing_unit, args)
        plc.host = LOOPBACK
        assert plc.port, "plc did not report its port"
        return plc
    return start


# ----------------------------------------------------------------------- ptys

@dataclass
class PtyPair:
    a: str
    b: str
    proc: subprocess.Popen = field(repr=False)


@pytest.fixture
def pty_pair(procs, tmp_path):
    """pty_pair() -> PtyPair: two ptys linked by socat (links <tmp>/ptyN/A and B)."""
    counter = [0]

    def make() -> PtyPair:
        counter[0] += 1
        d = tmp_path / f"pty{counter[0]}"
        d.mkdir()
        a, b = d / "A", d / "B"
        proc = procs.spawn(["socat", "-d", "-d", f"pty,raw,echo=0,link={a}",
                            f"pty,raw,echo=0,link={b}"], "socat-pty")

        def ready():
            if proc.poll() is not None:
                raise RuntimeError(f"socat exited rc={proc.returncode}:\n{procs.stderr_of(proc)}")
            return (a.exists() and b.exists()
                    and "starting data transfer loop" in procs.stderr_of(proc))
        wait_for(ready, START_TIMEOUT, "socat pty pair")
        return PtyPair(str(a), str(b), proc)
    return make


@pytest.fixture
def plc_rtu(procs, tmp_path, pty_pair):
    """plc_rtu(values=None, units=None, *, baud=9600, parity="N", ...) -> Plc.

    The PLC serves RTU on one pty end; Plc.device is the other end (for the client)."""
    def start(values=None, units=None, *, baud: int = 9600, parity: str = "N",
              missing_unit: str = "ignore", args: Sequence[str] = ()) -> Plc:
        pair = pty_pair()
        plc = _start_plc(procs, tmp_path,
                         ["--rtu", pair.a, "--baud", str(baud), "--parity", parity], "rtu",
                         values, units, missing_unit, args)
        plc.pair, plc.server_device, plc.device = pair, pair.a, pair.b
        return plc
    return start


class Recorder(Plc):
    """A running peers/rtu_recorder.py (a recording RTU slave); Plc's control methods plus these."""

    record_path: Path
    baud: int
    framing: str

    def late(self, ms: float, units: Iterable[int] = ()) -> None:
        self.command(" ".join(["late", str(ms), *map(str, units)]))

    def frames(self) -> int:
        return int(self.command("frames"))

    def records(self) -> list[dict]:
        """Every frame recorded so far (both directions), oldest first."""
        from peers.rtu_recorder import read_records
        self.ping()   # the recorder handles stdin between frames: all frames read so far are on disk
        return read_records(self.record_path)

    def check_gaps(self, pause_ms=0.0, records: list[dict] | None = None) -> list[dict]:
        from peers.rtu_recorder import check_gaps
        return check_gaps(self.records() if records is None else records, self.baud, pause_ms, self.framing)


@pytest.fixture
def rtu_recorder(procs, tmp_path, pty_pair):
    """rtu_recorder(values=None, units=None, *, baud=19200, parity="N", stopbits=1, args=()) -> Recorder.

    Serves on one end of a fresh pty pair; .device is the other end (for the master);
    .record_path the JSONL recording."""
    counter = [0]

    def start(values=None, units=None, *, baud: int = 19200, parity: str = "N", stopbits: int = 1,
              args: Sequence[str] = ()) -> Recorder:
        counter[0] += 1
        pair = pty_pair()
        record_path = tmp_path / f"rtu-record-{counter[0]}.jsonl"
        argv = [sys.executable, str(RTU_RECORDER_PY), "--rtu", pair.a, "--baud", str(baud),
                "--parity", parity, "--stopbits", str(stopbits), "--record", str(record_path)]
        rec = _start_peer(procs, tmp_path, Recorder, "rtu-recorder", "rtu", argv, values, units, args)
        rec.pair, rec.server_device, rec.device = pair, pair.a, pair.b
        rec.record_path, rec.baud, rec.framing = record_path, baud, f"8{parity}{stopbits}"
        return rec
    return start


@pytest.fixture
def rtu_over_tcp_bridge(procs):
    """rtu_over_tcp_bridge(pty_path) -> port: socat TCP listener on 127.0.0.1 <-> pty (raw RTU bytes)."""
    def start(pty_path: str) -> int:
        last_err = ""
        for _ in range(5):  # a free port can be taken between probe and bind: retry
            port = find_free_port()
            proc = procs.spawn(["socat", "-d", "-d",
                                f"TCP-LISTEN:{port},bind={LOOPBACK},reuseaddr,fork",
                                f"FILE:{pty_path},raw,echo=0"], "socat-bridge")

            def listening():
                if proc.poll() is not None:
                    return "exited"
                return "listening on" in procs.stderr_of(proc)
            state = wait_for(listening, START_TIMEOUT, f"socat listening on {port}")
            if state == "exited":
                last_err = procs.stderr_of(proc)
                continue
            return port
        raise RuntimeError(f"socat bridge failed to start:\n{last_err}")
    return start


# -------------------------------------------------------------------- tramctl

def run_tramctl(*args, timeout: float = 30, input: str | None = None, env: dict | None = None,
                cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run tramctl (path from $TRAMCTL, default <repo>/.build/debug/tramctl).

    Returns CompletedProcess with text stdout/stderr; raises subprocess.TimeoutExpired
    (after killing it) if it runs longer than `timeout`."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.Popen([str(TRAMCTL), *map(str, args)], stdin=subprocess.PIPE if input is not None
                            else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        ProcessManager.kill(proc)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(proc.args, timeout, out, err) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def tramctl():
    if not (TRAMCTL.is_file() and os.access(TRAMCTL, os.X_OK)):
        pytest.skip(f"tramctl not built at {TRAMCTL} (set TRAMCTL or run swift build)")
    return run_tramctl


# ------------------------------------------------------------------ ModemManager

@pytest.fixture
def modem_bus():
    """A started peers/modem_bus.ModemBus with no modem yet; stopped (daemon and mock killed) at teardown."""
    from peers.modem_bus import ModemBus
    with ModemBus() as bus:
        yield bus


# --------------------------------------------------------------------- mbpoll

class MbpollError(RuntimeError):
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        super().__init__(f"mbpoll rc={proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}")

    @property
    def timed_out(self) -> bool:
        return "timed out" in self.stderr.lower()

    @property
    def illegal_address(self) -> bool:
        return "illegal data address" in self.stderr.lower()


_TABLE_TYPES = {"coil": "0", "discrete_input": "1", "input": "3", "holding": "4"}
_VALUE_RE = re.compile(r"^\[(\d+)\]:\s+(\S+)")


def _mbpoll_target(target, port, mode, baud, parity) -> list[str]:
    """target: "/dev/..." (RTU), "host", "host:port" or (host, port) (TCP)."""
    if isinstance(target, tuple):
        target, port = target
    target = str(target)
    if mode is None:
        mode = "rtu" if target.startswith("/") else "tcp"
    if mode == "rtu":
        return ["-m", "rtu", "-b", str(baud), "-P", parity, "-d", "8", "-s", "1", target]
    if port is None and ":" in target:
        target, p = target.rsplit(":", 1)
        port = int(p)
    return ["-m", "tcp", "-p", str(port or 502), target]


def mbpoll_read(target, unit: int, table: str, address0: int, count: int = 1, kind: str = "raw", *,
                port: int | None = None, mode: str | None = None, baud: int = 9600,
                parity: str = "none", timeout: float = 1.0, big_endian: bool = True,
                run_timeout: float = 20.0) -> list:
    """Read once with mbpoll (0-based PDU address) and return the values.

    table: holding | input | coil | discrete_input.
    kind:  "raw" -> 16-bit words as ints (or 0/1 bits); "int" -> 32-bit ints; "float" ->
           32-bit floats ("int"/"float": `count` values, 2 registers each, high word first
           unless big_endian=False).
    Raises MbpollError (see .timed_out, .illegal_address) when mbpoll fails."""
    if table not in _TABLE_TYPES:
        raise ValueError(f"unknown table {table!r}")
    t = _TABLE_TYPES[table]
    if table in ("holding", "input"):
        t += {"raw": ":hex", "int": ":int", "float": ":float"}[kind]
    elif kind != "raw":
        raise ValueError("bit tables only support kind='raw'")
    argv = ["mbpoll", "-1", "-0", "-a", str(unit), "-t", t, "-r", str(address0), "-c", str(count),
            "-o", f"{timeout:g}"]
    if kind in ("int", "float") and big_endian:
        argv.append("-B")
    argv += _mbpoll_target(target, port, mode, baud, parity)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=run_timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise MbpollError(proc)
    values = []
    for line in proc.stdout.splitlines():
        m = _VALUE_RE.match(line.strip())
        if m:
            text = m.group(2)
            values.append(float(text) if kind == "float" else int(text, 0))
    if len(values) != count:
        raise MbpollError(subprocess.CompletedProcess(argv, -1, proc.stdout,
                                                      f"expected {count} values, parsed {values}"))
    return values


def mbpoll_write(target, unit: int, table: str, address0: int, values: Sequence[int], *,
                 port: int | None = None, mode: str | None = None, baud: int = 9600,
                 parity: str = "none", timeout: float = 1.0, run_timeout: float = 20.0) -> None:
    """Write 16-bit words (holding) or bits (coil) with mbpoll; raises MbpollError."""
    if table not in ("holding", "coil"):
        raise ValueError("only holding and coil are writable")
    argv = ["mbpoll", "-1", "-0", "-a", str(unit), "-t", _TABLE_TYPES[table], "-r", str(address0),
            "-o", f"{timeout:g}", *_mbpoll_target(target, port, mode, baud, parity),
            *map(str, values)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=run_timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise MbpollError(proc)
