#!/usr/bin/env bash
# Where a fan-out's CPU goes per event loop: rill-hub --loops LOOPS on CPUS, `rill-load fanout
# -c 10000 --events 200` on CPU 1, then each loop thread's write system calls (/proc/PID/task/
# TID/io syscw) and CPU ticks from 6.5 s (the streams are open) to the end. Deliveries per write
# is what coalescing achieved; CPU per write what each write cost (issue 15, RESULTS.md session 13).
#
#   Benchmarks/scripts/loop-writes.sh LOOPS [CPUS]
#   Benchmarks/scripts/loop-writes.sh 1          # one loop on CPU 0
#   Benchmarks/scripts/loop-writes.sh 2          # two loops on CPUs 0-1 (the second shares CPU 1)
#   Benchmarks/scripts/loop-writes.sh 2 0        # two loops on CPU 0 (the harness alone on CPU 1)
#
# Environment: HUB, LOAD (default .build/release/…), PORT (18351). Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HUB=${HUB:-$ROOT/.build/release/rill-hub}
LOAD=${LOAD:-$ROOT/.build/release/rill-load}
PORT=${PORT:-18351}
LOOPS=${1:?usage: loop-writes.sh LOOPS [CPUS]}
CPUS=${2:-}
[ -n "$CPUS" ] || { [ "$LOOPS" -gt 1 ] && CPUS=0-1 || CPUS=0; }
WORK=$(mktemp -d)
taskset -c "$CPUS" "$HUB" --host 127.0.0.1 --port "$PORT" --loops "$LOOPS" --max-connections 12000 --heartbeat 30 >/dev/null 2>&1 &
HUB_PID=$!
trap 'kill "$HUB_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
# One line per loop thread: name, write syscalls, utime+stime ticks.
snapshot() {
    for task in /proc/"$HUB_PID"/task/*; do
        echo "$(cat "$task/comm") $(awk '/syscw/ { print $2 }' "$task/io") $(awk '{ print $14 + $15 }' "$task/stat")"
    done | grep '^rill-loop' | sort
}
(sleep 6.5 && snapshot >"$WORK/start") &
STARTER=$!
taskset -c 1 "$LOAD" fanout -c 10000 --events 200 --payload-bytes 64 --timeout 60 --ramp 5000 --server-pid "$HUB_PID" \
    --publish "http://127.0.0.1:$PORT/publish?channel=bench" "http://127.0.0.1:$PORT/stream?channel=bench" 2>/dev/null |
    grep '^RESULT' | tr ' ' '\n' | grep -E '^(delivered|deliveries_per_s|latency_p99_ms)=' | tr '\n' ' '
echo
wait "$STARTER"
snapshot >"$WORK/end"
join "$WORK/start" "$WORK/end" | awk -v hz="$(getconf CLK_TCK)" '
    { writes = $4 - $2; ticks = $5 - $3; total_writes += writes; total_ticks += ticks
      printf "%s writes=%d cpu_s=%.2f\n", $1, writes, ticks / hz }
    END { printf "all loops: writes=%d cpu_s=%.2f cpu_ms_per_1000_writes=%.1f\n", total_writes, total_ticks / hz,
          total_writes ? total_ticks / hz * 1e6 / total_writes : 0 }'
