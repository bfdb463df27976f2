#!/usr/bin/env bash
# Counts what one operation costs a rill-hub in mallocs and system calls — deterministic
# figures, unlike CPU time on a shared machine: uprobes on glibc's malloc and syscall
# tracepoints (`perf stat -p HUB`) while a load runs on another core.
#
#   Benchmarks/scripts/count-per-operation.sh http  NAME=BINARY ...   # per plain GET /ping (wrk)
#   Benchmarks/scripts/count-per-operation.sh churn NAME=BINARY ...   # per SSE connection (rill-load churn)
#
# Needs root (perf probes). The malloc probe is added once:
#   perf probe -x /usr/lib/x86_64-linux-gnu/libc.so.6 --add malloc
# Environment: LOAD (rill-load; default .build/release/rill-load), SECONDS_PER_RUN (5). Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LOAD=${LOAD:-$ROOT/.build/release/rill-load}
RUN_SECONDS=${SECONDS_PER_RUN:-5}
[ $# -ge 2 ] || { sed -n 2,12p "$0" >&2; exit 2; }
MODE=$1
shift
perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc' ||
    perf probe -x /usr/lib/x86_64-linux-gnu/libc.so.6 --add malloc >/dev/null
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for argument in "$@"; do
    name=${argument%%=*}
    binary=${argument#*=}
    port=$(free_port)
    taskset -c 0 "$binary" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
    hub=$!
    sleep 1
    events="-e probe_libc:malloc -e syscalls:sys_enter_read -e syscalls:sys_enter_write -e syscalls:sys_enter_accept4"
    if [ "$MODE" = http ]; then
        taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$port/ping" >/dev/null
        # shellcheck disable=SC2086
        perf stat $events -p "$hub" -o "$OUT/perf" -- sleep $((RUN_SECONDS + 1)) &
        sleep 0.3
        operations=$(taskset -c 1 wrk -t1 -c64 -d"${RUN_SECONDS}s" "http://127.0.0.1:$port/ping" | awk '/requests in/ {print $1}')
        wait $!
        unit=request
    else
        url="http://127.0.0.1:$port/stream?channel=churn"
        taskset -c 1 "$LOAD" churn -c 20 -d 2 "$url" >/dev/null 2>&1 || true
        # shellcheck disable=SC2086
        perf stat $events -p "$hub" -o "$OUT/perf" -- sleep $((RUN_SECONDS + 1)) &
        sleep 0.3
        taskset -c 1 "$LOAD" churn -c 20 -d "$RUN_SECONDS" "$url" >/dev/null 2>&1 || true
        wait $!
        operations=$(awk '/sys_enter_accept4/ {gsub(",", "", $1); print $1}' "$OUT/perf")
        unit=connection
    fi
    kill "$hub"
    wait "$hub" 2>/dev/null || true
    awk -v name="$name" -v n="$operations" -v unit="$unit" '
        /probe_libc:malloc|sys_enter_/ { gsub(",", "", $1); sub(/.*:/, "", $2); line = line sprintf(" %s=%.2f", $2, $1 / n) }
        END { printf "%s %ss=%d per %s:%s\n", name, unit, n, unit, line }' "$OUT/perf"
done
