#!/bin/bash
# A/B of the fan-out hot path: two SSEIdleServer binaries (BEFORE, AFTER), alternating ROUNDS
# times, each against `rill-load fanout -c 10000 --events 200` (server on CPU 0, load on CPU 1).
# Prints each run's RESULT line prefixed with its side.
#
#   BEFORE=/path/to/old/SSEIdleServer AFTER=.build/release/SSEIdleServer \
#       LOAD=.build/release/rill-load Benchmarks/scripts/ab-fanout.sh
set -euo pipefail
: "${BEFORE:?path of the before binary}" "${AFTER:?path of the after binary}"
LOAD=${LOAD:-.build/release/rill-load}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18092}
CONNECTIONS=${CONNECTIONS:-10000}
EVENTS=${EVENTS:-200}
for round in $(seq 1 "$ROUNDS"); do
    for side in before after; do
        binary=$BEFORE
        [ "$side" = after ] && binary=$AFTER
        taskset -c 0 "$binary" --port "$PORT" --heartbeat 30 --idle subscribe >/dev/null 2>&1 &
        server=$!
        sleep 1
        taskset -c 1 "$LOAD" fanout -c "$CONNECTIONS" --events "$EVENTS" --payload-bytes 64 --timeout 60 --ramp 5000 \
            --server-pid "$server" --publish "http://127.0.0.1:$PORT/publish?channel=bench" \
            "http://127.0.0.1:$PORT/stream?channel=bench" 2>/dev/null | grep '^RESULT' | sed "s/^/round=$round $side /" || true
        kill "$server"
        wait "$server" 2>/dev/null || true
        sleep 1
    done
done
