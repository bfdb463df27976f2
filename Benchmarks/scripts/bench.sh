#!/usr/bin/env bash
# The benchmark scenarios of `make bench` (Rill alone) and `make bench-compare` (Rill against
# the hubs a user would otherwise pick), with one harness, on one machine, printed as one table.
#
#   rill     rill-hub (Examples/Hub) on the in-memory broker, or on Redis for scenario redis
#   nchan    nginx, one worker, + the nchan module (Benchmarks/reference/nchan.conf)
#   fastapi  FastAPI on uvicorn --loop uvloop --http httptools, one worker
#            (Benchmarks/reference/fastapi_app.py)
# All three serve GET /stream?channel=NAME, POST /publish?channel=NAME (the body becomes the
# event's data) and GET /ping (a 4-byte text body; nginx serves it as a static file).
#
# Every server is pinned to CPU 0 and the harness (rill-load, or wrk for http) to CPU 1, so each
# figure is single-core; each scenario gets a fresh server and waits for a quiet machine first.
#
# The loops column: in the scenarios LOOPS_SCENARIOS (default "fanout http"), Rill also runs as
# rill-loopsN for each N in LOOPS (default "2 2c0"; empty: none): `rill-hub --loops N` on CPUs 0…N-1
# (so on a 2-core machine its second loop shares CPU 1 with the harness), beside `rill` (CPU 0,
# where the default is one loop; `--loops 1` when the binary knows the flag), with a column of
# ratios to it. For Rill the rows add each loop's share of the server's CPU (utime+stime of the
# threads named rill-loop-N, /proc/PID/task; the rest is its other threads), each loop's share
# of the connections (rill_loop_connections of /metrics once they are all open) and the
# harness's CPU. rill-loopsN may also be named in SERVERS, for any scenario. rill-loopsNc0 (in
# LOOPS as "Nc0") runs the N loops all on CPU 0, so the harness keeps CPU 1 to itself: its ratio
# to rill is what the loops themselves cost per operation (their coordination and the coalescing
# they lose), without the harness taking a loop's core — on a 2-core machine the only way to
# tell the two apart (Benchmarks/RESULTS.md, session 15).
#
# churn and http run in rounds, as an independent harness would: each round every server once,
# the order alternated (round 1: rill nchan, round 2: nchan rill, …), each a fresh server, a
# warm-up, then the measured run. The headline figure is the server's CPU (utime+stime of its
# process from /proc; nginx's worker) per operation in µs: the median of the rounds with the
# range (min-max), and the ratio of the medians. Rates are secondary: on this 2-core machine the
# harness's core is often the limit (HB), and a rate ratio then says little about the servers.
# The server measured first in a round and the one measured second need not see the same
# machine (a build starting meanwhile, the host's other tenants), which is why the order
# alternates; the per-round table at the end shows the position of every round, and the
# summary the medians as first and as second. Also per round: all of CPU 0 per operation (what a harness that reads
# the pinned core's busy time from /proc/stat reports), the warm-up's own µs per operation, and
# the share of CPU 0 that went to anything but the server (noise).
# Scenarios (SCENARIOS, default "idle fanout rate small churn http redis"):
#   idle    rill-load idle: IDLE_CONNECTIONS (19,000) streams held DURATION (30) s — alive, server
#           RSS per stream, server CPU in the hold, and the kernel's slab memory per socket
#           (/proc/slabinfo, both loopback ends counted; machine-wide, so a quiet machine only).
#           Rill sends a HEARTBEAT (10) s heartbeat and its run requires one per stream in the
#           hold; nchan and FastAPI send none.
#   fanout  rill-load fanout: FANOUT_CONNECTIONS (10,000) × FANOUT_EVENTS (200) back-to-back,
#           FANOUT_ROUNDS (3) rounds in alternating order, each a fresh server; every row is
#           the server's median round (by server CPU per delivery), with the range of that
#           figure beside it: single runs of one server spread ±15 % on this machine.
#           Every fan-out row also has Rill's own p99 of publish-to-write (its /metrics'
#           rill_delivery_latency_seconds, the last 5-10 s, read right after the run): the part
#           of the harness's latency that is the server's queue.
#   rate    the same streams at RATE (50) events/s for RATE_SECONDS (20) s — latency from each
#           event's slot in the schedule to its receipt, so a server that answers publishes late
#           pays for it (16 publish connections; publishing stops RATE_SECONDS + 20 s after the
#           first POST if the server falls behind)
#   small   SMALL_CONNECTIONS (100) × SMALL_EVENTS (20,000) back-to-back
#   churn   rill-load churn: CHURN_CONCURRENCY (50) in flight for CHURN_SECONDS (15) s: connect,
#           GET /stream (Host, Accept: text/event-stream, Cache-Control: no-cache, User-Agent),
#           read until the first SSE line (CHURN_UNTIL, line; byte: the first body byte), close
#           with a FIN; CHURN_ROUNDS (5) rounds, after CHURN_WARMUP (3) s of churn on each fresh
#           server
#   http    wrk -t1 -c HTTP_CONNECTIONS (64) for HTTP_SECONDS (8) s on GET /ping, HTTP_ROUNDS (5)
#           rounds, after HTTP_WARMUP (2) s of the same wrk on each fresh server
#   redis   the fanout scenario with Rill on a RedisBroker (a redis-server this script starts on
#           REDIS_PORT, 18379; Rill only)
#   tls-idle, tls-fanout   idle and fanout over HTTPS: one self-signed P-256 certificate made
#           here with openssl; rill-hub --tls-cert/--tls-key, nginx `listen … ssl` (TLS 1.2-1.3,
#           nginx's session defaults), uvicorn --ssl-certfile/--ssl-keyfile; rill-load --tls
#           (TLS 1.3 from RillTLS's client, no verification). The idle row's RSS per stream is
#           then what a TLS connection costs the server.
#   h2-idle   rill-load idle --h2: H2_IDLE_STREAMS (10,000) streams on H2_STREAMS (100) per
#           connection, held H2_IDLE_DURATION (12) s, then the same streams over HTTP/1.1 (one
#           connection each) on a fresh server, same transport, for reference (row "… HTTP/1.1").
#           The RSS per stream of the first run is what a stream multiplexed on an existing
#           connection costs.
#   h2-fanout rill-load fanout --h2: FANOUT_CONNECTIONS × FANOUT_EVENTS as the fanout row, the
#           streams H2_STREAMS per connection (the publisher stays HTTP/1.1), then the same over
#           HTTP/1.1 on a fresh server for reference.
#   h2-http h2load (Debian's nghttp2-client) -c H2_HTTP_CLIENTS (64) -m H2_HTTP_STREAMS (10) for
#           H2_HTTP_SECONDS (5) s on GET /ping, H2_HTTP_ROUNDS (3) rounds after H2_HTTP_WARMUP (2) s,
#           like the http row: server CPU per request is the headline.
#   The h2 rows speak HTTP/2 over TLS (ALPN h2, the self-signed certificate of the tls-* rows;
#   nginx `listen … ssl http2`, nginx 1.22's spelling of `http2 on`), or with H2_TLS=0 in
#   cleartext with prior knowledge (nginx `listen … http2`). FastAPI (uvicorn) has no HTTP/2:
#   it sits the h2 rows out.
#
#   Benchmarks/scripts/bench.sh                                  # what `make bench` runs
#   SCENARIOS="fanout http" LOOPS="2 2c0" Benchmarks/scripts/bench.sh  # one loop against two
#   SERVERS=rill-loops2 SCENARIOS=idle IDLE_CONNECTIONS=10000 Benchmarks/scripts/bench.sh
#   SERVERS="rill nchan fastapi" SCENARIOS="idle fanout rate small churn http" Benchmarks/scripts/bench.sh
#
# Environment: HUB and LOAD (the rill-hub and rill-load binaries, default .build/release/…),
# SERVERS (default rill), SCENARIOS, LOOPS and LOOPS_SCENARIOS (above), the counts above,
# PAYLOAD (event bytes, 64), RAMP (new streams per second, 2000), PORT (18095), FANOUT_TIMEOUT
# (300 s), QUIET_WAIT (60 s), NGINX,
# NCHAN_MODULE (/usr/lib/nginx/modules/ngx_nchan_module.so), NCHAN_CONF (the nginx config
# template, Benchmarks/reference/nchan.conf; another one to measure a setting), PYTHON (python3).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REFERENCE=$ROOT/Benchmarks/reference
HUB=${HUB:-$ROOT/.build/release/rill-hub}
LOAD=${LOAD:-$ROOT/.build/release/rill-load}
SERVERS=${SERVERS:-rill}
SCENARIOS=${SCENARIOS:-idle fanout rate small churn http redis tls-idle tls-fanout h2-idle h2-fanout h2-http}
LOOPS=${LOOPS-2 2c0}
LOOPS_SCENARIOS=${LOOPS_SCENARIOS:-fanout http}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-19000}
DURATION=${DURATION:-30}
FANOUT_CONNECTIONS=${FANOUT_CONNECTIONS:-10000}
FANOUT_EVENTS=${FANOUT_EVENTS:-200}
RATE=${RATE:-50}
RATE_SECONDS=${RATE_SECONDS:-20}
SMALL_CONNECTIONS=${SMALL_CONNECTIONS:-100}
SMALL_EVENTS=${SMALL_EVENTS:-20000}
CHURN_CONCURRENCY=${CHURN_CONCURRENCY:-50}
CHURN_SECONDS=${CHURN_SECONDS:-15}
CHURN_ROUNDS=${CHURN_ROUNDS:-5}
CHURN_WARMUP=${CHURN_WARMUP:-3}
CHURN_UNTIL=${CHURN_UNTIL:-line}
HTTP_CONNECTIONS=${HTTP_CONNECTIONS:-64}
HTTP_SECONDS=${HTTP_SECONDS:-8}
HTTP_ROUNDS=${HTTP_ROUNDS:-5}
HTTP_WARMUP=${HTTP_WARMUP:-2}
H2_TLS=${H2_TLS:-1}
H2_STREAMS=${H2_STREAMS:-100}
H2_IDLE_STREAMS=${H2_IDLE_STREAMS:-10000}
H2_IDLE_DURATION=${H2_IDLE_DURATION:-12}
H2_HTTP_CLIENTS=${H2_HTTP_CLIENTS:-64}
H2_HTTP_STREAMS=${H2_HTTP_STREAMS:-10}
H2_HTTP_SECONDS=${H2_HTTP_SECONDS:-5}
H2_HTTP_ROUNDS=${H2_HTTP_ROUNDS:-3}
FANOUT_ROUNDS=${FANOUT_ROUNDS:-3}
H2_HTTP_WARMUP=${H2_HTTP_WARMUP:-2}
H2LOAD=${H2LOAD:-h2load}
PAYLOAD=${PAYLOAD:-64}
HEARTBEAT=${HEARTBEAT:-10}
RAMP=${RAMP:-2000}
PORT=${PORT:-18095}
REDIS_PORT=${REDIS_PORT:-18379}
FANOUT_TIMEOUT=${FANOUT_TIMEOUT:-300}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}
NCHAN_CONF=${NCHAN_CONF:-$REFERENCE/nchan.conf}
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
SERVER_PID=
PROBE_PID=
REDIS_PID=
SCRAPER_PID=
# Whether the server started last runs on CPU 0 alone (the CPU 0 figures are then its core's).
SERVER_CPU0_ONLY=1
# Whether the next server speaks TLS (the tls-* scenarios), and the URL scheme that goes with it.
SERVER_TLS=0
SCHEME=http
# Whether the next server speaks HTTP/2 (the h2-* scenarios; only nginx needs telling).
SERVER_H2=0
TLS_DIR=$WORK/tls
cleanup() {
    if [ -n "$SCRAPER_PID" ]; then kill "$SCRAPER_PID" 2>/dev/null || true; fi
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
source "$HERE/common.sh"

for binary in "$HUB" "$LOAD"; do
    [ -x "$binary" ] || { echo "missing $binary: swift build -c release --product rill-hub (and rill-load)" >&2; exit 1; }
done
# An older rill-hub (a before/after run) has one loop and no --loops.
HUB_LOOPS=()
if "$HUB" --help 2>&1 | grep -q -- --loops; then HUB_LOOPS=(--loops 1); fi
# The servers inherit this shell's open-file limit (rill-load and rill-hub raise their own).
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
if [ "$NOFILE" = unlimited ]; then NOFILE=1048576; fi
for count in "$IDLE_CONNECTIONS" "$FANOUT_CONNECTIONS"; do
    if [ "$NOFILE" -lt $((count + 96)) ]; then
        echo "the open-file limit ($NOFILE) is below $count streams + 96; lower the connection counts" >&2
        exit 1
    fi
done

# use_tls 0|1: the next server (and rill-load) speak TLS or not; makes the certificate once.
use_tls() {
    SERVER_TLS=$1
    SCHEME=http
    [ "$SERVER_TLS" = 1 ] || return 0
    SCHEME=https
    if [ ! -f "$TLS_DIR/cert.pem" ]; then
        mkdir -p "$TLS_DIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
            -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" 2>/dev/null
        # nginx's master reads them as root; its worker never does.
        chmod a+rx "$WORK" "$TLS_DIR" && chmod a+r "$TLS_DIR"/*.pem
    fi
}

# start NAME CONNECTIONS [RILL ARGUMENTS…]: sets SERVER_PID (what to stop) and PROBE_PID (what
# rill-load samples for RSS and CPU).
start() {
    local name=$1 connections=$2
    shift 2
    wait_for_quiet
    # Something else listening on PORT (another bench.sh on this machine) would pass
    # wait_for_port below and take the load meant for this server.
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "something already listens on 127.0.0.1:$PORT (another benchmark?); set PORT to a free port" >&2
        return 1
    fi
    SERVER_CPU0_ONLY=1
    case $name in
    rill | rill-loops*)
        local cpus=0 loops=("${HUB_LOOPS[@]}")
        if [ "$name" != rill ]; then
            local count=${name#rill-loops} pinned=0
            if [[ $count == *c0 ]]; then count=${count%c0} pinned=1; fi
            [[ $count =~ ^[1-9][0-9]*$ ]] || { echo "unknown server $name (rill-loopsN or rill-loopsNc0, N ≥ 1)" >&2; exit 1; }
            [ ${#HUB_LOOPS[@]} -gt 0 ] || { echo "$HUB has no --loops" >&2; exit 1; }
            loops=(--loops "$count")
            local cores=$count
            if [ "$cores" -gt "$(nproc)" ]; then cores=$(nproc); fi
            if [ "$cores" -gt 1 ] && [ "$pinned" = 0 ]; then
                cpus=0-$((cores - 1))
                SERVER_CPU0_ONLY=0
            fi
        fi
        local tls=()
        if [ "$SERVER_TLS" = 1 ]; then tls=(--tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem"); fi
        taskset -c "$cpus" "$HUB" --host 127.0.0.1 --port "$PORT" --heartbeat "$HEARTBEAT" "${loops[@]}" \
            --max-connections $((connections + 500)) "${tls[@]}" "$@" >"$WORK/server-$name.log" 2>&1 &
        SERVER_PID=$!
        PROBE_PID=$SERVER_PID
        ;;
    nchan)
        local dir="$WORK/nginx"
        # worker_connections at 2 × the streams: with 1 × + 500, nginx logs "worker_connections
        # are not enough, reusing connections" at 10,000 nchan subscribers and ~1 % of them fail.
        nginx_nchan_setup "$dir" "$NCHAN_CONF" "$NCHAN_MODULE" "$PORT" $((2 * connections + 500)) "$NOFILE"
        if [ "$SERVER_TLS" = 1 ]; then
            sed -i -e "s|listen 127.0.0.1:$PORT backlog=4096;|listen 127.0.0.1:$PORT ssl backlog=4096; ssl_certificate $TLS_DIR/cert.pem; ssl_certificate_key $TLS_DIR/key.pem; ssl_protocols TLSv1.2 TLSv1.3;|" \
                "$dir/nginx.conf"
        fi
        if [ "$SERVER_H2" = 1 ]; then sed -i -e "s|listen 127.0.0.1:$PORT |listen 127.0.0.1:$PORT http2 |" "$dir/nginx.conf"; fi
        taskset -c 0 "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$WORK/server-$name.log" 2>&1 &
        SERVER_PID=$!
        ;;
    fastapi)
        local tls=()
        if [ "$SERVER_TLS" = 1 ]; then tls=(--ssl-certfile "$TLS_DIR/cert.pem" --ssl-keyfile "$TLS_DIR/key.pem"); fi
        (cd "$REFERENCE" && exec taskset -c 0 "$PYTHON" -m uvicorn fastapi_app:app --host 127.0.0.1 --port "$PORT" \
            --loop uvloop --http httptools --workers 1 --no-access-log --log-level warning \
            --backlog 4096 "${tls[@]}") >"$WORK/server-$name.log" 2>&1 &
        SERVER_PID=$!
        PROBE_PID=$SERVER_PID
        ;;
    *) echo "unknown server $name (rill, nchan or fastapi)" >&2; exit 1 ;;
    esac
    wait_for_port "$PORT" || { cat "$WORK/server-$name.log" >&2; return 1; }
    if [ "$name" = nchan ]; then
        # The worker does the work; the master only supervises. Sample the worker, which the
        # master forks after it listens: on a busy machine pgrep can run first and find none
        # (under pipefail that ended the whole script, silently).
        PROBE_PID=
        for _ in $(seq 1 50); do
            PROBE_PID=$(pgrep -P "$SERVER_PID" | head -1 || true)
            if [ -n "$PROBE_PID" ]; then break; fi
            sleep 0.1
        done
        [ -n "$PROBE_PID" ] || { echo "nginx started no worker" >&2; cat "$WORK/nginx/error.log" >&2; return 1; }
    fi
    sleep 1
}

stop() {
    if [ -n "$SCRAPER_PID" ]; then
        kill "$SCRAPER_PID" 2>/dev/null || true
        wait "$SCRAPER_PID" 2>/dev/null || true
        SCRAPER_PID=
    fi
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    sleep 3   # let this run's sockets go before the next server binds the port
}

declare -A FIG
RESULTS=()
# field LINE NAME: one key=value of a RESULT line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# scrape_loops NAME MIN: for a Rill server, polls its /metrics in the background (from CPU 1,
# every 0.25 s, for at most 10 minutes) until at least MIN connections are open, the scrape's own
# included, then writes each loop's connections (rill_loop_connections, comma-separated in loop
# order) to $WORK/loops; loop_connections reads it once the run is over.
scrape_loops() {
    rm -f "$WORK/loops"
    case $1 in rill | rill-loops*) ;; *) return 0 ;; esac
    local min=$2
    (
        for _ in $(seq 1 2400); do
            metrics=$(taskset -c 1 curl -sk --http1.1 --max-time 5 "$SCHEME://127.0.0.1:$PORT/metrics" || true)
            # Prometheus writes gauges as decimals ("17.0"): the shell compares integers.
            total=$(awk '$1 == "rill_connections" { printf "%d\n", $2 }' <<<"$metrics")
            if [ -n "$total" ] && [ "$total" -ge "$min" ]; then
                awk '/^rill_loop_connections\{loop="[0-9]+"\} / {
                        split($1, part, "\""); v[part[2]] = sprintf("%d", $2); if (part[2] + 1 > n) n = part[2] + 1 }
                    END { for (i = 0; i < n; i++) printf "%s%s", (i ? "," : ""), v[i]; print "" }' \
                    <<<"$metrics" >"$WORK/loops.part"
                mv "$WORK/loops.part" "$WORK/loops"
                exit 0
            fi
            sleep 0.25
        done
    ) &
    SCRAPER_PID=$!
}
# loop_connections: what scrape_loops found ("5012,4989"), NA if nothing (yet, or not Rill, or a
# hub without per-loop metrics).
loop_connections() {
    local found
    found=$(cat "$WORK/loops" 2>/dev/null || true)
    echo "${found:-NA}"
}

# run_load NAME KEY MODE ARGUMENTS…: runs rill-load against the server started last, keeps its
# RESULT line as "RESULT scenario=KEY server=NAME …".
run_load() {
    local name=$1 key=$2 mode=$3
    shift 3
    echo "[$key/$name] rill-load $mode $* --server-pid $PROBE_PID" >&2
    taskset -c 1 "$LOAD" "$mode" "$@" --server-pid "$PROBE_PID" | tee "$WORK/$key-$name.out" || true
    local connections server_p99
    connections=$(loop_connections)
    server_p99=$(server_latency_p99)
    stop
    local r
    r=$(grep "^RESULT mode=$mode" "$WORK/$key-$name.out" | tail -1 || true)
    RESULTS+=("RESULT scenario=$key server=$name ${r#RESULT mode=$mode } loop_connections=$connections server_p99_ms=$server_p99")
}

# server_latency_p99: a Rill server's own publish-to-write p99 over the last 5-10 s
# (rill_delivery_latency_seconds{quantile="0.99"} of /metrics, in ms), read right after a run;
# NA for other servers, or a hub without the metric.
server_latency_p99() {
    local metrics
    metrics=$(taskset -c 1 curl -sk --http1.1 --max-time 5 "$SCHEME://127.0.0.1:$PORT/metrics" 2>/dev/null || true)
    awk '$1 == "rill_delivery_latency_seconds{quantile=\"0.99\"}" { printf "%.1f\n", $2 * 1000; found = 1 }
         END { if (!found) print "NA" }' <<<"$metrics"
}

# run_idle NAME [KEY]: KEY idle (plain) or tls-idle.
run_idle() {
    local name=$1 key=${2:-idle} hb=()
    case $name in rill | rill-loops*) hb=(--expect-heartbeat "$HEARTBEAT") ;; esac
    use_tls "$([ "$key" = tls-idle ] && echo 1 || echo 0)"
    start "$name" "$IDLE_CONNECTIONS"
    scrape_loops "$name" $((IDLE_CONNECTIONS + 1))
    run_load "$name" "$key" idle -c "$IDLE_CONNECTIONS" -d "$DURATION" --ramp "$RAMP" "${hb[@]}" \
        "$SCHEME://127.0.0.1:$PORT/stream?channel=idle"
    use_tls 0
}

# run_fanout NAME KEY CONNECTIONS EVENTS [RATE] [-- RILL ARGUMENTS…]
run_fanout() {
    local name=$1 key=$2 connections=$3 events=$4 rate=${5:-}
    shift 5
    local rate_args=(--timeout "$FANOUT_TIMEOUT")
    if [ -n "$rate" ]; then rate_args=(--rate "$rate" --timeout $((RATE_SECONDS + 20))); fi
    use_tls "$([ "$key" = tls-fanout ] && echo 1 || echo 0)"
    start "$name" "$connections" "$@"
    scrape_loops "$name" $((connections + 1))
    run_load "$name" "$key" fanout -c "$connections" --events "$events" "${rate_args[@]}" --payload-bytes "$PAYLOAD" \
        --ramp "$RAMP" --publish "$SCHEME://127.0.0.1:$PORT/publish?channel=bench" "$SCHEME://127.0.0.1:$PORT/stream?channel=bench"
    use_tls 0
}

# median_fanout_rounds: the fanout scenario ran FANOUT_ROUNDS times per server; keeps each
# server's median round (by server CPU per delivery; the lower middle of an even count) as its
# figures, and the range of that figure over the rounds as FIG[fanout_us_range,NAME].
median_fanout_rounds() {
    local kept=() line name
    declare -A rounds=()
    for line in "${RESULTS[@]}"; do
        if [ "$(field "$line" scenario)" = fanout ]; then
            name=$(field "$line" server)
            rounds[$name]+="$(field "$line" server_us_per_delivery) ${#kept[@]}"$'\n'
        fi
        kept+=("$line")
    done
    local median=() index count
    for name in "${!rounds[@]}"; do
        count=$(grep -c . <<<"${rounds[$name]}")
        index=$(grep . <<<"${rounds[$name]}" | sort -g | sed -n "$(((count + 1) / 2))p" | cut -d' ' -f2)
        median+=("$index")
        FIG[fanout_us_range,$name]=$(grep . <<<"${rounds[$name]}" | cut -d' ' -f1 | sort -g | sed -n '1p;$p' | paste -sd-)
        FIG[fanout_rounds,$name]=$count
    done
    RESULTS=()
    local i
    for i in "${!kept[@]}"; do
        if [ "$(field "${kept[$i]}" scenario)" = fanout ] && [[ " ${median[*]} " != *" $i "* ]]; then continue; fi
        RESULTS+=("${kept[$i]}")
    done
}

# h2_supported NAME: whether the server speaks HTTP/2 (uvicorn does not).
h2_supported() { [ "$1" != fastapi ]; }

# run_h2_idle NAME: idle streams over HTTP/2 (h2-idle), then the same count over HTTP/1.1 on the
# same transport (h2-idle-h1).
run_h2_idle() {
    local name=$1 hb=() url
    case $name in rill | rill-loops*) hb=(--expect-heartbeat "$HEARTBEAT") ;; esac
    use_tls "$H2_TLS"
    url="$SCHEME://127.0.0.1:$PORT/stream?channel=idle"
    SERVER_H2=1
    start "$name" "$H2_IDLE_STREAMS"
    SERVER_H2=0
    scrape_loops "$name" $(((H2_IDLE_STREAMS + H2_STREAMS - 1) / H2_STREAMS + 1))
    run_load "$name" h2-idle idle -c "$H2_IDLE_STREAMS" -d "$H2_IDLE_DURATION" --ramp "$RAMP" "${hb[@]}" \
        --h2 --streams-per-connection "$H2_STREAMS" "$url"
    start "$name" "$H2_IDLE_STREAMS"
    scrape_loops "$name" $((H2_IDLE_STREAMS + 1))
    run_load "$name" h2-idle-h1 idle -c "$H2_IDLE_STREAMS" -d "$H2_IDLE_DURATION" --ramp "$RAMP" "${hb[@]}" "$url"
    use_tls 0
}

# run_h2_fanout NAME: the fanout scenario over HTTP/2 (h2-fanout), then over HTTP/1.1 on the
# same transport (h2-fanout-h1).
run_h2_fanout() {
    local name=$1 base
    use_tls "$H2_TLS"
    base="$SCHEME://127.0.0.1:$PORT"
    local fanout=(fanout -c "$FANOUT_CONNECTIONS" --events "$FANOUT_EVENTS" --timeout "$FANOUT_TIMEOUT" --payload-bytes "$PAYLOAD"
        --ramp "$RAMP" --publish "$base/publish?channel=bench")
    SERVER_H2=1
    start "$name" "$FANOUT_CONNECTIONS"
    SERVER_H2=0
    scrape_loops "$name" $(((FANOUT_CONNECTIONS + H2_STREAMS - 1) / H2_STREAMS + 1))
    run_load "$name" h2-fanout "${fanout[@]}" --h2 --streams-per-connection "$H2_STREAMS" "$base/stream?channel=bench"
    start "$name" "$FANOUT_CONNECTIONS"
    scrape_loops "$name" $((FANOUT_CONNECTIONS + 1))
    run_load "$name" h2-fanout-h1 "${fanout[@]}" "$base/stream?channel=bench"
    use_tls 0
}

# run_h2_http NAME ROUND POSITION: one h2load round of one server (warm-up, then the measured
# run), measured as run_http measures wrk.
run_h2_http() {
    local name=$1 round=$2 position=$3 url
    use_tls "$H2_TLS"
    url="$SCHEME://127.0.0.1:$PORT/ping"
    local h2load=("$H2LOAD" -c "$H2_HTTP_CLIENTS" -m "$H2_HTTP_STREAMS")
    SERVER_H2=1
    start "$name" "$H2_HTTP_CLIENTS"
    SERVER_H2=0
    local before after out warm=NA
    # h2load's count of requests answered 2xx-3xx ("N succeeded").
    succeeded() { sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$1"; }
    if [ "$H2_HTTP_WARMUP" != 0 ]; then
        before=$(cpu_sample "$PROBE_PID")
        out=$(taskset -c 1 "${h2load[@]}" -D "$H2_HTTP_WARMUP" "$url" 2>&1 || true)
        after=$(cpu_sample "$PROBE_PID")
        warm=$(field " $(cpu_figures "$before" "$after" "$(succeeded "$out")")" us_per_op)
    fi
    echo "[h2-http/$name round $round, #$position] ${h2load[*]} -D $H2_HTTP_SECONDS $url" >&2
    before=$(cpu_sample "$PROBE_PID")
    out=$(cpu_of "$WORK/h2load-cpu" taskset -c 1 "${h2load[@]}" -D "$H2_HTTP_SECONDS" "$url" 2>&1 || true)
    after=$(cpu_sample "$PROBE_PID")
    echo "$out" | grep -E '^(finished|requests|status codes|Application protocol)' >&2 || echo "$out" >&2
    stop
    use_tls 0
    local requests rps failed protocol cpu harness
    requests=$(succeeded "$out")
    rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
    failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$out")
    protocol=$(sed -n 's/^Application protocol: *//p' <<<"$out")
    harness=$(cat "$WORK/h2load-cpu" 2>/dev/null || echo NA)
    cpu=$(cpu_figures "$before" "$after" "${requests:-0}" "$harness")
    RESULTS+=("RESULT scenario=h2-http server=$name round=$round position=$position requests=${requests:-0} requests_per_s=${rps:-NA} rate=${rps:-NA} $cpu warmup_us_per_op=${warm:-NA} duration_s=$H2_HTTP_SECONDS clients=$H2_HTTP_CLIENTS streams_per_client=$H2_HTTP_STREAMS failed=${failed:-NA} alpn=${protocol:-NA} harness_cpu_s=$harness harness_us_per_op=$(awk -v h="$harness" -v n="${requests:-0}" 'BEGIN { if (h ~ /^[0-9.]+$/ && n > 0) printf "%.2f", h * 1e6 / n; else print "NA" }')")
}

# run_churn NAME ROUND POSITION: one churn round of one server (warm-up, then the measured run).
run_churn() {
    local name=$1 round=$2 position=$3 url="http://127.0.0.1:$PORT/stream?channel=churn" warm=NA
    local churn=(churn -c "$CHURN_CONCURRENCY" --until "$CHURN_UNTIL")
    start "$name" "$CHURN_CONCURRENCY"
    if [ "$CHURN_WARMUP" != 0 ]; then
        warm=$(taskset -c 1 "$LOAD" "${churn[@]}" -d "$CHURN_WARMUP" --quiet --server-pid "$PROBE_PID" "$url" |
            sed -n 's/^RESULT .* server_cpu_us_per_conn=\([^ ]*\).*/\1/p' || true)
    fi
    echo "[churn/$name round $round, #$position] rill-load ${churn[*]} -d $CHURN_SECONDS --server-pid $PROBE_PID $url" >&2
    local before after r
    before=$(cpu_sample "$PROBE_PID")
    taskset -c 1 "$LOAD" "${churn[@]}" -d "$CHURN_SECONDS" --server-pid "$PROBE_PID" "$url" | tee "$WORK/churn-$name-$round.out" || true
    after=$(cpu_sample "$PROBE_PID")
    stop
    r=$(grep "^RESULT mode=churn" "$WORK/churn-$name-$round.out" | tail -1 || true)
    # us_per_op: rill-load's own server figure (sampled over exactly its run); the CPU 0 fields
    # from the samples around it.
    local cpu
    cpu=$(cpu_figures "$before" "$after" "$(field "$r" cycles)" | sed 's/server_cpu_s=[^ ]* us_per_op=[^ ]* //')
    RESULTS+=("RESULT scenario=churn server=$name round=$round position=$position ${r#RESULT mode=churn } us_per_op=$(field "$r" server_cpu_us_per_conn) rate=$(field "$r" connections_per_s) warmup_us_per_op=${warm:-NA} $cpu")
}

# run_http NAME ROUND POSITION: one plain-HTTP round of one server (warm-up, then the measured run).
run_http() {
    local name=$1 round=$2 position=$3 url="http://127.0.0.1:$PORT/ping"
    local wrk=(wrk -t1 -c"$HTTP_CONNECTIONS")
    start "$name" "$HTTP_CONNECTIONS"
    local before after out warm=NA
    if [ "$HTTP_WARMUP" != 0 ]; then
        before=$(cpu_sample "$PROBE_PID")
        out=$(taskset -c 1 "${wrk[@]}" -d"${HTTP_WARMUP}s" "$url")
        after=$(cpu_sample "$PROBE_PID")
        warm=$(field " $(cpu_figures "$before" "$after" "$(awk '/requests in/ {print $1}' <<<"$out")")" us_per_op)
    fi
    echo "[http/$name round $round, #$position] ${wrk[*]} -d${HTTP_SECONDS}s $url" >&2
    scrape_loops "$name" $((HTTP_CONNECTIONS + 1))
    local loops_before loops_after
    before=$(cpu_sample "$PROBE_PID")
    loops_before=$(loop_cpu_sample "$PROBE_PID")
    out=$(cpu_of "$WORK/wrk-cpu" taskset -c 1 "${wrk[@]}" -d"${HTTP_SECONDS}s" "$url")
    after=$(cpu_sample "$PROBE_PID")
    loops_after=$(loop_cpu_sample "$PROBE_PID")
    echo "$out" >&2
    local connections
    connections=$(loop_connections)
    stop
    local requests rps errors cpu harness
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr -s ' ' | tr ' ' '_')
    harness=$(cat "$WORK/wrk-cpu" 2>/dev/null || echo NA)
    cpu=$(cpu_figures "$before" "$after" "${requests:-0}" "$harness")
    # A server on more cores than CPU 0: CPU 0's figures are not its core's.
    if [ "$SERVER_CPU0_ONLY" = 0 ]; then cpu=$(sed -E 's/(cpu0_[a-z_]+)=[^ ]*/\1=NA/g' <<<"$cpu"); fi
    RESULTS+=("RESULT scenario=http server=$name round=$round position=$position requests=${requests:-0} requests_per_s=${rps:-NA} rate=${rps:-NA} $cpu warmup_us_per_op=${warm:-NA} duration_s=$HTTP_SECONDS connections=$HTTP_CONNECTIONS errors=${errors:-none} harness_cpu_s=$harness harness_us_per_op=$(awk -v h="$harness" -v n="${requests:-0}" 'BEGIN { if (h ~ /^[0-9.]+$/ && n > 0) printf "%.2f", h * 1e6 / n; else print "NA" }') server_loop_cpu_s=$(loop_cpu_seconds "$loops_before" "$loops_after") loop_connections=$connections")
}

run_redis() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
        --loglevel warning >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_for_port "$REDIS_PORT"
    run_fanout rill redis "$FANOUT_CONNECTIONS" "$FANOUT_EVENTS" "" --redis "redis://127.0.0.1:$REDIS_PORT/0"
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
}

# round_order ROUND NAMES: NAMES in order on odd rounds, reversed on even ones.
round_order() {
    local names
    read -r -a names <<<"$2"
    if [ $(($1 % 2)) -eq 0 ]; then
        for ((i = ${#names[@]} - 1; i >= 0; i--)); do echo "${names[$i]}"; done
    else
        printf '%s\n' "${names[@]}"
    fi
}

# The loops column: rill-loopsN for each N in LOOPS, in LOOPS_SCENARIOS, when Rill runs.
VARIANTS=()
if [[ " $SERVERS " == *" rill "* ]]; then
    for count in $LOOPS; do
        if [[ " $SERVERS " != *" rill-loops$count "* ]]; then VARIANTS+=("rill-loops$count"); fi
    done
fi
# scenario_servers SCENARIO: SERVERS, and the loops column's servers in LOOPS_SCENARIOS.
scenario_servers() {
    if [ ${#VARIANTS[@]} -gt 0 ] && [[ " $LOOPS_SCENARIOS " == *" $1 "* ]]; then
        echo "$SERVERS ${VARIANTS[*]}"
    else echo "$SERVERS"; fi
}
COLUMNS_USED=$SERVERS
for scenario in $SCENARIOS; do
    if [ "$(scenario_servers "$scenario")" != "$SERVERS" ]; then COLUMNS_USED="$SERVERS ${VARIANTS[*]}"; fi
done

for scenario in $SCENARIOS; do
    if [ "$scenario" = churn ] || [ "$scenario" = http ] || [ "$scenario" = h2-http ]; then
        rounds=$CHURN_ROUNDS
        if [ "$scenario" = http ]; then rounds=$HTTP_ROUNDS; fi
        if [ "$scenario" = h2-http ]; then rounds=$H2_HTTP_ROUNDS; fi
        for ((round = 1; round <= rounds; round++)); do
            position=0
            for name in $(round_order "$round" "$(scenario_servers "$scenario")"); do
                if [ "$scenario" = h2-http ] && ! h2_supported "$name"; then continue; fi
                position=$((position + 1))
                "run_${scenario//-/_}" "$name" "$round" "$position"
            done
        done
        continue
    fi
    if [ "$scenario" = fanout ]; then
        for ((round = 1; round <= FANOUT_ROUNDS; round++)); do
            for name in $(round_order "$round" "$(scenario_servers fanout)"); do
                run_fanout "$name" fanout "$FANOUT_CONNECTIONS" "$FANOUT_EVENTS" ""
            done
        done
        continue
    fi
    for name in $(scenario_servers "$scenario"); do
        if [[ $scenario == h2-* ]] && ! h2_supported "$name"; then continue; fi
        case $scenario in
        idle) run_idle "$name" ;;
        fanout) run_fanout "$name" fanout "$FANOUT_CONNECTIONS" "$FANOUT_EVENTS" "" ;;
        rate) run_fanout "$name" rate "$FANOUT_CONNECTIONS" $((RATE * RATE_SECONDS)) "$RATE" ;;
        small) run_fanout "$name" small "$SMALL_CONNECTIONS" "$SMALL_EVENTS" "" ;;
        redis) if [ "$name" = rill ]; then run_redis; fi ;;
        tls-idle) run_idle "$name" tls-idle ;;
        tls-fanout) run_fanout "$name" tls-fanout "$FANOUT_CONNECTIONS" "$FANOUT_EVENTS" "" ;;
        h2-idle) run_h2_idle "$name" ;;
        h2-fanout) run_h2_fanout "$name" ;;
        *) echo "unknown scenario $scenario (idle fanout rate small churn http redis tls-idle tls-fanout h2-idle h2-fanout h2-http)" >&2; exit 1 ;;
        esac
    done
done

# churn and http ran in rounds: their figures are the medians of the rounds, with the range.
# values SCENARIO SERVER FIELD [POSITION]: FIELD of each of the server's rounds, one a line.
values() {
    local line
    for line in "${RESULTS[@]}"; do
        [ "$(field "$line" scenario)" = "$1" ] && [ "$(field "$line" server)" = "$2" ] || continue
        if [ -n "${4:-}" ] && [ "$(field "$line" position)" != "$4" ]; then continue; fi
        field "$line" "$3"
    done
}
# median_range FORMAT: numbers on stdin -> "MEDIAN MIN-MAX COUNT" (median of an even count: the
# mean of the middle two), or "NA NA 0".
median_range() {
    sort -g | awk -v f="$1" '/^[0-9.]+$/ { v[n++] = $1 } END {
        if (!n) { print "NA NA 0"; exit }
        m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
        printf f " " f "-" f " %d\n", m, v[0], v[n - 1], n }'
}
for scenario in churn http h2-http; do
    for name in $COLUMNS_USED; do
        read -r median range count < <(values "$scenario" "$name" us_per_op | median_range %.2f)
        [ "$count" -gt 0 ] || continue
        FIG[${scenario}_us,$name]=$median
        FIG[${scenario}_us_range,$name]=$range
        read -r median range _ < <(values "$scenario" "$name" rate | median_range %.0f)
        FIG[${scenario}_rate,$name]=$median
        FIG[${scenario}_rate_range,$name]=$range
        FIG[${scenario}_cpu0,$name]=$(values "$scenario" "$name" cpu0_us_per_op | median_range %.2f | cut -d' ' -f1)
        FIG[${scenario}_warm,$name]=$(values "$scenario" "$name" warmup_us_per_op | median_range %.2f | cut -d' ' -f1)
        FIG[${scenario}_other,$name]=$(values "$scenario" "$name" cpu0_other_pct | median_range %.0f | cut -d' ' -f2)
        first=$(values "$scenario" "$name" us_per_op 1 | median_range %.2f | cut -d' ' -f1)
        second=$(values "$scenario" "$name" us_per_op 2 | median_range %.2f | cut -d' ' -f1)
        FIG[${scenario}_position,$name]="$first/$second"
    done
done
# h2-http: the harness (h2load) CPU per request, median.
for name in $COLUMNS_USED; do
    [ -n "${FIG[h2-http_us,$name]:-}" ] || continue
    FIG[h2-http_harness,$name]=$(values h2-http "$name" harness_us_per_op | median_range %.2f | cut -d' ' -f1)
    FIG[h2-http_failed,$name]=$(values h2-http "$name" failed | awk '{ n += $1 } END { print n + 0 }')
    FIG[h2-http_alpn,$name]=$(values h2-http "$name" alpn | sort -u | paste -sd/)
done
# http, per Rill server: the rounds' loop CPU and connections added up, as shares; the harness
# (wrk) CPU per request, median.
for name in $COLUMNS_USED; do
    [ -n "${FIG[http_us,$name]:-}" ] || continue
    FIG[http_harness,$name]=$(values http "$name" harness_us_per_op | median_range %.2f | cut -d' ' -f1)
    FIG[http_machine_other,$name]=$(values http "$name" machine_other_pct | median_range %.0f | cut -d' ' -f2)
    loop_cpu="" server_cpu=0 conns=""
    for line in "${RESULTS[@]}"; do
        [ "$(field "$line" scenario)" = http ] && [ "$(field "$line" server)" = "$name" ] || continue
        loop_cpu=$(csv_add "$loop_cpu" "$(field "$line" server_loop_cpu_s)")
        server_cpu=$(awk -v a="$server_cpu" -v b="$(field "$line" server_cpu_s)" 'BEGIN { print (b ~ /^[0-9.]+$/ && a != "NA") ? a + b : "NA" }')
        conns=$(csv_add "$conns" "$(field "$line" loop_connections)")
    done
    FIG[http_loop_cpu,$name]=$(shares "${loop_cpu:-NA}" "$server_cpu")
    FIG[http_loop_conns,$name]=$(shares "${conns:-NA}")
done
# The churn rows besides the medians: failures summed, first-line p99 and CPU as medians, the
# harness-bound mark when the median round was.
for name in $COLUMNS_USED; do
    [ -n "${FIG[churn_us,$name]:-}" ] || continue
    FIG[churn_failures,$name]=$(values churn "$name" failures | awk '{ n += $1 } END { print n + 0 }')
    FIG[churn_p99,$name]=$(values churn "$name" first_byte_p99_ms | median_range %.2f | cut -d' ' -f1)
    server=$(values churn "$name" server_cpu_s | median_range %.2f | cut -d' ' -f1)
    harness=$(values churn "$name" harness_cpu_s | median_range %.2f | cut -d' ' -f1)
    bound=""
    # The harness-bound mark, as rill-load's fan-out gives it: its CPU ≥ 85 % of the run.
    if awk -v h="$harness" -v d="$CHURN_SECONDS" 'BEGIN { exit !(d > 0 && h / d >= 0.85) }'; then bound=" HB"; fi
    FIG[churn_cpu,$name]="$server/$harness$bound"
done

ALL_RESULTS=("${RESULTS[@]}")
median_fanout_rounds
kept=()
for line in "${RESULTS[@]}"; do
    case $(field "$line" scenario) in churn | http | h2-http) ;; *) kept+=("$line") ;; esac
done
RESULTS=("${kept[@]}")
# The figures, from the RESULT lines (the one place that knows the field names).
for line in "${RESULTS[@]}"; do
    name=$(field "$line" server)
    key=$(field "$line" scenario)
    bound=""
    if [ "$(field "$line" harness_bound)" = 1 ]; then bound=" HB"; fi
    if [ "$(field "$line" timed_out)" = 1 ]; then bound+=" TO"; fi
    other=$(field "$line" other_cpu_pct)
    if [[ "$other" =~ ^[0-9]+$ ]] && [ "$other" -gt 20 ]; then bound+=" SH"; fi
    case $key in
    idle | tls-idle | h2-idle | h2-idle-h1)
        FIG[${key}_alive,$name]="$(field "$line" alive)/$(field "$line" connections)"
        FIG[${key}_rss,$name]=$(field "$line" rss_per_conn_bytes)
        FIG[${key}_kernel,$name]=$(field "$line" kernel_slab_bytes_per_socket)
        FIG[${key}_cpu,$name]=$(field "$line" server_cpu_idle_s)
        FIG[${key}_harness,$name]=$(field "$line" harness_cpu_s)
        FIG[${key}_loop_conns,$name]=$(shares "$(field "$line" loop_connections)")
        FIG[${key}_tcp_mem,$name]="$(field "$line" tcp_buffer_pages_before)/$(field "$line" tcp_buffer_pages_end)" ;;
    fanout|rate|small|redis|tls-fanout|h2-fanout|h2-fanout-h1)
        FIG[${key}_delivered,$name]="$(field "$line" delivered)/$(field "$line" expected)"
        FIG[${key}_gaps,$name]="$(field "$line" gaps)/$(field "$line" duplicates)"
        FIG[${key}_rate,$name]=$(field "$line" deliveries_per_s)
        FIG[${key}_p50,$name]=$(field "$line" latency_p50_ms)
        FIG[${key}_p99,$name]=$(field "$line" latency_p99_ms)
        FIG[${key}_server_p99,$name]=$(field "$line" server_p99_ms)
        FIG[${key}_us,$name]=$(field "$line" server_us_per_delivery)
        FIG[${key}_late,$name]="$(field "$line" acked)/$(field "$line" late)"
        FIG[${key}_busy,$name]="$(field "$line" server_busy_pct)/$(field "$line" harness_busy_pct)$bound"
        FIG[${key}_harness,$name]=$(field "$line" harness_cpu_s)
        FIG[${key}_loop_cpu,$name]=$(shares "$(field "$line" server_loop_cpu_s)" "$(field "$line" server_cpu_s)")
        FIG[${key}_loop_conns,$name]=$(shares "$(field "$line" loop_connections)") ;;
    esac
done

ratio() {  # Rill / reference, or -
    awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}
refs=()
for name in $SERVERS; do case $name in rill | rill-loops*) ;; *) refs+=("$name") ;; esac; done
# The loops column's ratios: each rill-loopsN against rill (one loop, on CPU 0).
loop_ratios=()
for name in $COLUMNS_USED; do
    if [[ $name == rill-loops* ]] && [[ " $COLUMNS_USED " == *" rill "* ]]; then loop_ratios+=("$name"); fi
done
header=$(printf '%-50s %-7s' "figure" "better")
for name in $COLUMNS_USED; do header+=$(printf ' %18s' "$name"); done
for ref in "${refs[@]}"; do header+=$(printf ' %11s' "rill/$ref"); done
for name in "${loop_ratios[@]}"; do header+=$(printf ' %13s' "${name#rill-}/1"); done
row() {  # KEY LABEL BETTER RATIO(yes/no)
    local key=$1 label=$2 better=$3 want=$4 out
    out=$(printf '%-50s %-7s' "$label" "$better")
    for name in $COLUMNS_USED; do out+=$(printf ' %18s' "${FIG[$key,$name]:-NA}"); done
    for ref in "${refs[@]}"; do
        if [ "$want" = yes ]; then
            out+=$(printf ' %11s' "$(ratio "${FIG[$key,rill]:-}" "${FIG[$key,$ref]:-}")")
        else out+=$(printf ' %11s' "-"); fi
    done
    for name in "${loop_ratios[@]}"; do
        if [ "$want" = yes ]; then
            out+=$(printf ' %13s' "$(ratio "${FIG[$key,$name]:-}" "${FIG[$key,rill]:-}")")
        else out+=$(printf ' %13s' "-"); fi
    done
    echo "$out"
}
# loop_rows SCENARIO LABEL: each loop's share of the server's CPU and of the connections (Rill).
loop_rows() {
    row "$1_loop_cpu" "$2: each loop's % of server CPU" - no
    row "$1_loop_conns" "$2: each loop's % of the connections" - no
}
idle_rows() {  # KEY LABEL [STREAMS SECONDS]
    row "$1_alive" "$2 ${3:-$IDLE_CONNECTIONS} streams ${4:-$DURATION} s: alive" higher no
    row "$1_rss" "$2: server RSS per stream (B)" lower yes
    row "$1_kernel" "$2: kernel slab per socket (B, machine-wide)" - no
    row "$1_cpu" "$2: server CPU in the hold (s; heartbeats)" lower no
    row "$1_harness" "$2: harness CPU, ramp + hold (s)" - no
    row "$1_tcp_mem" "$2: sockstat TCP mem pages before/after" - no
    row "$1_loop_conns" "$2: each loop's % of the connections" - no
}
fanout_rows() {  # KEY LABEL
    row "$1_delivered" "$2: delivered" higher no
    row "$1_gaps" "$2: gaps/duplicates" lower no
    row "$1_rate" "$2: deliveries/s" higher yes
    row "$1_p50" "$2: latency p50 (ms)" lower yes
    row "$1_p99" "$2: latency p99 (ms)" lower yes
    row "$1_server_p99" "$2: server p99 publish-write (ms)" lower no
    row "$1_us" "$2: server CPU µs per delivery" lower yes
    if [ "$1" = fanout ]; then
        row fanout_us_range "$2: µs per delivery, min-max of $FANOUT_ROUNDS rounds" - no
    fi
    row "$1_late" "$2: publishes answered/late" - no
    row "$1_busy" "$2: busy % server/harness" - no
    row "$1_harness" "$2: harness CPU in the publish phase (s)" - no
    loop_rows "$1" "$2"
}
round_rows() {  # SCENARIO LABEL UNIT RATE ROUNDS
    row "$1_us" "$2: server CPU µs per $3, median of $5" lower yes
    row "$1_us_range" "$2: server CPU µs per $3, min-max" - no
    row "$1_position" "$2: µs per $3, median as 1st/2nd in round" - no
    row "$1_rate" "$2: $4, median" higher yes
    row "$1_rate_range" "$2: $4, min-max" - no
    row "$1_cpu0" "$2: all of CPU 0 µs per $3, median" lower yes
    row "$1_warm" "$2: warm-up server CPU µs per $3, median" lower yes
    row "$1_other" "$2: CPU 0 busy outside the server, % min-max" - no
}
# The rounds one by one, in run order.
round_table() {
    local line
    printf '%-6s %5s %3s %-12s %10s %10s %12s %12s %7s %6s\n' scenario round "#" server "µs/op" "ops/s" "CPU0 µs/op" "warm µs/op" "other%" "steal%"
    for line in "${ALL_RESULTS[@]}"; do
        case $(field "$line" scenario) in churn | http | h2-http) ;; *) continue ;; esac
        printf '%-6s %5s %3s %-12s %10s %10s %12s %12s %7s %6s\n' "$(field "$line" scenario)" "$(field "$line" round)" \
            "$(field "$line" position)" "$(field "$line" server)" "$(field "$line" us_per_op)" "$(field "$line" rate)" \
            "$(field "$line" cpu0_us_per_op)" "$(field "$line" warmup_us_per_op)" "$(field "$line" cpu0_other_pct)" \
            "$(field "$line" cpu0_steal_pct)"
    done
}
echo
echo "Rill$(for ref in "${refs[@]}"; do printf ' vs %s' "$ref"; done): server pinned to CPU 0, harness to CPU 1; payload ${PAYLOAD} B;" \
    "$(nproc) CPUs, $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')"
if [ ${#loop_ratios[@]} -gt 0 ] || [[ " $COLUMNS_USED " == *" rill-loops"* ]]; then
    echo "rill-loopsN: rill-hub --loops N on CPUs 0…N-1 (beyond CPU 0 shared with the harness); rill-loopsNc0: the N loops on CPU 0" \
        "(the harness alone on CPU 1); loopsN/1: its ratio to rill."
fi
# The h2 rows' transport, in their labels.
H2_LABEL="h2 (TLS)"
if [ "$H2_TLS" = 0 ]; then H2_LABEL="h2c"; fi
echo "$header"
for scenario in $SCENARIOS; do
    case $scenario in
    idle) idle_rows idle idle ;;
    tls-idle) idle_rows tls-idle "TLS idle" ;;
    fanout) fanout_rows fanout "fan-out ${FANOUT_CONNECTIONS}x${FANOUT_EVENTS}" ;;
    rate) fanout_rows rate "fan-out ${FANOUT_CONNECTIONS} at ${RATE}/s, ${RATE_SECONDS} s" ;;
    small) fanout_rows small "fan-out ${SMALL_CONNECTIONS}x${SMALL_EVENTS}" ;;
    churn)
        round_rows churn "churn ${CHURN_CONCURRENCY} in flight ${CHURN_SECONDS} s" "connection" "conn/s" "$CHURN_ROUNDS"
        row churn_failures "churn: failures (all rounds)" lower no
        row churn_p99 "churn: connect to first SSE line p99 (ms), median" lower yes
        row churn_cpu "churn: CPU s server/harness, median" - no ;;
    http)
        round_rows http "plain HTTP GET /ping, ${HTTP_CONNECTIONS} conns, ${HTTP_SECONDS} s" "request" "req/s" "$HTTP_ROUNDS"
        row http_harness "plain HTTP: harness (wrk) CPU µs per request, median" - no
        row http_machine_other "plain HTTP: all CPUs busy outside server+wrk, % min-max" - no
        loop_rows http "plain HTTP, all rounds" ;;
    redis) fanout_rows redis "fan-out ${FANOUT_CONNECTIONS}x${FANOUT_EVENTS} through Redis" ;;
    tls-fanout) fanout_rows tls-fanout "TLS fan-out ${FANOUT_CONNECTIONS}x${FANOUT_EVENTS}" ;;
    h2-idle)
        idle_rows h2-idle "$H2_LABEL idle $H2_STREAMS/conn" "$H2_IDLE_STREAMS" "$H2_IDLE_DURATION"
        idle_rows h2-idle-h1 "$H2_LABEL idle: HTTP/1.1" "$H2_IDLE_STREAMS" "$H2_IDLE_DURATION" ;;
    h2-fanout)
        fanout_rows h2-fanout "$H2_LABEL fan-out ${FANOUT_CONNECTIONS}x${FANOUT_EVENTS} $H2_STREAMS/conn"
        fanout_rows h2-fanout-h1 "$H2_LABEL fan-out: HTTP/1.1" ;;
    h2-http)
        round_rows h2-http "h2load GET /ping ${H2_HTTP_CLIENTS}x${H2_HTTP_STREAMS} streams, ${H2_HTTP_SECONDS} s" "request" "req/s" "$H2_HTTP_ROUNDS"
        row h2-http_harness "h2load: harness CPU µs per request, median" - no
        row h2-http_failed "h2load: failed requests (all rounds)" lower no
        row h2-http_alpn "h2load: application protocol" - no ;;
    esac
done
echo "HB: the harness used ≥ 85 % of its core (a lower bound of the server's figure); TO: publishing hit its"
echo "timeout; SH: other processes used > 20 % of a core meanwhile. Rill sends a ${HEARTBEAT} s heartbeat and"
echo "its idle run requires one per stream in the hold; nchan and FastAPI send none."
if [[ " $SCENARIOS " == *" churn "* || " $SCENARIOS " == *" http "* || " $SCENARIOS " == *" h2-http "* ]]; then
    echo "churn and http: rounds in alternating order, each a fresh server, a warm-up, then the measured run;"
    echo "server CPU = utime+stime of the server process (nginx: its worker) from /proc; CPU 0 = all busy time of"
    echo "the server's core from /proc/stat; other = CPU 0 busy outside the server process (NA for a server on"
    echo "more CPUs than CPU 0)."
    echo
    round_table
fi
for line in "${ALL_RESULTS[@]}"; do echo "$line"; done
