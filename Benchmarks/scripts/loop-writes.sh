#!/usr/bin/env bash
# Where a fan-out's CPU goes per event loop: rill-hub --loops LOOPS on CPUS, `rill-load fanout
# -c 10000 --events 200` on CPU 1, and what rill-load measures over its publish phase (from the
# first publish until every stream has every event): each loop thread's CPU and write system
# calls (/proc/PID/task/TID/stat and io), deliveries per event write (what coalescing achieved),
# server CPU per delivery, the harness's share of its core and the latencies (issue 15,
# RESULTS.md sessions 13 and 15). Repeat it, alternating the configurations: rounds differ.
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
taskset -c "$CPUS" "$HUB" --host 127.0.0.1 --port "$PORT" --loops "$LOOPS" --max-connections 12000 --heartbeat 30 >/dev/null 2>&1 &
HUB_PID=$!
trap 'kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null; true' EXIT
sleep 1
taskset -c 1 "$LOAD" fanout -c 10000 --events 200 --payload-bytes 64 --timeout 60 --ramp 5000 --server-pid "$HUB_PID" \
    --publish "http://127.0.0.1:$PORT/publish?channel=bench" "http://127.0.0.1:$PORT/stream?channel=bench" 2>/dev/null |
    grep '^RESULT' | tr ' ' '\n' |
    grep -E '^(delivered|deliveries_per_s|latency_p50_ms|latency_p99_ms|server_us_per_delivery|server_loop_cpu_s|server_loop_writes|deliveries_per_write|harness_busy_pct)=' |
    tr '\n' ' '
echo
