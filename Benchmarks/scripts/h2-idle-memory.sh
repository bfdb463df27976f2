#!/bin/bash
# Idle SSE streams multiplexed on HTTP/2: h2load holds C connections x M streams against
# SSEIdleServer; prints the server's RSS per stream (RSS with the streams less RSS before).
#
#   swift build -c release --product SSEIdleServer
#   Benchmarks/scripts/h2-idle-memory.sh                  # 100 x 100, --idle subscribe, 12 s
#   C=200 M=50 IDLE=suspend WAIT=25 Benchmarks/scripts/h2-idle-memory.sh
#
# h2load comes from Debian's nghttp2-client (make deps-bench). Loopback only; bounded by C x M
# streams and WAIT seconds.
set -euo pipefail
C=${C:-100}
M=${M:-100}
WAIT=${WAIT:-12}
IDLE=${IDLE:-subscribe}
PORT=${PORT:-18091}
SERVER=${SERVER:-.build/release/SSEIdleServer}
streams=$((C * M))
"$SERVER" --port "$PORT" --heartbeat 30 --idle "$IDLE" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1
rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }
before=$(rss)
h2load -c "$C" -m "$M" -n "$streams" -t 1 "http://127.0.0.1:$PORT/stream" >/dev/null 2>&1 &
load=$!
sleep "$WAIT"
after=$(rss)
kill "$load" 2>/dev/null || true
echo "h2-idle idle=$IDLE connections=$C streams=$streams rss_before_kb=$before rss_after_kb=$after" \
    "rss_per_stream_bytes=$(((after - before) * 1024 / streams))"
