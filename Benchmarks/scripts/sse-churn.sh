#!/usr/bin/env bash
# Connection churn on Server-Sent Events streams: rill-load keeps CONCURRENCY connections in
# flight against SSEIdleServer's GET /stream (--idle subscribe); each one connects, sends the GET,
# reads until the first body byte after the head (the stream's opening comment), closes, and is
# replaced at once, for DURATION seconds. Reports connections per second, connect → first body
# byte latency (p50/p99), failures, the server's CPU time and the harness's own CPU time.
# The server (one loop thread) is pinned to CPU 0 and rill-load (one loop thread) to CPU 1.
#
#   Benchmarks/scripts/sse-churn.sh .build/release/SSEIdleServer .build/release/rill-load
#
# The client closes first, which can leave a TIME_WAIT socket per cycle on the client side for
# 60 s (against SSEIdleServer it does not: the server still sends after the client's FIN and the
# client's kernel answers with a reset). Either way rill-load churn spreads its connects over
# SOURCES loopback source addresses (127.0.0.1…) so the ephemeral ports cannot run out.
# time_wait_after in the RESULT line is the whole machine's TIME_WAIT count after the run.
#
# Environment: CONCURRENCY (default 50), DURATION (seconds, default 15), SOURCES (loopback source
# addresses, default 8), PORT (default 18093).
set -euo pipefail
SERVER=${1:?usage: sse-churn.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
LOAD=${2:?usage: sse-churn.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
CONCURRENCY=${CONCURRENCY:-50}
DURATION=${DURATION:-15}
SOURCES=${SOURCES:-8}
PORT=${PORT:-18093}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

taskset -c 0 "$SERVER" --host 127.0.0.1 --port "$PORT" --idle subscribe >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_for_port "$PORT"
sleep 1   # let the probe connection above close

echo "rill-load churn -c $CONCURRENCY -d $DURATION --source-addresses $SOURCES --server-pid $SERVER_PID (server: --idle subscribe)" >&2
taskset -c 1 "$LOAD" churn -c "$CONCURRENCY" -d "$DURATION" --source-addresses "$SOURCES" \
    --server-pid "$SERVER_PID" "http://127.0.0.1:$PORT/stream" | tee "$WORK/load.out"
timewait=$(ss -Htan state time-wait 2>/dev/null | wc -l || echo NA)
kill "$SERVER_PID" 2>/dev/null || true

result=$(grep '^RESULT mode=churn' "$WORK/load.out" | tail -1)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
rate=$(field connections_per_s)
failures=$(field failures)
p50=$(field first_byte_p50_ms)
p99=$(field first_byte_p99_ms)
cpu=$(field server_cpu_s)
harness=$(field harness_cpu_s)

printf '\n%-52s %12s %10s %12s %12s %14s %14s\n' "scenario (server on 1 core, rill-load on the other)" "conn/s" "failures" "1st-byte p50" "1st-byte p99" "server CPU s" "harness CPU s"
printf '%-52s %12s %10s %12s %12s %14s %14s\n' "SSE churn (subscribe), ${CONCURRENCY} in flight, ${DURATION} s" \
    "$rate" "$failures" "$p50 ms" "$p99 ms" "$cpu" "$harness"
echo "RESULT scenario=sse-churn concurrency=$CONCURRENCY duration_s=$(field duration_s) cycles=$(field cycles) connections_per_s=$rate failures=$failures first_byte_p50_ms=$p50 first_byte_p99_ms=$p99 server_cpu_s=$cpu harness_cpu_s=$harness source_addresses=$SOURCES time_wait_after=$timewait"
