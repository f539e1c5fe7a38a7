#!/usr/bin/env bash
# tram-agent's footprint and cost, for docs/performance.md:
# N simulated devices × 30 uint16 registers polled every second → tram-agent (release build) → a local tram-collector.
# Prints the agent's RSS over the run (and its growth), its CPU per point for the whole path (poll, decode, encode,
# spool, uplink), and, in the same run, the bare libmodbus loop's CPU per point (the floor for any client).
#
# Usage: Benchmarks/agent-footprint.sh [SECONDS] [DEVICES]      (defaults: 120 s, 500 devices = 15,000 points/s)
#   AGENT=path/to/tram-agent   measure another build (such as the .deb's static one: scripts/package-deb)
#   SMAPS=1                    print where the RSS is after 20 s, then stop
#   REPORT=2%                  report by exception: every point ranged [0, 100] with this deadband and a 15 s
#                              heartbeat (the simulator's values wander 10 ± 5 over 44 s); prints the share held back
#   SINK=discard               deliver to Benchmarks/discard-sink.py instead of tram-collector (no collector's CPU
#                              on the same two cores)
#   SIMULATORS=N               simulator processes, each serving a share of the links (default: one per 1,000 devices)
#   BATCH_BYTES=1MiB           the agent file's batch.max_bytes (default 256KiB, the agent's default)
#   Also prints, in the same run, the floor any Swift agent on Debian's libcurl starts from (Benchmarks/floor).
#   The 10-minute soak:  Benchmarks/agent-footprint.sh 600
#   100,000 points/s:    Benchmarks/agent-footprint.sh 120 3334
# Also prints the start-up (time to the first poll, and the peak RSS while loading against the steady state) and what
# a `tramctl status` costs the agent (CPU, and the RSS peak it causes).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${1:-120}
DEVICES=${2:-500}
POINTS=30
PER_LINK=50
swift build -c release --product tram-agent > /dev/null
swift build -c release --product tramctl > /dev/null
swift build -c release --product tram-collector > /dev/null
swift build -c release --package-path Benchmarks > /dev/null
BIN=.build/release
BENCH=Benchmarks/.build/release/tram-bench
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

links=$(( (DEVICES + PER_LINK - 1) / PER_LINK ))
SIMULATORS=${SIMULATORS:-$(( (DEVICES + 999) / 1000 ))}
[ "$SIMULATORS" -le "$links" ] || SIMULATORS=$links
if [ "${SINK:-collector}" = discard ]; then
  python3 Benchmarks/discard-sink.py > "$work/collector.out" 2>&1 & sink=$!; pids+=($sink)
  echo unused > "$work/token"
else
  "$BIN/tram-collector" gateway add footprint --db "$work/collector.db" > "$work/token"
  "$BIN/tram-collector" serve --db "$work/collector.db" --listen 127.0.0.1:0 > "$work/collector.out" 2>&1 & pids+=($!)
fi
for _ in $(seq 100); do grep -q LISTENING "$work/collector.out" && break; sleep 0.1; done
collector=$(grep -m1 LISTENING "$work/collector.out" | awk '{print $2}')
# The agent file, and one file per simulator process with its share of the links (same ports, same devices).
python3 - "$work" "$DEVICES" "$POINTS" "$PER_LINK" "$SIMULATORS" "$collector" "${REPORT:-}" "${BATCH_BYTES:-256KiB}" <<'PY'
import socket, sys
work, devices, points, per_link, simulators, collector, report, batch_bytes = sys.argv[1], *map(int, sys.argv[2:6]), *sys.argv[6:9]
links = (devices + per_link - 1) // per_link
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
ports = [free_port() for _ in range(links)]
def link_lines(chosen):
    return [f"  - {{ name: bus{l}, url: tcp://127.0.0.1:{ports[l - 1]} }}" for l in chosen]
def device_lines(chosen):
    out = []
    for d in range(1, devices + 1):
        l = (d - 1) // per_link + 1
        if l not in chosen:
            continue
        out += [f"  - name: dev{d}", f"    link: bus{l}", f"    unit: {(d - 1) % per_link + 1}", "    address_base: 0",
                "    poll_interval: 1s"]
        if report:
            out.append(f"    report: {{ deadband: {report}, heartbeat: 15s }}")
        out.append("    points:")
        ranged = ", range: [0, 100]" if report else ""
        out += [f"      - {{ name: r{a}, table: holding, address: {a}, type: uint16{ranged} }}" for a in range(points)]
    return out
every = set(range(1, links + 1))
agent = ["gateway: { id: footprint }", "io_threads: 4", "links:", *link_lines(sorted(every)), "devices:",
         *device_lines(every), f"spool: {{ directory: {work}/spool }}", f"batch: {{ max_age: 10s, max_bytes: {batch_bytes} }}", "sinks:",
         f'  - {{ name: collector, url: "http://{collector}/v1/ingest", token_file: {work}/token }}',
         f"control: {{ socket: {work}/agent.sock, metrics_port: null }}"]
open(f"{work}/agent.yaml", "w").write("\n".join(agent) + "\n")
for k in range(simulators):
    share = set(range(k + 1, links + 1, simulators))
    lines = ["gateway: { id: simulator }", "links:", *link_lines(sorted(share)), "devices:", *device_lines(share)]
    open(f"{work}/sim-{k}.yaml", "w").write("\n".join(lines) + "\n")
PY
simulator_pids=()
for k in $(seq 0 $((SIMULATORS - 1))); do
  "$BIN/tramctl" simulate --config "$work/sim-$k.yaml" > "$work/sim-$k.out" 2>&1 & pids+=($!); simulator_pids+=($!)
done
for _ in $(seq 600); do [ "$(cat "$work"/sim-*.out | grep -c READY)" -ge "$links" ] && break; sleep 0.1; done
launched=$(date +%s.%N)
"${AGENT:-$BIN/tram-agent}" --config "$work/agent.yaml" > "$work/agent.log" 2>&1 & agent=$!; pids+=($agent)
for _ in $(seq 1000); do grep -q "tram-agent running" "$work/agent.log" && break; sleep 0.01; done
polling=$(date +%s.%N)
for _ in $(seq 100); do "$BIN/tramctl" status --socket "$work/agent.sock" > /dev/null 2>&1 && break; sleep 0.1; done
if ! kill -0 "$agent" 2>/dev/null; then echo "tram-agent exited:"; tail -20 "$work/agent.log"; exit 1; fi

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
anon() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }
produced() { "$BIN/tramctl" status --json --socket "$work/agent.sock" | python3 -c 'import json,sys; print(json.load(sys.stdin)["writer"]["readings_produced"])'; }
suppressed() { "$BIN/tramctl" status --json --socket "$work/agent.sock" | python3 -c 'import json,sys; print(json.load(sys.stdin)["writer"].get("readings_suppressed", 0))'; }
if [ -n "${SMAPS:-}" ]; then sleep 20; echo "== where the RSS is (after 20 s)"; grep -E "^(Rss|Anonymous|Pss_File|Shared_Clean|Private)" "/proc/$agent/smaps_rollup"
  awk '/^[0-9a-f]+-/ {name=$6} /^Rss:/ {rss[name]+=$2} END {for (n in rss) if (rss[n] > 500) printf "%8d kB %s\n", rss[n], (n == "" ? "[anonymous]" : n)}' "/proc/$agent/smaps" | sort -rn | head -15; exit 0; fi
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
sleep 15   # warm up: connections, the first batches, the spool's first segment
startup_peak=$(hwm $agent)
echo "== tram-agent: $DEVICES devices × $POINTS points every second on $links TCP links ($SIMULATORS simulator processes), to ${SINK:-tram-collector} ($SECONDS_TOTAL s)${REPORT:+, by exception (deadband $REPORT of [0, 100], heartbeat 15 s)}"
sim_cpu0=0; for p in "${simulator_pids[@]}"; do sim_cpu0=$((sim_cpu0 + $(cpu "$p"))); done
# The count first: a `status` request costs the agent CPU of its own (see below), which is not the poll path's.
q0=$(suppressed); p0=$(produced); c0=$(cpu $agent); t0=$(date +%s.%N)
samples=()
step=$(( SECONDS_TOTAL / 12 )); [ "$step" -ge 1 ] || step=1
elapsed=0
while [ "$elapsed" -lt "$SECONDS_TOTAL" ]; do sleep "$step"; elapsed=$((elapsed + step)); samples+=("$(rss $agent)"); done
c1=$(cpu $agent); p1=$(produced); q1=$(suppressed); t1=$(date +%s.%N); a1=$(anon $agent)
sim_cpu1=0; for p in "${simulator_pids[@]}"; do sim_cpu1=$((sim_cpu1 + $(cpu "$p"))); done
steady=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)   # the window's largest sample
python3 -c "import sys; l, p, peak, steady = (float(x) for x in sys.argv[1:5]); print(f'start-up             first poll {p - l:.2f} s after launch; peak RSS {peak / 1024:.1f} MB while loading = {peak / steady:.2f}× the steady {steady / 1024:.1f} MB')" "$launched" "$polling" "$startup_peak" "$steady"
python3 -c "import sys; c, w, t, n = (float(x) for x in sys.argv[1:5]); print(f'simulators           {c / t / w * 100:.0f}% of one core in all ({int(n)} processes)')" "$((sim_cpu1 - sim_cpu0))" "$(python3 -c "print($t1 - $t0)")" "$ticks" "$SIMULATORS"
python3 -c "import sys; p, q = int(sys.argv[2]) - int(sys.argv[1]), int(sys.argv[4]) - int(sys.argv[3]); print(f'held back            {q:,} of {p:,} polled readings ({100 * q / max(1, p):.1f}%) by exception')" "$p0" "$p1" "$q0" "$q1"
python3 - "$c0" "$c1" "$p0" "$p1" "$t0" "$t1" "$ticks" "$a1" "${samples[@]}" <<'PY'
import sys
c0, c1, p0, p1, t0, t1, ticks, anonymous = (float(x) for x in sys.argv[1:9])
rss = [int(x) for x in sys.argv[9:]]
wall = t1 - t0
points = p1 - p0
cpu = (c1 - c0) / ticks
print(f"points/s             {points / wall:,.0f}")
print(f"agent CPU            {cpu / wall * 100:.1f}% of one core; {cpu / points * 1e6:.2f} µs per point (poll, decode, encode, spool, uplink)")
print(f"agent RSS            first {rss[0] / 1024:.1f} MB, max {max(rss) / 1024:.1f} MB, last {rss[-1] / 1024:.1f} MB "
      f"(samples: {' '.join(f'{r / 1024:.1f}' for r in rss)})")
print(f"  of which anonymous {anonymous / 1024:.1f} MB (the agent's data, stacks and heap; the rest is code: the binary and shared libraries)")
half = len(rss) // 2
print(f"RSS growth           {(sum(rss[half:]) / len(rss[half:]) - sum(rss[:half]) / len(rss[:half])) / 1024:+.2f} MB second half vs first half")
PY
# What a `status` costs the agent: asked whole (one answer with every point, as an old tramctl did) and as tramctl
# asks it (pages of 100 devices), 5 times each; VmHWM is reset first (clear_refs 5), so its peak is the request's.
status_cost() {   # $1: label, $2...: the command
  local label=$1; shift
  local s0 r0 w0 w1 s1 h1
  s0=$(cpu $agent); r0=$(rss $agent)
  echo 5 > "/proc/$agent/clear_refs" 2>/dev/null || true
  w0=$(date +%s.%N)
  for _ in 1 2 3 4 5; do "$@" > "$work/status.json"; done
  w1=$(date +%s.%N); s1=$(cpu $agent); h1=$(hwm $agent)
  python3 -c "import sys; l, r0, h1, w0, w1, c, t, size = sys.argv[1], *(float(x) for x in sys.argv[2:]); print(f'{l:<20} {(w1 - w0) / 5 * 1000:.0f} ms each, {c / t / 5 * 1000:.0f} ms of agent CPU; agent RSS {r0 / 1024:.1f} → peak {h1 / 1024:.1f} MB ({(h1 - r0) / 1024:+.1f} MB); {size / 1e6:.1f} MB of JSON')" \
    "$label" "$r0" "$h1" "$w0" "$w1" "$((s1 - s0))" "$ticks" "$(stat -c %s "$work/status.json")"
}
whole_status() { python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"status\n"); out = b""
while chunk := s.recv(1 << 16): out += chunk
sys.stdout.buffer.write(out)' "$work/agent.sock"; }
status_cost "status, whole" whole_status
status_cost "status, paged" "$BIN/tramctl" status --json --socket "$work/agent.sock"
"$BIN/tramctl" status --socket "$work/agent.sock" | sed -n '/^SPOOL/,/^UPLINK/p' | head -4
"$BIN/tramctl" status --json --socket "$work/agent.sock" | python3 -c '
import json, sys, time
s = json.load(sys.stdin)
rate = float(sys.argv[1])
behind = s["writer"]["readings_produced"] - s["spool"]["delivered"]["readings"]
oldest = s["spool"]["oldest_buffered_ms"]
print(f"sink lag             {behind:,} readings produced and not yet delivered = {behind / rate:.1f} s at this rate "
      f"(the open batch seals at 10 s or batch.max_bytes); oldest sealed batch waiting: {0 if oldest is None else (time.time() * 1000 - oldest) / 1000:.1f} s")' \
  "$(python3 -c "print(($p1 - $p0) / ($t1 - $t0))")"
"$BIN/tramctl" status --json --socket "$work/agent.sock" | python3 -c '
import json, sys
s = json.load(sys.stdin)
offline = [d["name"] for d in s["devices"] if d["health"] != "online"]
devices = s["devices"]
print(f"devices online       {len(devices) - len(offline)}/{len(devices)}")'
kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
python3 - "$work/agent.log" <<'PY'
import re, sys
line = [l for l in open(sys.argv[1]) if "tram-agent stopped" in l][-1]
f = {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}
produced, sealed, before = int(f["readings_produced"]), int(f["readings_sealed"]), int(f["readings_dropped_before_spool"])
held = int(f.get("readings_suppressed", 0))
print(f"books at shutdown    produced {produced:,} = sealed {sealed:,} + held back {held:,} + dropped before the spool {before:,}: "
      f"{'balanced' if produced == sealed + held + before else 'NOT BALANCED'}; spool appended {int(f['spool_appended']):,} = "
      f"delivered {int(f['spool_delivered']):,} + buffered {int(f['spool_buffered']):,} + dropped {int(f['spool_dropped']):,}: "
      f"{'balanced' if f['books_balance'] == 'true' else 'NOT BALANCED'}")
PY
if [ -n "${sink:-}" ]; then
  kill -TERM "$sink"; wait "$sink" 2>/dev/null || true
  python3 - "$(grep discarded "$work/collector.out")" "$SECONDS_TOTAL" <<'PY'
import re, sys
requests, size, batches = (int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", sys.argv[1])[:3])
print(f"uploads              {requests} requests, {batches} batches, {size / max(1, batches) / 1024:.0f} KiB a batch compressed, {size / max(1, requests) / 1024:.0f} KiB a request (whole run)")
PY
fi
echo
echo "== Floor: bare libmodbus loop, $POINTS registers per request, against the same simulator (10 s)"
"$BENCH" raw "$(grep -o 'tcp://127.0.0.1:[0-9]*' "$work/agent.yaml" | head -1)" 1 $POINTS 10
echo
echo "== Floor: the Swift runtime (static) and Debian's libcurl, loaded and initialised, and nothing of Tram's"
swiftc -O -parse-as-library -static-stdlib Benchmarks/floor/curl-floor.swift -lcurl -o "$work/curl-floor" 2> /dev/null
"$work/curl-floor" | awk '{printf "RSS %.1f MB (Benchmarks/floor/curl-floor.swift)\n", $1 / 1024}'
echo
echo "== Binary sizes (release, stripped copies)"
for b in tram-agent tramctl tram-collector; do
  strip -o "$work/$b.stripped" "$BIN/$b"
  echo "$b $(du -k "$work/$b.stripped" | cut -f1) KiB (dynamic Swift runtime; the .deb builds with --static-swift-stdlib)"
done
