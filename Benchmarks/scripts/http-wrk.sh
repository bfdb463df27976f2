#!/usr/bin/env bash
# Plain HTTP throughput: wrk on keep-alive connections against Rill's /plaintext route and,
# in the same run, against nginx (one worker) serving the same 13-byte body as a static file.
# The server is pinned to CPU 0 and wrk to CPU 1, so both figures are single-core.
#
#   Benchmarks/scripts/http-wrk.sh .build/release/Hello
#
# Environment: DURATION (seconds, default 10), CONNECTIONS (default 64).
set -euo pipefail
HELLO=${1:?usage: http-wrk.sh PATH_TO_HELLO}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
RILL_PORT=18080
NGINX_PORT=18081
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

# Prints "requests_per_second" for one wrk run pinned to CPU 1.
run_wrk() {
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'
}

taskset -c 0 "$HELLO" --host 127.0.0.1 --port "$RILL_PORT" >"$WORK/rill.log" 2>&1 &
PIDS+=($!)
wait_for_port "$RILL_PORT"
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$RILL_PORT/plaintext" >/dev/null   # warm-up
rill=$(run_wrk "http://127.0.0.1:$RILL_PORT/plaintext")

mkdir -p "$WORK/html"
printf 'Hello, World!' >"$WORK/html/plaintext"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/html;
        location / { default_type text/plain; }
    }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
wait_for_port "$NGINX_PORT"
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$NGINX_PORT/plaintext" >/dev/null
nginx_rps=$(run_wrk "http://127.0.0.1:$NGINX_PORT/plaintext")

ratio=$(awk -v a="$rill" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')
printf '\n%-44s %14s %14s %8s\n' "scenario (server on 1 core, wrk on the other)" "Rill" "nginx" "ratio"
printf '%-44s %14s %14s %8s\n' "plain HTTP, ${CONNECTIONS} keep-alive conns, req/s" "$rill" "$nginx_rps" "$ratio"
echo "RESULT scenario=plain-http rill_rps=$rill nginx_rps=$nginx_rps ratio=$ratio"
