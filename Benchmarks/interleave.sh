#!/usr/bin/env bash
# Two tram-agent builds through the same whole-path footprint run (Benchmarks/agent-footprint.sh), interleaved
# A B A B …, so that what the shared machine does meanwhile falls on both alike. Prints each run and, per build, the
# range of points/s, CPU per point (and the same run's libmodbus floor), RSS and anonymous memory.
#
# Usage: Benchmarks/interleave.sh AGENT_A AGENT_B [RUNS] [SECONDS] [DEVICES]     (defaults: 3 runs each, 60 s, 500)
#   e.g. a static build of the previous commit against this one's:
#   git worktree add /tmp/before HEAD~1 && (cd /tmp/before && swift build -c release --static-swift-stdlib \
#     --scratch-path .build-static --product tram-agent)
#   swift build -c release --static-swift-stdlib --scratch-path .build-static --product tram-agent
#   Benchmarks/interleave.sh /tmp/before/.build-static/release/tram-agent .build-static/release/tram-agent
#   REPORT_A / REPORT_B: agent-footprint.sh's REPORT for that side, so one build can run against itself with report by
#   exception off and on:  REPORT_B=2% Benchmarks/interleave.sh .build/release/tram-agent .build/release/tram-agent
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 runs=${3:-3} seconds=${4:-60} devices=${5:-500}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
for i in $(seq 1 "$runs"); do
  for side in A B; do
    agent=$a report=${REPORT_A:-}; [ "$side" = B ] && agent=$b report=${REPORT_B:-}
    REPORT=$report AGENT=$agent Benchmarks/agent-footprint.sh "$seconds" "$devices" > "$log/$side.$i" 2>&1
    echo "run $i $side: $(grep -E '^points/s|µs per point|^held back|^agent RSS|anonymous|us/register|^status request' "$log/$side.$i" | tr -s ' ' | tr '\n' ';')"
  done
done
python3 - "$log" "$runs" "$a${REPORT_A:+ (REPORT=$REPORT_A)}" "$b${REPORT_B:+ (REPORT=$REPORT_B)}" <<'PY'
import re, sys, pathlib
log, runs, names = pathlib.Path(sys.argv[1]), int(sys.argv[2]), {"A": sys.argv[3], "B": sys.argv[4]}
def figures(text):
    f = {}
    m = re.search(r"points/s\s+([\d,]+)", text); f["points/s"] = float(m.group(1).replace(",", "")) if m else None
    m = re.search(r"([\d.]+) µs per point", text); f["µs/point"] = float(m.group(1)) if m else None
    m = re.search(r"last ([\d.]+) MB", text); f["RSS MB"] = float(m.group(1)) if m else None
    m = re.search(r"anonymous ([\d.]+) MB", text); f["anon MB"] = float(m.group(1)) if m else None
    m = re.search(r"status request\s+(\d+) ms", text); f["status ms"] = float(m.group(1)) if m else None
    m = re.search(r"CPU ([\d.]+) us/register", text)
    f["floor µs/reg"] = float(m.group(1)) if m else None
    return f
print()
print(f"{'figure':<14}{'A: ' + names['A']:>40}{'B: ' + names['B']:>40}")
keys = ["points/s", "µs/point", "floor µs/reg", "status ms", "RSS MB", "anon MB"]
per = {side: [figures((log / f"{side}.{i}").read_text()) for i in range(1, runs + 1)] for side in "AB"}
for key in keys:
    row = f"{key:<14}"
    for side in "AB":
        values = [r[key] for r in per[side] if r[key] is not None]
        row += f"{(f'{min(values):,.2f} – {max(values):,.2f}' if values else 'n/a'):>40}"
    print(row)
PY
