#!/usr/bin/env bash
# Spool write amplification: bytes the block device wrote / frame bytes appended, at 15,000 and at
# 100 readings/s, on a fresh ext4 on a loop device, so that journal and metadata writes count.
# Usage (as root: losetup and mount): Benchmarks/spool.sh [SECONDS]   (default 60 s a run)
#   Builds tram-bench in release mode; makes a sparse 2 GiB file under /tmp, a loop device and ext4 on it
#   (default mount options: data=ordered, 5 s commit); everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "spool.sh: must run as root (losetup, mkfs, mount)" >&2; exit 1; }
RUN_SECONDS=${1:-60}
swift build -c release > /dev/null
BENCH=$PWD/.build/release/tram-bench

image=$(mktemp /tmp/tram-spool-wa.XXXXXX)
mnt=$(mktemp -d /tmp/tram-spool-mnt.XXXXXX)
dev=""
cleanup() {
  if mountpoint -q "$mnt"; then umount "$mnt"; fi
  if [ -n "$dev" ]; then losetup -d "$dev"; fi
  rm -f "$image"
  rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

truncate -s 2G "$image"
dev=$(losetup -f --show "$image")
name=$(basename "$dev")
# Zero the inode tables and journal now: otherwise ext4lazyinit writes them in the background during the runs.
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$dev"
mount "$dev" "$mnt"
echo "device $dev ($(uname -r)): ext4, $(findmnt -no OPTIONS "$mnt")"

# /proc/diskstats after the device name: field 7 = sectors written (column 10), 5 = write requests
# (column 8), 16 = flush requests (column 19, kernel 5.5+).
stat_of() { awk -v d="$name" -v c="$1" '$3 == d { print $c }' /proc/diskstats; }
jbd2() { awk '/transactions \(/ { print $1 }' /proc/fs/jbd2/"$name"-8/info 2>/dev/null || echo 0; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

settle() { sync; sleep 2; sync; }

settle
before=$(stat_of 10); sleep 10; sync; after=$(stat_of 10)
echo "idle control: $(( (after - before) * 512 )) B written by the device in 10 s with nothing running"

# The gateway model is the agent's (one gateway-wide batch per 60 s); the device model shows what small,
# frequent batches (one 3.9 KB batch every 0.4 s at 15,000 readings/s) cost. See SpoolBenchmark+Paced.swift.
declare -A WA
for run in "15000 gateway" "100 gateway" "15000 device"; do
  read -r rate model <<< "$run"
  echo
  echo "== $rate readings/s for $RUN_SECONDS s, $model model"
  settle
  sectors=$(stat_of 10); writes=$(stat_of 8); flushes=$(stat_of 19); commits=$(jbd2); start=$(date +%s.%N)
  out=$("$BENCH" spool --rate "$rate" --seconds "$RUN_SECONDS" --model "$model" --dir "$mnt" --device "$name" --keep)
  sync
  sectors=$(( $(stat_of 10) - sectors )); writes=$(( $(stat_of 8) - writes ))
  flushes=$(( $(stat_of 19) - flushes )); commits=$(( $(jbd2) - commits ))
  elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  echo "$out" | grep -v -e '^payload_bytes=' -e '^dictionary_bytes='
  payload=$(echo "$out" | sed -n 's/^payload_bytes=//p')
  dictionary=$(echo "$out" | sed -n 's/^dictionary_bytes=//p')
  bytes=$(( sectors * 512 ))
  WA["$rate $model"]=$(ratio "$bytes" "$payload")
  echo "  whole process (spool created, dictionary stored, run, closed, synced; $elapsed s): the device wrote $bytes B"
  echo "    in $writes write requests, $flushes cache flushes, $commits jbd2 commits"
  echo "  write amplification, whole process: ${WA["$rate $model"]} over the batches' $payload B;" \
       "$(ratio "$bytes" $(( payload + dictionary ))) counting the dictionary frame as payload too"
  rm -rf "$mnt/rate-$rate"
done
echo
echo "write amplification (whole process, batches only): ${WA["15000 gateway"]} at 15,000 readings/s (goal <= 1.2)," \
     "${WA["100 gateway"]} at 100 readings/s; ${WA["15000 device"]} at 15,000 readings/s with per-device batches"
