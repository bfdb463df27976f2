#!/usr/bin/env bash
# Server-Sent Events fan-out: rill-load subscribes N streams to SSEIdleServer's
# GET /stream?channel=bench (a broker subscription each, `--idle subscribe`), then POSTs M
# numbered, timestamped events to POST /publish?channel=bench over keep-alive connections and
# reports how many deliveries arrived (gaps, duplicates), deliveries per second, the latency from
# the POST's write to the event's read (HdrHistogram), the server's CPU time per delivery and the
# harness's own CPU time. Each scenario gets a fresh server.
# The server (one loop thread) is pinned to CPU 0 and rill-load (one loop thread) to CPU 1.
#
#   Benchmarks/scripts/sse-fanout.sh .build/release/SSEIdleServer .build/release/rill-load
#
# Scenarios (SCENARIOS, default "a b b1k c"):
#   a:   FANOUT_CONNECTIONS (default 10000) streams × 200 events back-to-back
#   b:   FANOUT_CONNECTIONS streams × 1,000 events at 50 events/s (20 s; 500,000 deliveries/s,
#        more than one core delivers today, so publishing stops at the 80 s timeout)
#   b1k: 1,000 streams × 1,000 events at 50 events/s (50,000 deliveries/s: the sustainable case)
#   c:   100 streams × 20,000 events back-to-back
#   a-redis: scenario a with the server on a RedisBroker (a redis-server this script starts on
#        REDIS_PORT, default 18379): publish → Redis → the server's one subscriber connection →
#        the streams
# Environment: PAYLOAD (event data bytes, default 64), HEARTBEAT (server heartbeat seconds,
# default 10), RAMP (new streams per second, default 2000), PORT (default 18092), QUIET_WAIT
# (seconds to wait, before each scenario, for 3 s in a row under 10 % of a core busy —
# other builds or tests on a 2-core machine skew every figure; default 120, then it runs anyway
# and rill-load's other_cpu_pct tells how much the cores were shared).
set -euo pipefail
SERVER=${1:?usage: sse-fanout.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
LOAD=${2:?usage: sse-fanout.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
SCENARIOS=${SCENARIOS:-a b b1k c a-redis}
REDIS_PORT=${REDIS_PORT:-18379}
REDIS_PID=
FANOUT_CONNECTIONS=${FANOUT_CONNECTIONS:-10000}
PAYLOAD=${PAYLOAD:-64}
HEARTBEAT=${HEARTBEAT:-10}
RAMP=${RAMP:-2000}
PORT=${PORT:-18092}
QUIET_WAIT=${QUIET_WAIT:-120}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((FANOUT_CONNECTIONS + 96)) ]; then
    echo "the hard open-file limit ($hard) is below FANOUT_CONNECTIONS + 96; lower FANOUT_CONNECTIONS" >&2
    exit 1
fi

# Busy percent of one core over one second, all CPUs together (user+nice+system+irq+softirq).
busy_percent() {
    local a b
    read -r -a a < <(grep '^cpu ' /proc/stat)
    sleep 1
    read -r -a b < <(grep '^cpu ' /proc/stat)
    local busy=$(( (b[1] + b[2] + b[3] + b[6] + b[7]) - (a[1] + a[2] + a[3] + a[6] + a[7]) ))
    echo $(( busy * 100 / $(getconf CLK_TCK) ))
}

wait_for_quiet() {
    local waited=0 busy quiet=0
    while [ "$quiet" -lt 3 ]; do
        busy=$(busy_percent)
        if [ "$busy" -le 10 ]; then quiet=$((quiet + 1)); continue; fi
        quiet=0
        if [ "$waited" -ge "$QUIET_WAIT" ]; then
            echo "the machine is still ${busy} % busy after ${QUIET_WAIT} s; running anyway (see other_cpu_pct)" >&2
            return 0
        fi
        if [ $((waited % 10)) -eq 0 ]; then echo "waiting for a quiet machine (${busy} % of a core busy)" >&2; fi
        waited=$((waited + 1))
    done
}

ROWS=()
RESULTS=()
# run NAME CONNECTIONS EVENTS RATE(empty: back-to-back) LABEL [SERVER ARGUMENTS…]
run() {
    local name=$1 connections=$2 events=$3 rate=$4 label=$5
    shift 5
    local server_args=("$@")
    wait_for_quiet
    local rate_args=()
    if [ -n "$rate" ]; then rate_args=(--rate "$rate"); fi
    taskset -c 0 "$SERVER" --host 127.0.0.1 --port "$PORT" --heartbeat "$HEARTBEAT" --idle subscribe \
        --max-connections $((connections + 500)) "${server_args[@]}" >"$WORK/server-$name.log" 2>&1 &
    SERVER_PID=$!
    wait_for_port "$PORT"
    sleep 1
    echo "rill-load fanout -c $connections --events $events ${rate_args[*]} --payload-bytes $PAYLOAD --ramp $RAMP --server-pid $SERVER_PID (server: --heartbeat $HEARTBEAT --idle subscribe)" >&2
    taskset -c 1 "$LOAD" fanout -c "$connections" --events "$events" "${rate_args[@]}" --payload-bytes "$PAYLOAD" \
        --ramp "$RAMP" --server-pid "$SERVER_PID" --publish "http://127.0.0.1:$PORT/publish?channel=bench" \
        "http://127.0.0.1:$PORT/stream?channel=bench" | tee "$WORK/load-$name.out"
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=

    local result
    result=$(grep '^RESULT mode=fanout' "$WORK/load-$name.out" | tail -1)
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
    local bound=""
    if [ "$(field harness_bound)" = 1 ]; then bound=" HARNESS-BOUND"; fi
    if [ "$(field timed_out)" = 1 ]; then bound+=" TIMED-OUT (acked $(field acked)/$events)"; fi
    local other
    other=$(field other_cpu_pct)
    if [ "$other" != NA ] && [ "${other:-0}" -gt 20 ]; then bound+=" SHARED-CORES (others ${other}%)"; fi
    ROWS+=("$(printf '%-46s %17s %9s %10s %10s %11s %12s %11s %14s' "$label" \
        "$(field delivered)/$(field expected)" "$(field gaps)/$(field duplicates)" "$(field deliveries_per_s)" \
        "$(field latency_p50_ms)" "$(field latency_p99_ms)" "$(field server_us_per_delivery)" \
        "$(field server_cpu_s) ($(field server_busy_pct)%)" "$(field harness_cpu_s) ($(field harness_busy_pct)%)$bound")")
    RESULTS+=("RESULT scenario=sse-fanout-$name connections=$connections events=$events rate=${rate:-max} payload_bytes=$PAYLOAD delivered=$(field delivered) expected=$(field expected) gaps=$(field gaps) duplicates=$(field duplicates) deliveries_per_s=$(field deliveries_per_s) latency_p50_ms=$(field latency_p50_ms) latency_p99_ms=$(field latency_p99_ms) server_cpu_s=$(field server_cpu_s) server_us_per_delivery=$(field server_us_per_delivery) harness_cpu_s=$(field harness_cpu_s) harness_bound=$(field harness_bound) timed_out=$(field timed_out) acked=$(field acked) late=$(field late) other_cpu_pct=$(field other_cpu_pct)")
    sleep 3   # let the sockets of this run go before the next server starts
}

for scenario in $SCENARIOS; do
    case $scenario in
    a) run a "$FANOUT_CONNECTIONS" 200 "" "fan-out ${FANOUT_CONNECTIONS} streams × 200 events, back-to-back" ;;
    b) run b "$FANOUT_CONNECTIONS" 1000 50 "fan-out ${FANOUT_CONNECTIONS} streams × 1,000 events at 50/s" ;;
    b1k) run b1k 1000 1000 50 "fan-out 1000 streams × 1,000 events at 50/s" ;;
    c) run c 100 20000 "" "fan-out 100 streams × 20,000 events, back-to-back" ;;
    a-redis)
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
            --loglevel warning >"$WORK/redis.log" 2>&1 &
        REDIS_PID=$!
        wait_for_port "$REDIS_PORT"
        run a-redis "$FANOUT_CONNECTIONS" 200 "" "fan-out ${FANOUT_CONNECTIONS} × 200 through Redis" \
            --redis "redis://127.0.0.1:$REDIS_PORT/0"
        kill "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=
        ;;
    *) echo "unknown scenario $scenario (a, b, b1k, c or a-redis)" >&2; exit 1 ;;
    esac
done

printf '\n%-46s %17s %9s %10s %10s %11s %12s %11s %14s\n' "scenario (server on 1 core, rill-load on the other)" \
    "delivered" "gaps/dup" "deliv./s" "p50 ms" "p99 ms" "srv µs/deliv" "server CPU s" "harness CPU s"
for row in "${ROWS[@]}"; do echo "$row"; done
for line in "${RESULTS[@]}"; do echo "$line"; done
