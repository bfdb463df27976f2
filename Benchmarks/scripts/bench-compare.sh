#!/usr/bin/env bash
# Rill against two reference SSE hubs, same harness, same machine, same pinning:
#   rill    SSEIdleServer --idle subscribe (broker subscription relayed by the connection)
#   nchan   nginx 1 worker + nchan (Benchmarks/reference/nchan.conf)
#   fastapi FastAPI + uvicorn --loop uvloop --http httptools --workers 1
#           (Benchmarks/reference/fastapi_app.py)
# All three serve GET /stream?channel=NAME and POST /publish?channel=NAME (body = event data).
# Each server is pinned to CPU 0, rill-load (one loop thread) to CPU 1; every scenario gets a
# fresh server. Scenarios (SCENARIOS, default "idle fanout small"):
#   idle:   rill-load idle -c IDLE_CONNECTIONS -d DURATION: alive, server RSS per stream, server
#           CPU in the hold. Only Rill sends heartbeats (HEARTBEAT s), so only Rill's run passes
#           --expect-heartbeat; nchan and the FastAPI app send nothing on an idle stream.
#   fanout: rill-load fanout -c FANOUT_CONNECTIONS --events FANOUT_EVENTS --payload-bytes PAYLOAD
#   small:  rill-load fanout -c SMALL_CONNECTIONS --events SMALL_EVENTS --payload-bytes PAYLOAD
# Plain HTTP is http-wrk.sh's (Rill vs nginx static).
#
#   Benchmarks/scripts/bench-compare.sh .build/release/SSEIdleServer .build/release/rill-load
#
# Environment: SERVERS (default "rill nchan fastapi"), SCENARIOS, IDLE_CONNECTIONS (10000),
# DURATION (30), FANOUT_CONNECTIONS (10000), FANOUT_EVENTS (200), SMALL_CONNECTIONS (100),
# SMALL_EVENTS (20000), PAYLOAD (64), HEARTBEAT (Rill's, 10), RAMP (2000), PORT (18095),
# FANOUT_TIMEOUT (rill-load --timeout for the fan-outs, default 300), NGINX (nginx binary),
# NCHAN_MODULE (default /usr/lib/nginx/modules/ngx_nchan_module.so), PYTHON (default python3).
set -euo pipefail
SERVER=${1:?usage: bench-compare.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
LOAD=${2:?usage: bench-compare.sh PATH_TO_SSEIdleServer PATH_TO_rill-load}
SERVERS=${SERVERS:-rill nchan fastapi}
SCENARIOS=${SCENARIOS:-idle fanout small}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
DURATION=${DURATION:-30}
FANOUT_CONNECTIONS=${FANOUT_CONNECTIONS:-10000}
FANOUT_EVENTS=${FANOUT_EVENTS:-200}
SMALL_CONNECTIONS=${SMALL_CONNECTIONS:-100}
SMALL_EVENTS=${SMALL_EVENTS:-20000}
PAYLOAD=${PAYLOAD:-64}
HEARTBEAT=${HEARTBEAT:-10}
RAMP=${RAMP:-2000}
PORT=${PORT:-18095}
FANOUT_TIMEOUT=${FANOUT_TIMEOUT:-300}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
REFERENCE=$(cd "$HERE/../reference" && pwd)
WORK=$(mktemp -d)
SERVER_PID=
PROBE_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
source "$HERE/common.sh"

# The servers inherit this shell's open-file limit (rill-load and SSEIdleServer raise their own).
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
if [ "$NOFILE" = unlimited ]; then NOFILE=1048576; fi
max_c=$IDLE_CONNECTIONS
if [ "$FANOUT_CONNECTIONS" -gt "$max_c" ]; then max_c=$FANOUT_CONNECTIONS; fi
if [ "$NOFILE" -lt $((max_c + 96)) ]; then
    echo "the open-file limit ($NOFILE) is below the connection count + 96; lower the connection counts" >&2
    exit 1
fi

# start NAME CONNECTIONS: sets SERVER_PID (what to stop) and PROBE_PID (what rill-load samples).
start() {
    local name=$1 connections=$2
    case $name in
    rill)
        taskset -c 0 "$SERVER" --host 127.0.0.1 --port "$PORT" --heartbeat "$HEARTBEAT" --idle subscribe \
            --max-connections $((connections + 500)) >"$WORK/server-$name.log" 2>&1 &
        SERVER_PID=$!
        PROBE_PID=$SERVER_PID
        ;;
    nchan)
        local dir="$WORK/nginx"
        rm -rf "$dir"
        mkdir -p "$dir"
        # worker_connections at 2 × the streams: with 1 × + 500, nginx logs "worker_connections
        # are not enough, reusing connections" at 10,000 nchan subscribers and ~1 % of them fail.
        sed -e "s|@MODULE@|$NCHAN_MODULE|" -e "s|@WORK@|$dir|g" -e "s|@PORT@|$PORT|" \
            -e "s|@MAX_CONNECTIONS@|$((2 * connections + 500))|" -e "s|@NOFILE@|$NOFILE|" \
            "$REFERENCE/nchan.conf" >"$dir/nginx.conf"
        taskset -c 0 "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$WORK/server-$name.log" 2>&1 &
        SERVER_PID=$!
        ;;
    fastapi)
        (cd "$REFERENCE" && exec taskset -c 0 "$PYTHON" -m uvicorn fastapi_app:app --host 127.0.0.1 --port "$PORT" \
            --loop uvloop --http httptools --workers 1 --no-access-log --log-level warning \
            --backlog 4096) >"$WORK/server-$name.log" 2>&1 &
        SERVER_PID=$!
        PROBE_PID=$SERVER_PID
        ;;
    esac
    wait_for_port "$PORT" || { cat "$WORK/server-$name.log" >&2; return 1; }
    if [ "$name" = nchan ]; then
        # The worker does the work; the master only supervises. Sample the worker.
        PROBE_PID=$(pgrep -P "$SERVER_PID" | head -1)
    fi
    sleep 1
}

stop() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    sleep 3   # let this run's sockets go before the next server binds the port
}

declare -A FIG
RESULTS=()
# field LINE NAME
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

run_idle() {
    local name=$1 hb=()
    if [ "$name" = rill ]; then hb=(--expect-heartbeat "$HEARTBEAT"); fi
    start "$name" "$IDLE_CONNECTIONS"
    echo "[$name] rill-load idle -c $IDLE_CONNECTIONS -d $DURATION --ramp $RAMP ${hb[*]} --server-pid $PROBE_PID" >&2
    taskset -c 1 "$LOAD" idle -c "$IDLE_CONNECTIONS" -d "$DURATION" --ramp "$RAMP" "${hb[@]}" \
        --server-pid "$PROBE_PID" "http://127.0.0.1:$PORT/stream?channel=idle" | tee "$WORK/idle-$name.out" || true
    stop
    local r
    r=$(grep '^RESULT mode=idle' "$WORK/idle-$name.out" | tail -1 || true)
    RESULTS+=("RESULT scenario=compare-idle server=$name ${r#RESULT mode=idle }")
}

run_fanout() {
    local name=$1 key=$2 connections=$3 events=$4
    start "$name" "$connections"
    echo "[$name] rill-load fanout -c $connections --events $events --payload-bytes $PAYLOAD --ramp $RAMP --timeout $FANOUT_TIMEOUT --server-pid $PROBE_PID" >&2
    taskset -c 1 "$LOAD" fanout -c "$connections" --events "$events" --payload-bytes "$PAYLOAD" --ramp "$RAMP" \
        --timeout "$FANOUT_TIMEOUT" --server-pid "$PROBE_PID" --publish "http://127.0.0.1:$PORT/publish?channel=bench" \
        "http://127.0.0.1:$PORT/stream?channel=bench" | tee "$WORK/$key-$name.out" || true
    stop
    local r
    r=$(grep '^RESULT mode=fanout' "$WORK/$key-$name.out" | tail -1 || true)
    RESULTS+=("RESULT scenario=compare-$key server=$name ${r#RESULT mode=fanout }")
}

for scenario in $SCENARIOS; do
    for name in $SERVERS; do
        case $scenario in
        idle) run_idle "$name" ;;
        fanout) run_fanout "$name" fanout "$FANOUT_CONNECTIONS" "$FANOUT_EVENTS" ;;
        small) run_fanout "$name" small "$SMALL_CONNECTIONS" "$SMALL_EVENTS" ;;
        *) echo "unknown scenario $scenario (idle, fanout or small)" >&2; exit 1 ;;
        esac
    done
done

# The figures, from the RESULT lines (one place that knows the field names).
for line in "${RESULTS[@]}"; do
    name=$(field "$line" server)
    case $line in
    *scenario=compare-idle*)
        FIG[idle_alive,$name]="$(field "$line" alive)/$(field "$line" connections)"
        FIG[idle_rss,$name]=$(field "$line" rss_per_conn_bytes)
        FIG[idle_cpu,$name]=$(field "$line" server_cpu_idle_s) ;;
    *scenario=compare-*)
        key=$(sed -n 's/.*scenario=compare-\([a-z]*\).*/\1/p' <<<"$line")
        FIG[${key}_delivered,$name]="$(field "$line" delivered)/$(field "$line" expected)"
        FIG[${key}_gaps,$name]="$(field "$line" gaps)/$(field "$line" duplicates)"
        FIG[${key}_rate,$name]=$(field "$line" deliveries_per_s)
        FIG[${key}_p50,$name]=$(field "$line" latency_p50_ms)
        FIG[${key}_p99,$name]=$(field "$line" latency_p99_ms)
        FIG[${key}_us,$name]=$(field "$line" server_us_per_delivery)
        FIG[${key}_busy,$name]="$(field "$line" server_busy_pct)/$(field "$line" harness_busy_pct)$(if [ "$(field "$line" timed_out)" = 1 ]; then echo ' TIMEOUT'; fi)" ;;
    esac
done

ratio() {  # Rill / reference, or NA
    awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}
refs=()
for name in $SERVERS; do if [ "$name" != rill ]; then refs+=("$name"); fi; done
header=$(printf '%-44s %-8s' "figure" "better")
for name in $SERVERS; do header+=$(printf ' %18s' "$name"); done
for ref in "${refs[@]}"; do header+=$(printf ' %12s' "rill/$ref"); done
row() {  # KEY LABEL BETTER RATIO(yes/no)
    local key=$1 label=$2 better=$3 want=$4 out
    out=$(printf '%-44s %-8s' "$label" "$better")
    for name in $SERVERS; do out+=$(printf ' %18s' "${FIG[$key,$name]:-NA}"); done
    for ref in "${refs[@]}"; do
        if [ "$want" = yes ] && [[ " $SERVERS " == *" rill "* ]]; then
            out+=$(printf ' %12s' "$(ratio "${FIG[$key,rill]:-}" "${FIG[$key,$ref]:-}")")
        else out+=$(printf ' %12s' "-"); fi
    done
    echo "$out"
}
echo
echo "Rill vs references: server pinned to CPU 0, rill-load to CPU 1; payload ${PAYLOAD} B; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "$header"
for scenario in $SCENARIOS; do
    case $scenario in
    idle)
        row idle_alive "idle ${IDLE_CONNECTIONS} streams ${DURATION} s: alive" higher no
        row idle_rss "idle: server RSS per stream (B)" lower yes
        row idle_cpu "idle: server CPU in the hold (s)" lower yes ;;
    fanout|small)
        if [ "$scenario" = fanout ]; then c=$FANOUT_CONNECTIONS e=$FANOUT_EVENTS; else c=$SMALL_CONNECTIONS e=$SMALL_EVENTS; fi
        row ${scenario}_delivered "fan-out ${c}x${e}: delivered" higher no
        row ${scenario}_gaps "fan-out ${c}x${e}: gaps/dup" lower no
        row ${scenario}_rate "fan-out ${c}x${e}: deliveries/s" higher yes
        row ${scenario}_p50 "fan-out ${c}x${e}: latency p50 (ms)" lower yes
        row ${scenario}_p99 "fan-out ${c}x${e}: latency p99 (ms)" lower yes
        row ${scenario}_us "fan-out ${c}x${e}: server µs/delivery" lower yes
        row ${scenario}_busy "fan-out ${c}x${e}: busy % server/harness" - no ;;
    esac
done
echo "(Rill sends a ${HEARTBEAT} s heartbeat and its idle run requires one per stream in the hold; nchan and FastAPI send none.)"
for line in "${RESULTS[@]}"; do echo "$line"; done
