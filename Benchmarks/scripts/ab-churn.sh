#!/usr/bin/env bash
# Compares the churn cost of two or more rill-hub builds in one run: interleaved rounds, the
# order reversed every other round, each round a fresh hub on CPU 0 warmed by 3 s of churn,
# then `rill-load churn -c 50 -d SECONDS --server-pid` on CPU 1. Prints one line per round with
# connections/s and server CPU µs per connection; compare medians, not single rounds.
#
#   Benchmarks/scripts/ab-churn.sh ROUNDS SECONDS NAME=BINARY NAME=BINARY ...
#   Benchmarks/scripts/ab-churn.sh 6 10 before=/tmp/rill-hub-before after=.build/release/rill-hub
#
# Environment: LOAD (rill-load; default .build/release/rill-load). Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LOAD=${LOAD:-$ROOT/.build/release/rill-load}
[ $# -ge 3 ] || { sed -n 2,9p "$0" >&2; exit 2; }
ROUNDS=$1
SECONDS_PER_ROUND=$2
shift 2
NAMES=()
BINARIES=()
for argument in "$@"; do
    NAMES+=("${argument%%=*}")
    BINARIES+=("${argument#*=}")
done
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for round in $(seq 1 "$ROUNDS"); do
    order=$(seq 0 $((${#NAMES[@]} - 1)))
    if [ $((round % 2)) -eq 0 ]; then order=$(echo "$order" | tac); fi
    for index in $order; do
        port=$(free_port)
        taskset -c 0 "${BINARIES[$index]}" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
        hub=$!
        sleep 1
        url="http://127.0.0.1:$port/stream?channel=churn"
        taskset -c 1 "$LOAD" churn -c 50 -d 3 "$url" >/dev/null 2>&1 || true
        result=$(taskset -c 1 "$LOAD" churn -c 50 -d "$SECONDS_PER_ROUND" --server-pid "$hub" "$url" 2>&1 | grep '^RESULT' || true)
        kill "$hub"
        wait "$hub" 2>/dev/null || true
        echo "round=$round ${NAMES[$index]} $(echo "$result" | grep -o 'connections_per_s=[0-9.]*\|server_cpu_us_per_conn=[0-9.]*' | tr '\n' ' ')"
        sleep 1
    done
done
