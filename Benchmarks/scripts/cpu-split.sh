#!/usr/bin/env bash
# Server CPU per operation split into user and kernel time, for rill-hub builds and nginx(+nchan)
# in one run: interleaved rounds, the order reversed every other round, a fresh server each round
# on CPU 0, a warm-up, then the measured load from CPU 1. The split tells what a change can still
# win: both servers make the same system calls, so the kernel part is a floor under any ratio.
#
#   Benchmarks/scripts/cpu-split.sh http  ROUNDS SECONDS NAME=BINARY ... [nginx] [floor]
#   Benchmarks/scripts/cpu-split.sh churn ROUNDS SECONDS NAME=BINARY ... [nginx] [floor]
#   Benchmarks/scripts/cpu-split.sh h2    ROUNDS SECONDS NAME=BINARY ... [nginx]
#   Benchmarks/scripts/cpu-split.sh http 4 6 rill=.build/release/rill-hub nginx floor
#
# http: `wrk -t1 -c64` on GET /ping (nginx serves a 4-byte static file with open_file_cache, as in
# bench.sh); churn: `rill-load churn -c 50` on /stream?channel=churn (nginx: nchan); h2: `h2load
# -c 64 -m 10 -t 1` on GET /ping over cleartext HTTP/2 (prior knowledge; nginx `listen … http2`). A bare
# `nginx` argument adds nginx+nchan (Benchmarks/reference/nchan.conf; its worker is measured); a
# bare `floor` adds Benchmarks/reference/floor-server.c (built here with cc): the same system
# calls and almost no user space, the least any server pays per operation on this machine.
# Prints one line per round (user, kernel and total µs per operation), then each server's
# medians. Environment: LOAD (rill-load; default .build/release/rill-load), PORT (18331).
# Needs wrk (http), h2load (h2), taskset, nginx and libnginx-mod-nchan for `nginx`. Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
LOAD=${LOAD:-$ROOT/.build/release/rill-load}
PORT=${PORT:-18331}
[ $# -ge 4 ] || { sed -n 2,16p "$0" >&2; exit 2; }
MODE=$1
ROUNDS=$2
SECONDS_PER_ROUND=$3
shift 3
case "$MODE" in http | churn | h2) ;; *) echo "mode must be http, churn or h2" >&2; exit 2 ;; esac
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
declare -A USER_US KERNEL_US TOTAL_US

# Starts `spec` on CPU 0; sets SERVER (to kill) and MEASURED (the process whose CPU counts).
start() {
    local spec=$1
    if [ "$spec" = nginx ]; then
        local dir="$WORK/nginx"
        nginx_nchan_setup "$dir" "$ROOT/Benchmarks/reference/nchan.conf" /usr/lib/nginx/modules/ngx_nchan_module.so "$PORT" 4000 20000
        if [ "$MODE" = h2 ]; then sed -i -e "s|listen 127.0.0.1:$PORT |listen 127.0.0.1:$PORT http2 |" "$dir/nginx.conf"; fi
        taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >/dev/null 2>&1 &
        SERVER=$!
        MEASURED=
        for _ in $(seq 50); do
            MEASURED=$(pgrep -P "$SERVER" | head -1 || true)
            [ -n "$MEASURED" ] && break
            sleep 0.1
        done
    elif [ "$spec" = floor ]; then
        [ "$MODE" != h2 ] || { echo "floor-server speaks HTTP/1.1 only" >&2; exit 2; }
        [ -x "$WORK/floor-server" ] || cc -O2 -o "$WORK/floor-server" "$ROOT/Benchmarks/reference/floor-server.c"
        taskset -c 0 "$WORK/floor-server" --host 127.0.0.1 --port "$PORT" >/dev/null 2>&1 &
        SERVER=$!
        MEASURED=$SERVER
    else
        local binary=${spec#*=} loops=()
        # One loop; an older rill-hub (a before/after run) has one and no --loops.
        if "$binary" --help 2>&1 | grep -q -- --loops; then loops=(--loops 1); fi
        taskset -c 0 "$binary" --host 127.0.0.1 --port "$PORT" "${loops[@]}" >/dev/null 2>&1 &
        SERVER=$!
        MEASURED=$SERVER
    fi
    local probe=(curl -s -o /dev/null)
    if [ "$MODE" = h2 ]; then probe+=(--http2-prior-knowledge); fi
    for _ in $(seq 100); do "${probe[@]}" "http://127.0.0.1:$PORT/ping" && return; sleep 0.1; done
    echo "the server did not start: $spec" >&2
    exit 1
}

# Runs the load for `seconds`; prints the number of operations.
load() {
    local seconds=$1
    if [ "$MODE" = http ]; then
        taskset -c 1 wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:$PORT/ping" | awk '/requests in/ { print $1 }'
    elif [ "$MODE" = h2 ]; then
        taskset -c 1 h2load -c 64 -m 10 -t 1 -D "$seconds" "http://127.0.0.1:$PORT/ping" 2>&1 |
            awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "succeeded,") print $i }'
    else
        taskset -c 1 "$LOAD" churn -c 50 -d "$seconds" "http://127.0.0.1:$PORT/stream?channel=churn" 2>&1 |
            grep '^RESULT' | grep -o ' cycles=[0-9]*' | cut -d= -f2
    fi
}

median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

names=()
for spec in "$@"; do names+=("${spec%%=*}"); done
for ((round = 1; round <= ROUNDS; round++)); do
    order=("$@")
    if ((round % 2 == 0)); then
        order=()
        for ((i = $#; i >= 1; i--)); do order+=("${!i}"); done
    fi
    for spec in "${order[@]}"; do
        name=${spec%%=*}
        start "$spec"
        load 2 >/dev/null
        read -r user0 kernel0 < <(awk '{ print $14, $15 }' "/proc/$MEASURED/stat")
        operations=$(load "$SECONDS_PER_ROUND")
        read -r user1 kernel1 < <(awk '{ print $14, $15 }' "/proc/$MEASURED/stat")
        kill "$SERVER"
        wait "$SERVER" 2>/dev/null || true
        SERVER=
        read -r user kernel total < <(awk -v u=$((user1 - user0)) -v k=$((kernel1 - kernel0)) -v n="${operations:-0}" -v hz="$HZ" \
            'BEGIN { if (n == 0) n = 1; printf "%.2f %.2f %.2f\n", u / hz * 1e6 / n, k / hz * 1e6 / n, (u + k) / hz * 1e6 / n }')
        echo "round=$round $name user_us=$user kernel_us=$kernel total_us=$total operations=${operations:-0}"
        USER_US[$name]+="$user "
        KERNEL_US[$name]+="$kernel "
        TOTAL_US[$name]+="$total "
        sleep 1
    done
done
for name in "${names[@]}"; do
    echo "$name: median user $(median "${USER_US[$name]}") kernel $(median "${KERNEL_US[$name]}")" \
        "total $(median "${TOTAL_US[$name]}") µs per operation (totals: ${TOTAL_US[$name]})"
done
