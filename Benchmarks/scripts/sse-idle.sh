#!/usr/bin/env bash
# Idle Server-Sent Events streams: rill-load opens CONNECTIONS streams to SSEIdleServer's
# GET /stream (heartbeats only), holds them DURATION seconds and reports how many stayed alive,
# the server's RSS per stream ((RSS at the end of the hold - RSS before connecting) / alive), the
# server's CPU time during the hold, and the harness's own CPU time.
# The server (one loop thread) is pinned to CPU 0 and rill-load (one loop thread) to CPU 1.
#
#   Benchmarks/scripts/sse-idle.sh .build/release/SSEIdleServer .build/release/rill-load
#
# Environment: CONNECTIONS (default 19000), DURATION (hold seconds, default 30), HEARTBEAT
# (server heartbeat seconds, default 10, so every stream should see heartbeats within the hold),
# RAMP (new connections per second, default 2000), IDLE (what serves the stream: subscribe — a
# broker subscription relayed by the connection, no task — or sleep / suspend — a handler task
# that waits; default subscribe), PORT (default 18090).
set -euo pipefail
SERVER=${1:?usage: sse-idle.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
LOAD=${2:?usage: sse-idle.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
CONNECTIONS=${CONNECTIONS:-19000}
DURATION=${DURATION:-30}
HEARTBEAT=${HEARTBEAT:-10}
RAMP=${RAMP:-2000}
IDLE=${IDLE:-subscribe}
PORT=${PORT:-18090}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

# Both processes raise their soft open-file limit to the hard limit themselves; say so early
# when the hard limit cannot hold the streams.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((CONNECTIONS + 32)) ]; then
    echo "the hard open-file limit ($hard) is below CONNECTIONS + 32; lower CONNECTIONS" >&2
    exit 1
fi

taskset -c 0 "$SERVER" --host 127.0.0.1 --port "$PORT" --heartbeat "$HEARTBEAT" --idle "$IDLE" \
    --max-connections $((CONNECTIONS + 500)) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_for_port "$PORT"
sleep 1   # let the probe connection above close before the "before" RSS sample

echo "rill-load idle -c $CONNECTIONS -d $DURATION --ramp $RAMP --expect-heartbeat $HEARTBEAT --server-pid $SERVER_PID (server: --heartbeat $HEARTBEAT --idle $IDLE)" >&2
taskset -c 1 "$LOAD" idle -c "$CONNECTIONS" -d "$DURATION" --ramp "$RAMP" --expect-heartbeat "$HEARTBEAT" \
    --server-pid "$SERVER_PID" "http://127.0.0.1:$PORT/stream" | tee "$WORK/load.out"
kill "$SERVER_PID" 2>/dev/null || true

result=$(grep '^RESULT mode=idle' "$WORK/load.out" | tail -1)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
alive=$(field alive)
rss=$(field rss_per_conn_bytes)
cpu=$(field server_cpu_idle_s)
harness=$(field harness_cpu_s)

printf '\n%-52s %14s %14s %14s %14s\n' "scenario (server on 1 core, rill-load on the other)" "alive" "RSS/stream B" "server CPU s" "harness CPU s"
printf '%-52s %14s %14s %14s %14s\n' "idle SSE ($IDLE), ${CONNECTIONS} streams, ${DURATION} s hold, hb ${HEARTBEAT} s" \
    "$alive/$CONNECTIONS" "$rss" "$cpu" "$harness"
echo "RESULT scenario=sse-idle connections=$CONNECTIONS alive=$alive rss_per_conn_bytes=$rss rss_per_open_conn_bytes=$(field rss_per_open_conn_bytes) server_cpu_idle_s=$cpu harness_cpu_s=$harness heartbeat_s=$HEARTBEAT idle=$IDLE"
