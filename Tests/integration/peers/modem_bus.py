"""A private D-Bus system bus with a simulated ModemManager 1.20 on it (python-dbusmock), for tram-agent's modem.

    with ModemBus() as bus:
        bus.add_modem(0, tech="nr5g_nsa", rsrp=-97.0, location=(0, 0x1A2B, 0x1234567))
        env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address}          # give the agent this
        ...
        bus.set_signal(rsrp=-110.0)
        bus.remove_modem(0)                                     # a USB reset: InterfacesRemoved, object gone

What runs: a `dbus-daemon` with its own config (a unix socket in a temp dir, permissive policy), and on it
`python3 -m dbusmock --template modemmanager` (bus name org.freedesktop.ModemManager1), extended with
peers/modem_template.py (loaded over D-Bus with org.freedesktop.DBus.Mock.AddTemplate). Modems appear at
ModemManager's real paths /org/freedesktop/ModemManager1/Modem/N and in GetManagedObjects on
/org/freedesktop/ModemManager1, with the Modem, Modem.Modem3gpp, Modem.Signal and Modem.Location interfaces.

This module is standard library only, so pytest can run it under any Python. The mock itself needs dbus-python,
which Debian's python3-dbus gives /usr/bin/python3 (on PyPI it is source only); the mock therefore runs under the
first of $TRAM_DBUSMOCK_PYTHON, this Python, /usr/bin/python3 that can import both dbus and dbusmock.
scripts/setup --test installs Tests/integration/requirements-dbusmock.txt for /usr/bin/python3.

The harness talks to the mock with `busctl` (systemd), one call per scenario step; values travel as JSON strings
to the template's Tram* methods, which build the typed D-Bus values.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "modem_template.py"
DBUSMOCK_VERSION = "0.38.0"          # the pin in Tests/integration/requirements-dbusmock.txt

MM_BUS_NAME = "org.freedesktop.ModemManager1"
MM_PATH = "/org/freedesktop/ModemManager1"
MODEM_PATH = MM_PATH + "/Modem/{}"
MODEM_IFACE = "org.freedesktop.ModemManager1.Modem"
MODEM_3GPP_IFACE = MODEM_IFACE + ".Modem3gpp"
SIGNAL_IFACE = MODEM_IFACE + ".Signal"
LOCATION_IFACE = MODEM_IFACE + ".Location"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
UNAUTHORIZED = "org.freedesktop.ModemManager1.Error.Core.Unauthorized"
CONTROL_METHODS = ("TramAddModem", "TramUpdateModem", "TramRemoveModem", "AddTemplate")  # the harness's own
MM_VERSION = "1.20.6"                 # reported as org.freedesktop.ModemManager1.Version

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
CALL_TIMEOUT = 10.0

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- A test bus: anyone may connect (the agent may run as another user), own and call anything. -->
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
{extra_policy}
</busconfig>
"""


class ModemBusError(RuntimeError):
    """A control call failed. .error_name is the D-Bus error name, when busctl gave one."""

    def __init__(self, message: str, error_name: str | None = None):
        super().__init__(message)
        self.error_name = error_name


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL the child if the test process dies (Linux PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except Exception:  # pylint: disable=broad-except
        pass


def _kill(proc: subprocess.Popen | None) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after STOP_TIMEOUT."""
    if proc is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=STOP_TIMEOUT)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.stdout:
        proc.stdout.close()


@functools.lru_cache(maxsize=None)
def mock_python() -> str:
    """The interpreter to run dbusmock with (see the module docstring); raises RuntimeError if none can.
    Probed once per process."""
    candidates = [os.environ.get("TRAM_DBUSMOCK_PYTHON"), sys.executable, "/usr/bin/python3"]
    tried = []
    for python in dict.fromkeys(c for c in candidates if c):
        try:
            out = subprocess.run([python, "-c", "import dbus, dbusmock; print(dbusmock.__version__)"],
                                 capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
        except OSError as e:
            tried.append(f"{python}: {e}")
            continue
        if out.returncode == 0:
            if out.stdout.strip() != DBUSMOCK_VERSION:
                tried.append(f"{python}: dbusmock {out.stdout.strip()}, want {DBUSMOCK_VERSION}")
                continue
            return python
        tried.append(f"{python}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    raise RuntimeError("no Python with dbus-python and python-dbusmock " + DBUSMOCK_VERSION + " (run scripts/setup "
                       "--test, or: apt-get install python3-dbus; /usr/bin/python3 -m pip install --no-deps "
                       "--break-system-packages -r Tests/integration/requirements-dbusmock.txt):\n  "
                       + "\n  ".join(tried))


class ModemBus:
    """A private system bus with a simulated ModemManager; a context manager (start() / stop() otherwise).

    `address` is the bus address to hand the agent as DBUS_SYSTEM_BUS_ADDRESS. Scenario methods take the modem
    index (default 0) and change what ModemManager shows; each change is visible on the bus when the method returns
    (PropertiesChanged, InterfacesAdded and InterfacesRemoved are emitted as ModemManager would)."""

    def __init__(self, directory: str | os.PathLike | None = None, *, mm_version: str = MM_VERSION,
                 extra_policy: str = ""):
        """extra_policy: <policy> elements added after the permissive default one (a test of a shipped policy)."""
        self.extra_policy = extra_policy
        self._own_dir = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="tram-modem-bus-") if directory is None else directory)
        self.mm_version = mm_version
        self.address: str = ""
        self.daemon: subprocess.Popen | None = None
        self.mock: subprocess.Popen | None = None
        self.mock_log = self.dir / "dbusmock.log"          # every call the mock received, one per line
        self.mock_stderr = self.dir / "dbusmock.err"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "ModemBus":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "ModemBus":
        python = mock_python()
        for tool in ("dbus-daemon", "busctl"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} not found (apt-get install dbus-daemon systemd)")
        # Others may need to reach the socket (an agent running as nobody): the directory is world-searchable.
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        config = self.dir / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=self.dir / "system_bus_socket", extra_policy=self.extra_policy))
        try:
            self._start_daemon(config)
            self._start_mock(python)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_daemon(self, config: Path) -> None:
        self.daemon = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(self.dir / "dbus-daemon.err", "wb"),
            text=True, start_new_session=True, preexec_fn=_die_with_parent)
        # --print-address writes one line once the socket listens; a dead daemon gives EOF instead.
        line = self.daemon.stdout.readline().strip()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("dbus-daemon did not start:\n" + self._read(self.dir / "dbus-daemon.err"))
        self.address = line

    def _start_mock(self, python: str) -> None:
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, PYTHONUNBUFFERED="1")
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        with open(self.mock_stderr, "wb") as err:
            self.mock = subprocess.Popen(
                [python, "-m", "dbusmock", "--system", "--template", "modemmanager", "--logfile", str(self.mock_log),
                 "--parameters", json.dumps({"DaemonVersion": self.mm_version})],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._name_has_owner():
            if self.mock.poll() is not None:
                raise RuntimeError(f"dbusmock exited rc={self.mock.returncode}:\n{self._read(self.mock_stderr)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dbusmock did not own {MM_BUS_NAME} within {START_TIMEOUT}s:\n"
                                   + self._read(self.mock_stderr))
            time.sleep(0.02)
        # Calls are served once the mock's main loop runs, i.e. after its own template has loaded.
        self._busctl("call", MM_BUS_NAME, MM_PATH, MOCK_IFACE, "AddTemplate", "sa{sv}", str(TEMPLATE), "0")

    def stop(self) -> None:
        _kill(self.mock)
        _kill(self.daemon)
        self.mock = self.daemon = None
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart_modemmanager(self) -> None:
        """Kill the mock (ModemManager's name vanishes: NameOwnerChanged) and start a fresh one with no modems."""
        _kill(self.mock)
        self.mock = None
        self._start_mock(mock_python())

    def stop_modemmanager(self) -> None:
        """Kill the mock only: the bus stays, org.freedesktop.ModemManager1 has no owner."""
        _kill(self.mock)
        self.mock = None

    # ------------------------------------------------------------------ scenarios

    def add_modem(self, index: int = 0, tech: str = "lte", *, rsrp: float = -95.0, rsrq: float = -11.0,
                  snr: float = 12.0, rssi: float = -65.0, nr_rsrp: float = -90.0, nr_rsrq: float = -12.0,
                  nr_snr: float = 15.0, error_rate: float | None = None, nr_error_rate: float | None = None,
                  registration: int = 1, operator_code: str = "45204", operator_name: str = "Viettel",
                  signal_rate: int = 30, location: Sequence[int] | None = None, location_refused: bool = False,
                  signals_location: bool = False, **more: Any) -> str:
        """Export modem `index` at /org/freedesktop/ModemManager1/Modem/INDEX (InterfacesAdded); returns the path.

        tech: "lte" (AccessTechnologies 0x4000; Signal.Lte filled, Nr5g empty), "nr5g_nsa" (0xC000; both filled:
        rsrp/rsrq/snr/rssi for LTE, nr_* for NR), "nr5g_sa" (0x8000; Nr5g only) or "3g" (UMTS 0x20; Signal.Umts
        with rssi, rscp, ecio). error_rate / nr_error_rate: the dicts' "error-rate" key, absent when None (many
        modems do not report it). registration: MMModem3gppRegistrationState (1 home, 5 roaming, 2 searching, ...);
        when not registered, OperatorCode/OperatorName are "" and AccessTechnologies 0, as in ModemManager.
        signal_rate: Signal.Rate; 0 = polling off, every Signal dict empty. location: (lac, tac, cell_id) of the
        serving cell, which enables the 3GPP source (Location.Enabled = 1) and makes GetLocation() return
        {1: "MCC,MNC,LAC,CI,TAC"} (hex); None: Enabled 0 and GetLocation() returns {}. location_refused:
        GetLocation() raises org.freedesktop.ModemManager1.Error.Core.Unauthorized. signals_location: the
        Location property carries the location too (ModemManager's default is False: only GetLocation()).
        more: state (MMModemState, default derived from registration), signal_quality (percent, default from
        rssi or NR rsrp), manufacturer, model, revision, imei, iccid, device, device_identifier, rscp, ecio,
        location_enabled (the Location.Enabled bit mask)."""
        spec = dict(index=index, tech=tech, rsrp=rsrp, rsrq=rsrq, snr=snr, rssi=rssi, nr_rsrp=nr_rsrp,
                    nr_rsrq=nr_rsrq, nr_snr=nr_snr, error_rate=error_rate, nr_error_rate=nr_error_rate,
                    registration=registration, operator_code=operator_code, operator_name=operator_name,
                    signal_rate=signal_rate, location=list(location) if location is not None else None,
                    location_refused=location_refused, signals_location=signals_location, **more)
        out = self._busctl("call", MM_BUS_NAME, MM_PATH, MOCK_IFACE, "TramAddModem", "s", json.dumps(spec))
        return json.loads(out)["data"][0]

    def update_modem(self, index: int = 0, **changes: Any) -> None:
        """Change any add_modem() argument (except index) of a modem; PropertiesChanged for what changed."""
        if "location" in changes and changes["location"] is not None:
            changes["location"] = list(changes["location"])
            changes.setdefault("location_enabled", 1)
        self._busctl("call", MM_BUS_NAME, MM_PATH, MOCK_IFACE, "TramUpdateModem", "us", str(index),
                     json.dumps(changes))

    def set_signal(self, index: int = 0, *, tech: str | None = None, **values: float | None) -> None:
        """New signal values (rsrp, rsrq, snr, rssi, error_rate, nr_rsrp, nr_rsrq, nr_snr, nr_error_rate, rscp,
        ecio, signal_quality), and optionally a new tech."""
        allowed = {"rsrp", "rsrq", "snr", "rssi", "error_rate", "nr_rsrp", "nr_rsrq", "nr_snr", "nr_error_rate",
                   "rscp", "ecio", "signal_quality"}
        if set(values) - allowed:
            raise TypeError(f"unknown signal values {sorted(set(values) - allowed)}")
        if tech is not None:
            values["tech"] = tech  # type: ignore[assignment]
        self.update_modem(index, **values)

    def set_registration(self, registration: int, index: int = 0, *, operator_code: str | None = None,
                         operator_name: str | None = None, state: int | None = None) -> None:
        """Modem3gpp.RegistrationState (and what follows it in ModemManager: Modem.State 8 registered / 7 searching /
        6 enabled, the operator, AccessTechnologies, SignalQuality, the 3GPP location)."""
        changes: dict[str, Any] = {"registration": registration, "state": state}
        if operator_code is not None:
            changes["operator_code"] = operator_code
        if operator_name is not None:
            changes["operator_name"] = operator_name
        self.update_modem(index, **changes)

    def set_signal_rate(self, rate: int, index: int = 0) -> None:
        """Signal.Rate; 0 turns polling off and empties every Signal dict, as ModemManager does."""
        self.update_modem(index, signal_rate=rate)

    def set_location(self, location: Sequence[int] | None, index: int = 0) -> None:
        """The serving cell (lac, tac, cell_id), or None (Location.Enabled 0, GetLocation() returns {})."""
        if location is None:
            self.update_modem(index, location=None, location_enabled=0)
        else:
            self.update_modem(index, location=location)

    def make_get_location_unauthorised(self, index: int = 0, refused: bool = True) -> None:
        """GetLocation() (and Location.Setup) raise org.freedesktop.ModemManager1.Error.Core.Unauthorized."""
        self.update_modem(index, location_refused=refused)

    def remove_modem(self, index: int = 0) -> None:
        """The modem goes (a USB reset): its object is unexported, then InterfacesRemoved is emitted."""
        self._busctl("call", MM_BUS_NAME, MM_PATH, MOCK_IFACE, "TramRemoveModem", "u", str(index))

    # ------------------------------------------------------------------ inspection

    def modem_path(self, index: int = 0) -> str:
        return MODEM_PATH.format(index)

    def calls(self) -> list[str]:
        """What clients called, from the mock's log: one "TIME METHOD ARGS" line per call ("TIME Get PATH
        IFACE.PROP", "TIME GetAll PATH IFACE", "TIME Setup 5", ...). The harness's own control calls and the
        mock's "emit" lines (which carry whole property sets) are left out; log() has everything."""
        own = (" emit ",) + tuple(f" {m} " for m in CONTROL_METHODS)
        return [line for line in self.log() if not any(o in f"{line} " for o in own)]

    def log(self) -> list[str]:
        """The mock's whole log (dbusmock --logfile): calls, control calls and emitted signals."""
        return self._read(self.mock_log).splitlines()

    def busctl(self, *args: str, timeout: float = CALL_TIMEOUT) -> dict:
        """Run `busctl --address=ADDRESS --json=short ARGS...` and return its parsed JSON (for tests)."""
        return json.loads(self._busctl(*args, timeout=timeout) or "null")

    # ------------------------------------------------------------------ plumbing

    def _busctl(self, *args: str, timeout: float = CALL_TIMEOUT) -> str:
        argv = ["busctl", f"--address={self.address}", "--json=short", *args]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise ModemBusError(f"{' '.join(argv[3:])}: {out.stderr.strip()}\n"
                                f"dbusmock stderr:\n{self._read(self.mock_stderr)[-4000:]}")
        return out.stdout

    def _name_has_owner(self) -> bool:
        try:
            out = subprocess.run(["busctl", f"--address={self.address}", "--json=short", "call",
                                  "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                  "NameHasOwner", "s", MM_BUS_NAME],
                                 capture_output=True, text=True, timeout=CALL_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False
        return out.returncode == 0 and json.loads(out.stdout)["data"] == [True]

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""
