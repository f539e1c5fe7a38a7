"""Helpers shared by the tramctl integration tests (test_read_types, test_rtu, test_faults, test_cli).

Nothing here waits without a deadline: every wait is bounded and raises with the
output seen so far, so a hung tramctl fails the test instead of hanging the suite.
"""
from __future__ import annotations

import json
import queue
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import yaml

from conftest import LOOPBACK, TRAMCTL, Plc, ProcessManager, _start_plc

REPO = Path(__file__).resolve().parents[2]
DEVICES = REPO / "Devices"
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")

# ----------------------------------------------------------------- word orders
#
# docs/device-maps.md: the order names the bytes of the value as a big-endian value
# A B C D would have them.  ABCD: big-endian, high word first.  CDAB: low word first
# (for 64-bit values: the four words in reverse order).  BADC: bytes swapped in each
# word.  DCBA: little-endian.  For 16-bit values BADC/DCBA swap the two bytes and
# CDAB/ABCD are plain big-endian.

STRUCT_CODES = {
    "int16": "h", "uint16": "H", "int32": "i", "uint32": "I",
    "int64": "q", "uint64": "Q", "float32": "f", "float64": "d",
}
UNSIGNED_CODES = {"int16": "H", "uint16": "H", "int32": "I", "uint32": "I",
                  "int64": "Q", "uint64": "Q", "float32": "I", "float64": "Q"}


def reorder(big_endian: bytes, order: str) -> list[int]:
    """Big-endian value bytes -> register words as the device sends them in `order`.

    The two swaps are involutions and commute, so the same function also turns
    device words back into big-endian order (see `words_to_be`)."""
    assert len(big_endian) % 2 == 0
    words = [big_endian[i:i + 2] for i in range(0, len(big_endian), 2)]
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    if order in ("CDAB", "DCBA"):
        words = words[::-1]
    return [int.from_bytes(w, "big") for w in words]


def words_to_be(words: Sequence[int], order: str) -> bytes:
    data = b"".join(int(w).to_bytes(2, "big") for w in words)
    return b"".join(w.to_bytes(2, "big") for w in reorder(data, order))


def encode(type_: str, value, order: str = "ABCD") -> list[int]:
    """The register words a device holding `value` of `type_` sends in `order`."""
    return reorder(struct.pack(">" + STRUCT_CODES[type_], value), order)


def decode(type_: str, words: Sequence[int], order: str):
    return struct.unpack(">" + STRUCT_CODES[type_], words_to_be(words, order))[0]


def raw_bits(type_: str, value) -> int:
    """The value's bits as an unsigned integer (what tramctl prints as "bits")."""
    return struct.unpack(">" + UNSIGNED_CODES[type_], struct.pack(">" + STRUCT_CODES[type_], value))[0]


def string_words(text: str, length: int, order: str = "ABCD") -> list[int]:
    """ASCII text in `length` registers, two characters per register, NUL padded."""
    data = text.encode("ascii").ljust(2 * length, b"\0")
    assert len(data) == 2 * length, "text too long"
    words = [data[i:i + 2] for i in range(0, len(data), 2)]
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def hexwords(words: Iterable[int]) -> list[int]:
    return [int(w, 16) if isinstance(w, str) else int(w) for w in words]


# ----------------------------------------------------------------- agent files

def write_agent(path: Path, links: list[dict], devices: list[dict], *, io_threads: int | None = None,
                profiles: str | Path | None = None, gateway_id: str = "gw-test", extra: dict | None = None) -> Path:
    """An agent file; `extra`: more top-level sections (control, spool, modem, ...), merged last."""
    doc: dict = {"gateway": {"id": gateway_id}}
    if profiles is not None:
        doc["profiles"] = str(profiles)
    if io_threads is not None:
        doc["io_threads"] = io_threads
    doc["links"] = links
    doc["devices"] = devices
    doc.update(extra or {})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_ok(run, *args, timeout: float = 30, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = run(*args, timeout=timeout, env=env)
    assert proc.returncode == 0, (f"tramctl {' '.join(map(str, args))} -> rc={proc.returncode}\n"
                                  f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def read_json(run, *args, timeout: float = 30, env: dict | None = None) -> list[dict]:
    proc = run_ok(run, "read", *args, "--json", timeout=timeout, env=env)
    return json.loads(proc.stdout)


def poll_json(run, agent: Path, *args, timeout: float = 60) -> list[dict]:
    """Run `tramctl poll AGENT --json ARGS`; every stdout line must be one JSON object."""
    proc = run_ok(run, "poll", agent, "--json", *args, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    out = []
    for line in lines:
        obj = json.loads(line)
        assert isinstance(obj, dict) and "device" in obj, f"not a device reading: {line!r}\n{proc.stderr}"
        out.append(obj)
    return out


def points(reading: dict) -> dict[str, dict]:
    return {p["name"]: p for p in reading["points"]}


def qualities(reading: dict) -> dict[str, str]:
    return {p["name"]: p["quality"] for p in reading["points"]}


# ------------------------------------------------------------ background runs

class LineStream:
    """A background process whose stdout lines are read by a thread; waits are bounded."""

    def __init__(self, procs: ProcessManager, argv: Sequence, name: str, env: dict | None = None):
        import os
        self.procs = procs
        self.proc = procs.spawn([str(a) for a in argv], name, stdout=subprocess.PIPE, text=True,
                                bufsize=1, env=dict(os.environ, **(env or {})))
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._eof = False

    def _pump(self) -> None:
        try:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self._q.put(line.rstrip("\n"))
        except (ValueError, OSError):
            pass
        self._q.put(None)

    @property
    def stderr(self) -> str:
        return self.procs.stderr_of(self.proc)

    def next_line(self, timeout: float) -> str | None:
        """The next line, or None at EOF; TimeoutError after `timeout` seconds."""
        if self._eof:
            return None
        try:
            line = self._q.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise TimeoutError(f"no output within {timeout:.1f}s; lines so far:\n" + "\n".join(self.lines)
                               + f"\nstderr:\n{self.stderr}") from None
        if line is None:
            self._eof = True
            return None
        self.lines.append(line)
        return line

    def wait_line(self, predicate: Callable[[str], object], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}; lines so far:\n"
                                   + "\n".join(self.lines) + f"\nstderr:\n{self.stderr}")
            try:
                line = self.next_line(remaining)
            except TimeoutError:
                continue
            if line is None:
                raise AssertionError(f"process exited (rc={self.proc.wait(5)}) before {what}; lines:\n"
                                     + "\n".join(self.lines) + f"\nstderr:\n{self.stderr}")
            if predicate(line):
                return line

    def wait_json(self, predicate: Callable[[dict], object], timeout: float, what: str) -> dict:
        line = self.wait_line(lambda l: predicate(json.loads(l)), timeout, what)
        return json.loads(line)

    def json_lines(self) -> list[dict]:
        return [json.loads(l) for l in self.lines if l.strip()]

    def finish(self, timeout: float) -> int:
        """Read to EOF (bounded) and return the exit code."""
        deadline = time.monotonic() + timeout
        while self.next_line(deadline - time.monotonic()) is not None:
            pass
        return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    def stop(self) -> None:
        ProcessManager.kill(self.proc)


def tramctl_background(procs: ProcessManager, *args, env: dict | None = None,
                       line_buffered: bool = False) -> LineStream:
    """tramctl ARGS in the background.  line_buffered=True runs it under `stdbuf -oL`:
    `tramctl poll` does not flush stdout per cycle when it is a pipe, so without it the JSON
    lines arrive in 4 KiB bursts (see test_cli.test_poll_json_lines_stream_while_polling)."""
    prefix = ["stdbuf", "-oL"] if line_buffered and shutil.which("stdbuf") else []
    return LineStream(procs, [*prefix, TRAMCTL, *args], "tramctl", env=env)


def tramctl_on_terminal(args: Sequence, answer: str, *, prompt: str = "[y/N]", timeout: float = 20,
                        env: dict | None = None) -> subprocess.CompletedProcess:
    """tramctl ARGS with a pseudo-terminal as its standard input (stdout and stderr stay pipes): waits (bounded)
    for `prompt` on stdout, types `answer` and Enter on the terminal, and returns the finished run."""
    import os
    import select
    master, slave = os.openpty()
    proc = subprocess.Popen([str(TRAMCTL), *map(str, args)], stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, **(env or {})), start_new_session=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + timeout
        while prompt.encode() not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None and not select.select([proc.stdout], [], [], 0)[0]:
                break
            if select.select([proc.stdout], [], [], min(left, 0.2))[0]:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
        if prompt.encode() not in seen:
            ProcessManager.kill(proc)
            out, err = proc.communicate()
            raise AssertionError(f"no prompt {prompt!r} within {timeout:.0f} s (rc={proc.returncode}); stdout:\n"
                                 f"{(seen + out).decode(errors='replace')}\nstderr:\n{err.decode(errors='replace')}")
        os.write(master, answer.encode() + b"\n")
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            ProcessManager.kill(proc)
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, (seen + out).decode(errors="replace"),
                                           err.decode(errors="replace"))
    finally:
        os.close(master)


def start_plc_at(procs: ProcessManager, tmp_dir: Path, port: int, values=None, units=None,
                 args: Sequence[str] = ()) -> Plc:
    """peers/plc.py on a fixed TCP port (for restarts on the same port)."""
    plc = _start_plc(procs, tmp_dir, ["--tcp", f"{LOOPBACK}:{port}"], "tcp", values, units, "ignore", args)
    plc.host = LOOPBACK
    assert plc.port == port
    return plc
