#!/usr/bin/env bash
# Compares the plain-HTTP cost of two or more rill-hub builds in one run: interleaved rounds, the
# order reversed every other round, each round a fresh hub on CPU 0 warmed by 2 s of wrk, then
# `wrk -t1 -c64 -d SECONDS` on GET /ping from CPU 1. Prints one line per round with the server's
# CPU µs per request (utime+stime from /proc) and req/s, then each build's rounds and median;
# compare medians, not single rounds.
#
#   Benchmarks/scripts/ab-http.sh ROUNDS SECONDS NAME=BINARY NAME=BINARY ...
#   Benchmarks/scripts/ab-http.sh 6 8 before=/tmp/rill-hub-before after=.build/release/rill-hub
#
# Environment: PORT (18297). Needs wrk and taskset. Loopback only.
set -euo pipefail
ROUNDS=${1:?usage: ab-http.sh ROUNDS SECONDS NAME=BINARY ...}
SECONDS_PER_RUN=${2:?usage: ab-http.sh ROUNDS SECONDS NAME=BINARY ...}
shift 2
PORT=${PORT:-18297}
URL="http://127.0.0.1:$PORT/ping"
declare -A ROUND_FIGURES
names=()
for spec in "$@"; do names+=("${spec%%=*}"); done
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null || true' EXIT
for ((round = 1; round <= ROUNDS; round++)); do
    order=("$@")
    if ((round % 2 == 0)); then
        order=()
        for ((i = $#; i >= 1; i--)); do order+=("${!i}"); done
    fi
    for spec in "${order[@]}"; do
        name=${spec%%=*}
        binary=${spec#*=}
        taskset -c 0 "$binary" --host 127.0.0.1 --port "$PORT" >/dev/null 2>&1 &
        PID=$!
        for _ in $(seq 100); do curl -s -o /dev/null "$URL" && break; sleep 0.1; done
        taskset -c 1 wrk -t1 -c64 -d2s "$URL" >/dev/null
        cpu0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
        out=$(taskset -c 1 wrk -t1 -c64 -d"${SECONDS_PER_RUN}s" "$URL")
        cpu1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
        kill "$PID"
        wait "$PID" 2>/dev/null || true
        PID=
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        us=$(awk -v c=$((cpu1 - cpu0)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", c / hz * 1e6 / n }')
        echo "round=$round $name server_cpu_us_per_request=$us requests_per_s=$rps"
        ROUND_FIGURES[$name]+="$us "
    done
done
for name in "${names[@]}"; do
    # shellcheck disable=SC2086
    median=$(printf '%s\n' ${ROUND_FIGURES[$name]} | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    echo "$name: rounds ${ROUND_FIGURES[$name]}median $median µs per request"
done
