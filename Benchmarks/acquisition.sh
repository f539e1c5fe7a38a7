#!/usr/bin/env bash
# Acquisition benchmark: prints figures for the README's Performance section.
# Everything runs on loopback. Usage: Benchmarks/acquisition.sh [SECONDS]
#   Builds tramctl (this package) and tram-bench (Benchmarks/, a package of its own) in release mode.
#   Needs python3 with pymodbus and mbpoll (scripts/setup --test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
swift build -c release --product tramctl > /dev/null
swift build -c release --package-path Benchmarks > /dev/null
TRAMCTL=.build/release/tramctl
BENCH=Benchmarks/.build/release/tram-bench
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SIM_PORT=$(port); PY_PORT=$(port)
DEVICES=10; POINTS=30

# Ten devices of thirty uint16 holding registers each: one 30-register request per device and cycle.
write_config() {  # $1 port, $2 file
  {
    echo "gateway: { id: bench }"
    echo "io_threads: 4"
    echo "links:"
    echo "  - { name: bench, url: tcp://127.0.0.1:$1 }"
    echo "devices:"
    for u in $(seq 1 $DEVICES); do
      echo "  - name: dev$u"
      echo "    link: bench"
      echo "    unit: $u"
      echo "    address_base: 0"
      echo "    points:"
      for a in $(seq 0 $((POINTS-1))); do echo "      - { name: r$a, table: holding, address: $a, type: uint16 }"; done
    done
  } > "$2"
}
write_config "$SIM_PORT" "$work/sim.yaml"
write_config "$PY_PORT" "$work/py.yaml"

python3 - "$work/values.json" "$DEVICES" "$POINTS" <<'PY'
import json, sys
path, devices, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
json.dump({str(u): {"holding": {"0": list(range(100, 100 + points))}} for u in range(1, devices + 1)}, open(path, "w"))
PY

"$TRAMCTL" simulate --config "$work/sim.yaml" > "$work/sim.out" 2>&1 & pids+=($!)
python3 Tests/integration/peers/plc.py --tcp "127.0.0.1:$PY_PORT" --units "$(seq -s, 1 $DEVICES)" --values "$work/values.json" --ignore-stdin-eof > "$work/py.out" 2>&1 < /dev/null & pids+=($!)
for f in "$work/sim.out" "$work/py.out"; do
  for _ in $(seq 100); do grep -q READY "$f" && break; sleep 0.1; done
  grep -q READY "$f" || { echo "server did not start: $f"; cat "$f"; exit 1; }
done

echo "== Planner: requests per poll cycle (Devices/ profiles)"
"$BENCH" plan Devices
echo
echo "== Floor: bare libmodbus loop, 30 registers per request, against Tram's simulator"
"$BENCH" raw "tcp://127.0.0.1:$SIM_PORT" 1 $POINTS "$SECONDS_PER_RUN"
echo
echo "== Tram engine, flat out, against Tram's simulator ($DEVICES devices x $POINTS points)"
"$BENCH" engine "$work/sim.yaml" "$SECONDS_PER_RUN"
echo
echo "== Tram engine at 15,000 points/s against Tram's simulator"
"$BENCH" engine "$work/sim.yaml" "$SECONDS_PER_RUN" 15000
echo
echo "== Tram engine, flat out, against pymodbus 3.8.6"
"$BENCH" engine "$work/py.yaml" "$SECONDS_PER_RUN"
echo
echo "== Bare libmodbus loop against pymodbus"
"$BENCH" raw "tcp://127.0.0.1:$PY_PORT" 1 $POINTS "$SECONDS_PER_RUN"
echo
echo "== mbpoll, polling 30 registers every 10 ms (its fastest) against Tram's simulator"
start=$(date +%s.%N)
TIMEFORMAT='%U %S'
cpu=$( { time timeout -s INT "$SECONDS_PER_RUN" mbpoll -m tcp -p "$SIM_PORT" -a 1 -t 4 -r 0 -0 -c $POINTS -l 10 127.0.0.1 > "$work/mbpoll.out" 2>&1 || true; } 2>&1 )
polls=$(grep -c '^-- Polling' "$work/mbpoll.out" || true)
python3 - "$cpu" "$polls" "$POINTS" <<'PY'
import sys
user, system = map(float, sys.argv[1].split()); polls = int(sys.argv[2]); points = int(sys.argv[3])
print(f"mbpoll: {polls} polls of {points} registers; CPU {(user + system) * 1e6 / max(1, polls * points):.3f} us/point (includes printing)")
PY
