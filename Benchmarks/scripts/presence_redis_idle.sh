#!/usr/bin/env bash
# The presence mirror on Redis, binaries side by side: for each NAME=BINARY, a fresh redis-server
# and a `rill-hub --redis`, then STREAMS (6,000) anonymous streams x 32 channels held 50 s
# (presence_flood.py). Prints, while they are idle, the hub's first loop's CPU ticks per 5 s (the
# presence refresh runs there) and the commands Redis ran in 20 s; then, after ROUNDS (3) more
# floods of 2 s each, how many seconds until that loop is quiet again (under 10 % over 2 s, at
# most 120 s) and whether it errs on the side of "lost" connections in its log.
# Loopback only; ports REDIS_PORT (24379) and HUB_PORT (24005). Needs ulimit -n above 2 x STREAMS.
#
#   Benchmarks/scripts/presence_redis_idle.sh base=/tmp/rill-hub-base head=.build/release/rill-hub
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
redis_port=${REDIS_PORT:-24379}
hub_port=${HUB_PORT:-24005}
streams=${STREAMS:-6000}
rounds=${ROUNDS:-3}
ulimit -n 20000
work=$(mktemp -d)
# shellcheck source=redis_hub.sh
source "$here/redis_hub.sh"
ticks() { awk '{print $14 + $15}' "/proc/$1/task/$2/stat"; }
for spec in "$@"; do
    name=${spec%%=*}
    binary=${spec#*=}
    start_redis_and_hub "$name" "$binary"
    loop0=$(grep -l rill-loop-0 /proc/$hub_pid/task/*/comm | cut -d/ -f5)
    python3 "$here/presence_flood.py" "$hub_port" "$streams" 50 >"$work/flood-$name.txt" 2>&1 &
    flood=$!
    sleep 20
    commands() { redis-cli -p "$redis_port" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }
    first=$(commands)
    samples=""
    for _ in 1 2 3 4; do
        before=$(ticks $hub_pid $loop0)
        sleep 5
        samples="$samples $(($(ticks $hub_pid $loop0) - before))"
    done
    idle_commands=$(($(commands) - first))
    wait $flood
    for round in $(seq 1 "$rounds"); do
        python3 "$here/presence_flood.py" "$hub_port" "$streams" 2 >>"$work/rounds-$name.txt" 2>&1
    done
    quiet=""
    for second in $(seq 2 2 120); do
        before=$(ticks $hub_pid $loop0)
        sleep 2
        if [ $(($(ticks $hub_pid $loop0) - before)) -lt 20 ]; then quiet=$second; break; fi
    done
    echo "$name: $(head -1 "$work/flood-$name.txt") | idle loop-0 ticks per 5 s:$samples; Redis commands in 20 s idle: $idle_commands" \
        "| after $rounds floods: quiet within ${quiet:-more than 120} s; $(grep -c 'opened' "$work/rounds-$name.txt") rounds," \
        "$(grep -o '503 Service Unavailable[^,}]*' "$work/rounds-$name.txt" | tr '\n' ' ')| 'lost' warnings: $(grep -c ' lost: ' "$work/hub-$name.log")"
    stop_redis_and_hub
done
rm -rf "$work"
