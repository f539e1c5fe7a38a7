#!/usr/bin/env python3
"""A sink that takes every batch and keeps nothing: for measuring the agent without a collector's CPU beside it.

Answers POST /v1/ingest as the collector does when every batch is new (200, the batches named in the request's
Tram-Batches header), and GET with the wire versions it takes. Prints `LISTENING host:port` once it accepts, and at
SIGTERM one line of totals: requests, bytes, batches. Standard library only.

Usage: Benchmarks/discard-sink.py [PORT]   (0 or none: a free port on 127.0.0.1)
"""
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

totals = {"requests": 0, "bytes": 0, "batches": 0}


def identities(header):
    """Every (epoch, sequence) a Tram-Batches value names: `epoch/first-last`, comma-separated."""
    for run in filter(None, header.split(",")):
        epoch, bounds = run.split("/")
        first, last = (int(x) for x in bounds.split("-"))
        for sequence in range(first, last + 1):
            yield int(epoch), sequence


class Discard(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Tram-Wire-Versions", "1, 2")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer({})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        batches = list(identities(self.headers.get("Tram-Batches", "")))
        totals["requests"] += 1
        totals["bytes"] += length
        totals["batches"] += len(batches)
        self.answer({
            "stored": [s for _, s in batches], "duplicates": [],
            "batches": [{"epoch": e, "sequence": s, "duplicate": False} for e, s in batches],
            "readings": 0, "dictionaries": 0,
        })

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Discard)

    def stop(*_):
        print(f"discarded {totals['requests']} requests, {totals['bytes']:,} bytes, {totals['batches']} batches", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"LISTENING 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
