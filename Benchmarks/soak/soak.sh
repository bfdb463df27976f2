#!/usr/bin/env bash
# `make soak`: rill-hub (release, --redis) under a long mixed load, its RSS and open file
# descriptors sampled every SAMPLE_INTERVAL (10) s into a CSV and drawn as a PNG.
#
# Timeline (SOAK_SECONDS, default 600, is the whole run):
#   baseline  hub started on a fresh redis-server, 5 s idle: fds_baseline
#   warm-up   WARMUP (max(60, SOAK_SECONDS/4)) s of the full mix below, a Redis restart
#             included, then SETTLE (20) s idle: rss_warm (the level every later load must come
#             back to). Every kind of load, the restart too, runs once before the level is taken:
#             the allocator keeps what the first of each kind needed (measured: a 60 s warm-up
#             without the restart put the level 5–8 MiB below the plateau every later minute
#             stayed on, flat from minute 4 to 10 — retention, not growth).
#   load      the rest minus COOLDOWN, the full mix; redis-server is stopped halfway and started
#             again REDIS_DOWN (5) s later on the same port
#   cooldown  COOLDOWN (45) s idle (clients gone, heartbeats notice what is left): rss_end,
#             fds_end
# PASS when rss_end <= rss_warm × 1.10 and fds_end <= fds_baseline; prints PASS/FAIL with the
# numbers and exits 0/1.
#
# The mix, every loop bounded in iterations and time, loopback only:
#   churn     rill-load churn: CHURN_CONCURRENCY (20) connect/GET/first byte/close, runs ≤ 20 s
#   fan-out   rill-load fanout: FANOUT_CONNECTIONS (200) streams × FANOUT_EVENTS (200) events
#   publisher 40 events/s of 0.5–4 KB on channels c0..c9 and hot (soak_clients.py)
#   reset     4 clients subscribing to the busy channel, resetting (RST) mid-write
#   stalled   8 clients subscribing with a 4 KB receive buffer and never reading (≤ 20 s each)
#   replay    3 clients subscribing to 2–10 channels with Last-Event-ID (seen, `nope`, 0, none)
#
# Environment: HUB, LOAD (binaries; default .build-soak/release/…), SOAK_SECONDS, SOAK_OUT
# (where soak.csv, soak.png and the logs go; default .build-soak/soak-results), PYTHON,
# REDIS_SERVER, and the counts above.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HUB=${HUB:-$ROOT/.build-soak/release/rill-hub}
LOAD=${LOAD:-$ROOT/.build-soak/release/rill-load}
PYTHON=${PYTHON:-python3}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SAMPLE_INTERVAL=${SAMPLE_INTERVAL:-10}
WARMUP=${WARMUP:-$(( SOAK_SECONDS / 4 > 60 ? SOAK_SECONDS / 4 : 60 ))}
SETTLE=${SETTLE:-20}
COOLDOWN=${COOLDOWN:-45}
REDIS_DOWN=${REDIS_DOWN:-5}
CHURN_CONCURRENCY=${CHURN_CONCURRENCY:-20}
FANOUT_CONNECTIONS=${FANOUT_CONNECTIONS:-200}
FANOUT_EVENTS=${FANOUT_EVENTS:-200}
OUT=${SOAK_OUT:-$ROOT/.build-soak/soak-results}
LOAD_SECONDS=$(( SOAK_SECONDS - 5 - WARMUP - SETTLE - COOLDOWN ))
if [ "$LOAD_SECONDS" -lt 20 ]; then
    echo "SOAK_SECONDS=$SOAK_SECONDS leaves $LOAD_SECONDS s of load after warm-up ($WARMUP), settle ($SETTLE) and cooldown ($COOLDOWN); use at least $(( 25 + WARMUP + SETTLE + COOLDOWN ))" >&2
    exit 2
fi
for binary in "$HUB" "$LOAD" "$REDIS_SERVER"; do
    [ -x "$binary" ] || { echo "missing $binary (make soak builds rill-hub and rill-load)" >&2; exit 2; }
done
mkdir -p "$OUT"
CSV=$OUT/soak.csv
PNG=$OUT/soak.png
PHASE=$OUT/phase
WORK=$(mktemp -d)
PIDS=()
REDIS_PID=
HUB_PID=
cleanup() {
    local pid
    # The load loops' own children first (rill-load runs), then the loops, the hub and Redis.
    for pid in "${PIDS[@]}"; do pkill -P "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}" $HUB_PID $REDIS_PID; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=../scripts/common.sh
source "$ROOT/Benchmarks/scripts/common.sh"

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
phase() { echo "$1" >"$PHASE"; echo "[soak $(date -u +%H:%M:%S)] $1" >&2; }
now() { date +%s; }

REDIS_PORT=$(free_port)
HUB_PORT=$(free_port)
start_redis() {
    "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        >>"$OUT/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_for_port "$REDIS_PORT"
}
# This run's logs only (the files are appended to by the load loops below).
for log in redis hub churn fanout clients summary; do : >"$OUT/$log.log"; done
start_redis
ulimit -n "$(ulimit -Hn)"
"$HUB" --host 127.0.0.1 --port "$HUB_PORT" --redis "redis://127.0.0.1:$REDIS_PORT/0" --history 500 \
    --heartbeat 5 --max-connections 4000 >"$OUT/hub.log" 2>&1 &
HUB_PID=$!
wait_for_port "$HUB_PORT"
echo "[soak] rill-hub pid $HUB_PID on 127.0.0.1:$HUB_PORT, redis-server on $REDIS_PORT; ${SOAK_SECONDS}s: warm-up ${WARMUP}s, settle ${SETTLE}s, load ${LOAD_SECONDS}s, cooldown ${COOLDOWN}s" >&2

echo "unix_time,phase,rss_kib,fds,connections,subscribers" >"$CSV"
phase baseline
"$PYTHON" "$HERE/soak_clients.py" sample --port "$HUB_PORT" --pid "$HUB_PID" --csv "$CSV" --phase-file "$PHASE" \
    --interval "$SAMPLE_INTERVAL" --seconds $(( SOAK_SECONDS + 60 )) &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")
sleep 5
sample() { "$PYTHON" "$HERE/soak_clients.py" once --port "$HUB_PORT" --pid "$HUB_PID"; }
IFS=, read -r RSS_BASE FDS_BASE _ _ < <(sample)

# mix SECONDS [redis-restart]: the whole mix for SECONDS, then waits for every client to end.
mix() {
    local seconds=$1 restart=${2:-} end=$(( $(now) + $1 )) pids=()
    local url="http://127.0.0.1:$HUB_PORT"
    (   # churn, in runs of at most 20 s
        for _ in $(seq 1 1000); do
            left=$(( end - $(now) )); [ "$left" -ge 3 ] || break
            run=$(( left < 20 ? left : 20 ))
            timeout $(( run + 30 )) "$LOAD" churn -c "$CHURN_CONCURRENCY" -d "$run" --quiet "$url/stream?channel=churn" \
                >>"$OUT/churn.log" 2>&1 || { echo "churn run exited $?" >>"$OUT/churn.log"; sleep 1; }
        done ) &
    pids+=($!)
    (   # fan-out, one channel per run so each run starts from an empty history
        started=0
        for round in $(seq 1 1000); do
            left=$(( end - $(now) )); [ "$left" -ge 10 ] || break
            # A run refused at once (503 while Redis restarts) must not spin the loop.
            [ "$round" -eq 1 ] || [ $(( $(now) - started )) -ge 2 ] || sleep 2
            started=$(now)
            timeout $(( left + 30 )) "$LOAD" fanout -c "$FANOUT_CONNECTIONS" --events "$FANOUT_EVENTS" --payload-bytes 1024 \
                --timeout "$left" --settle 3 --quiet --publish "$url/publish?channel=fan$end-$round" "$url/stream?channel=fan$end-$round" \
                >>"$OUT/fanout.log" 2>&1 || { echo "fanout run exited $?" >>"$OUT/fanout.log"; sleep 1; }
        done ) &
    pids+=($!)
    local c=("$PYTHON" "$HERE/soak_clients.py")
    "${c[@]}" publisher --port "$HUB_PORT" --seconds "$seconds" --rate 40 >>"$OUT/clients.log" 2>&1 &
    pids+=($!)
    "${c[@]}" reset --port "$HUB_PORT" --seconds "$seconds" --workers 4 >>"$OUT/clients.log" 2>&1 &
    pids+=($!)
    "${c[@]}" stalled --port "$HUB_PORT" --seconds "$seconds" --workers 8 --hold 20 >>"$OUT/clients.log" 2>&1 &
    pids+=($!)
    "${c[@]}" replay --port "$HUB_PORT" --seconds "$seconds" --workers 3 >>"$OUT/clients.log" 2>&1 &
    pids+=($!)
    PIDS+=("${pids[@]}")   # so that an interrupted run stops them too
    if [ -n "$restart" ]; then
        sleep $(( seconds / 2 ))
        echo "[soak $(date -u +%H:%M:%S)] stopping redis-server (pid $REDIS_PID) for ${REDIS_DOWN}s" >&2
        kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=
        sleep "$REDIS_DOWN"
        start_redis
        echo "[soak $(date -u +%H:%M:%S)] redis-server back (pid $REDIS_PID)" >&2
    fi
    wait "${pids[@]}" 2>/dev/null || true
}

phase warmup
mix "$WARMUP" restart
phase settle
sleep "$SETTLE"
IFS=, read -r RSS_WARM FDS_WARM _ _ < <(sample)
phase load
mix "$LOAD_SECONDS" restart
phase cooldown
sleep "$COOLDOWN"
IFS=, read -r RSS_END FDS_END CONN_END SUBS_END < <(sample)
phase done
kill "$SAMPLER_PID" 2>/dev/null || true
# The closing marks, so the plot and the CSV show the figures the verdict used.
echo "$(date +%s),end,$RSS_END,$FDS_END,$CONN_END,$SUBS_END" >>"$CSV"

"$PYTHON" "$HERE/plot.py" "$CSV" "$PNG" --rss-warm "$RSS_WARM" --fds-baseline "$FDS_BASE" || echo "(plot failed)" >&2
grep -h '^soak \|^RESULT' "$OUT/clients.log" "$OUT/fanout.log" "$OUT/churn.log" 2>/dev/null | tail -n 40 >"$OUT/summary.log" || true

limit=$(( RSS_WARM * 110 / 100 ))
verdict=PASS
[ "$RSS_END" -le "$limit" ] || verdict=FAIL
[ "$FDS_END" -le "$FDS_BASE" ] || verdict=FAIL
peak=$(awk -F, 'NR > 1 && $3 > max { max = $3 } END { print max + 0 }' "$CSV")
peak_fds=$(awk -F, 'NR > 1 && $4 > max { max = $4 } END { print max + 0 }' "$CSV")
echo
echo "soak ${SOAK_SECONDS}s: rss baseline ${RSS_BASE} KiB, after warm-up ${RSS_WARM} KiB, peak ${peak} KiB, end ${RSS_END} KiB (limit ${limit} KiB, $(( (RSS_END - RSS_WARM) * 100 / RSS_WARM )) % vs warm-up)"
echo "soak fds: baseline ${FDS_BASE}, after warm-up ${FDS_WARM}, peak ${peak_fds}, end ${FDS_END}; connections at end ${CONN_END:-?}, subscribers at end ${SUBS_END:-?}"
echo "soak CSV: $CSV  plot: $PNG"
echo "$verdict"
[ "$verdict" = PASS ]
