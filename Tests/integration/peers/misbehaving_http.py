#!/usr/bin/env python3
"""A misbehaving HTTP server for the uplink's tests (issue 6). Python standard library only.

Run as a subprocess:

    python3 misbehaving_http.py --listen 127.0.0.1:0 --record DIR --script '500,429:2,413>4096*3,slow:3,reset,blackhole,ok'

It answers POSTs (HTTP/1.1, keep-alive, Content-Length bodies) by a script: each request the server
reads takes the next step, in order, whatever connection it came on. When the script is used up, every
further request is answered `ok`.

Script: steps separated by commas. A step is a behaviour, optionally followed by `*K` (the next K
requests, K >= 1) or by a bare `*` (every request from then on; it must be the last step).

    ok          read the body, record it as accepted, answer 200 with a small JSON body
    NNN         answer status NNN (a 2xx is `ok`) with a JSON body {"reason": ...}
    429:S       answer 429 with `Retry-After: S` (seconds) and {"reason":"rate-limited","retry_after":S}
    413>N       a body longer than N bytes gets 413 {"reason":"too-large"}; a shorter one is accepted (`ok`)
    slow:S      read the body, then wait S seconds (a float) before answering `ok`. If the client goes away
                meanwhile (its timeout), nothing is recorded as accepted: the outcome is `abandoned`
    reset       read the headers and at least half the body, then close with SO_LINGER 0 without answering:
                a TCP reset mid-request (outcome `reset`)
    blackhole   read the headers, then nothing more and never answer; the connection is held until the
                client closes it (outcome `blackholed`, recorded then)

A black hole *before* the handshake is not a per-request step (no request ever arrives): it is switched on
and off through stdin (`hole on|off`). While it is on the listener stops accepting, every open connection
is closed, and the listener's accept queue is filled with the server's own connections, so Linux drops
every new SYN (no SYN-ACK): a client's connect attempt hangs until its connect timeout.

Record (--record DIR): `DIR/requests.jsonl`, one JSON object per request, written (and flushed) before the
answer is sent, or when the outcome is known (reset, abandoned, blackholed):

    {"n": 0, "step": "429:2", "outcome": "answered", "status": 429, "length": 1234, "received": 1234,
     "tram_batches": "1/0-5", "tram_gateway": "gw", "authorization": true, "start": 12.3, "end": 12.4}

`outcome` is accepted | answered | reset | abandoned | blackholed; `start` is when the request's headers
were read and `end` when the answer was sent or the outcome known (monotonic seconds, this process's clock).
Each accepted body is also written to `DIR/accepted-N.bin` (N as in `n`). The token itself is never
recorded: `authorization` only says whether a header came.

stdout protocol: "PORT <n>", then "READY", then exactly one reply line per control command. Logs: stderr.

Control (stdin, one command per line; one reply line each, "OK[ ...]" or "ERR <why>"):

    ping                 -> OK
    hole on|off          black hole before the handshake (see above); the reply comes once it is in force
    script SPEC          replace the remaining script
    requests             -> OK <n>  requests read so far
    quit                 -> OK, then exit

When stdin reaches EOF the program exits, so it never outlives the test that started it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import select
import socket
import struct
import sys
import threading
import time

log = logging.getLogger("misbehaving_http")

REASONS = {400: "empty", 401: "unauthorized", 403: "forbidden", 404: "not-found", 409: "schema-unknown",
           413: "too-large", 415: "unsupported-media-type", 422: "malformed", 429: "rate-limited",
           500: "store-error", 502: "bad-gateway", 503: "unavailable", 504: "gateway-timeout"}
PHRASES = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


class Step:
    def __init__(self, text: str):
        self.text = text
        self.kind, self.arg = self.parse(text)

    @staticmethod
    def parse(text: str):
        if text == "ok":
            return "ok", None
        if text in ("reset", "blackhole"):
            return text, None
        if text.startswith("429:"):
            return "retry_after", int(text[4:])
        if text.startswith("413>"):
            return "limit", int(text[4:])
        if text.startswith("slow:"):
            return "slow", float(text[5:])
        if text.isdigit() and len(text) == 3 and 100 <= int(text) <= 599:
            return ("ok", None) if text.startswith("2") else ("status", int(text))
        raise ValueError(f"unknown step {text!r}")


class Script:
    """The steps still to come; each request takes one. Thread-safe."""

    def __init__(self, spec: str):
        self.lock = threading.Lock()
        self.replace(spec)

    def replace(self, spec: str):
        steps: list[tuple[Step, int | None]] = []   # (step, remaining count; None = forever)
        for part in filter(None, (p.strip() for p in spec.split(","))):
            count: int | None = 1
            if part.endswith("*"):
                part, count = part[:-1], None
            elif "*" in part:
                part, _, k = part.rpartition("*")
                count = int(k)
                if count < 1:
                    raise ValueError(f"a step repeats at least once: {part}*{k}")
            if steps and steps[-1][1] is None:
                raise ValueError(f"{part} comes after a step repeated for good (bare *): it would never be reached")
            steps.append((Step(part), count))
        with self.lock:
            self.steps = steps

    def take(self) -> Step:
        with self.lock:
            while self.steps:
                step, count = self.steps[0]
                if count is None:
                    return step
                if count > 1:
                    self.steps[0] = (step, count - 1)
                else:
                    self.steps.pop(0)
                return step
            return Step("ok")


class Recorder:
    def __init__(self, directory: str | None):
        self.directory = directory
        self.lock = threading.Lock()
        self.count = 0
        self.file = open(os.path.join(directory, "requests.jsonl"), "a", encoding="utf-8") if directory else None

    def next_number(self) -> int:
        with self.lock:
            n = self.count
            self.count += 1
            return n

    def record(self, entry: dict, body: bytes | None = None):
        with self.lock:
            if self.directory and body is not None:
                with open(os.path.join(self.directory, f"accepted-{entry['n']}.bin"), "wb") as f:
                    f.write(body)
                    f.flush()
                    os.fsync(f.fileno())
            if self.file:
                self.file.write(json.dumps(entry, sort_keys=True) + "\n")
                self.file.flush()
        log.info("request %s", entry)


class Server:
    def __init__(self, host: str, port: int, script: Script, recorder: Recorder):
        self.script = script
        self.recorder = recorder
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        # A short accept queue: few connections fill it when the black hole goes on.
        self.listener.listen(1)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.host = host
        # Held by the accept loop around each accept, and by the control thread while the hole is on.
        self.accept_lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.fillers: list[socket.socket] = []
        self.hole = False

    # ----------------------------------------------------------------------------------- accepting

    def serve_forever(self):
        while True:
            readable, _, _ = select.select([self.listener], [], [], 0.2)
            if not readable:
                continue
            with self.accept_lock:
                try:
                    conn, _ = self.listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
            conn.setblocking(True)
            with self.connections_lock:
                self.connections.add(conn)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def hole_on(self):
        if self.hole:
            return
        self.accept_lock.acquire()
        self.hole = True
        # Open connections die with the link: a client must connect again, into the hole.
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        # Fill the accept queue until a connect gets no answer: from then on the kernel drops new SYNs.
        for _ in range(64):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.3)
            try:
                filler.connect((self.host, self.port))
            except (TimeoutError, socket.timeout):
                filler.close()
                log.info("accept queue full after %d connections: SYNs are dropped", len(self.fillers))
                return
            self.fillers.append(filler)
        raise RuntimeError("the accept queue never filled")

    def hole_off(self):
        if not self.hole:
            return
        # Take the queued filler connections off the queue and drop them, then accept again.
        while True:
            try:
                conn, _ = self.listener.accept()
                conn.close()
            except (BlockingIOError, InterruptedError):
                break
        for filler in self.fillers:
            filler.close()
        self.fillers.clear()
        self.hole = False
        self.accept_lock.release()

    # ----------------------------------------------------------------------------------- a connection

    def handle(self, conn: socket.socket):
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                start = time.monotonic()
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                step = self.script.take()
                entry = {"n": self.recorder.next_number(), "step": step.text, "request": lines[0],
                         "length": length, "tram_batches": headers.get("tram-batches"),
                         "tram_gateway": headers.get("tram-gateway"),
                         "authorization": "authorization" in headers, "start": start}

                if step.kind == "blackhole":
                    entry["received"] = len(buffer)
                    self.hold_until_closed(conn)
                    self.recorder.record(dict(entry, outcome="blackholed", end=time.monotonic()))
                    return
                if step.kind == "reset":
                    half = length // 2
                    while len(buffer) < half:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.recorder.record(dict(entry, outcome="reset", received=len(buffer), end=time.monotonic()))
                    conn.close()
                    return

                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                entry["received"] = len(body)

                if step.kind == "slow":
                    if self.client_left_within(conn, step.arg):
                        self.recorder.record(dict(entry, outcome="abandoned", end=time.monotonic()))
                        return
                    self.accept(conn, entry, body)
                elif step.kind == "status":
                    self.answer(conn, entry, step.arg, {"reason": REASONS.get(step.arg, "error")})
                elif step.kind == "retry_after":
                    self.answer(conn, entry, 429, {"reason": "rate-limited", "retry_after": step.arg},
                                extra=f"Retry-After: {step.arg}\r\n")
                elif step.kind == "limit" and length > step.arg:
                    self.answer(conn, entry, 413, {"reason": "too-large", "limit": step.arg})
                else:
                    self.accept(conn, entry, body)
        except OSError as error:
            log.info("connection ended: %s", error)
        finally:
            with self.connections_lock:
                self.connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def accept(self, conn: socket.socket, entry: dict, body: bytes):
        entry = dict(entry, outcome="accepted", status=200, end=time.monotonic())
        self.recorder.record(entry, body)
        self.send(conn, 200, {"accepted": entry["n"], "bytes": len(body)})

    def answer(self, conn: socket.socket, entry: dict, status: int, payload: dict, extra: str = ""):
        self.recorder.record(dict(entry, outcome="answered", status=status, end=time.monotonic()))
        self.send(conn, status, payload, extra)

    @staticmethod
    def send(conn: socket.socket, status: int, payload: dict, extra: str = ""):
        body = json.dumps(payload, separators=(",", ":")).encode()
        head = (f"HTTP/1.1 {status} {PHRASES.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{extra}\r\n")
        conn.sendall(head.encode("latin-1") + body)

    @staticmethod
    def client_left_within(conn: socket.socket, seconds: float) -> bool:
        """Waits `seconds`; True as soon as the client closes its end (or resets) meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([conn], [], [], left)
            if readable:
                try:
                    if not conn.recv(65536, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
                # A pipelined request waits its turn; do not spin on it.
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return False

    @staticmethod
    def hold_until_closed(conn: socket.socket):
        """Reads and discards whatever comes (never answers) until the client closes or resets."""
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free port, see PORT)")
    parser.add_argument("--script", default="", help="the behaviours, one step per request (see above)")
    parser.add_argument("--record", help="directory for requests.jsonl and the accepted bodies")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO if args.verbose else logging.WARNING,
                        format="misbehaving_http: %(message)s")

    host, _, port = args.listen.rpartition(":")
    script = Script(args.script)
    if args.record:
        os.makedirs(args.record, exist_ok=True)
    server = Server(host, int(port), script, Recorder(args.record))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.port}", flush=True)
    print("READY", flush=True)

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words == ["ping"]:
                reply = "OK"
            elif words[0] == "hole" and words[1:] in (["on"], ["off"]):
                server.hole_on() if words[1] == "on" else server.hole_off()
                reply = "OK"
            elif words[0] == "script":
                script.replace(" ".join(words[1:]))
                reply = "OK"
            elif words == ["requests"]:
                reply = f"OK {server.recorder.count}"
            elif words == ["quit"]:
                print("OK", flush=True)
                return 0
            else:
                reply = f"ERR unknown command: {line.strip()}"
        except Exception as error:  # noqa: BLE001  (a bad command must not kill the peer)
            reply = f"ERR {error}"
        print(reply, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
