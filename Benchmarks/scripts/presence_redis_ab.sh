#!/usr/bin/env bash
# Presence notices on Redis, binaries side by side: for each NAME=BINARY, a fresh redis-server
# and a `rill-hub --redis --loops 1`, then 2,000 anonymous streams x 32 channels nobody watches,
# held 12 s and closed (presence_flood.py); prints Redis's keys and used_memory 3 s later, the
# hub's CPU ticks for the run, and the commands Redis ran and its CPU seconds meanwhile. Loopback only; ports REDIS_PORT (24379) and HUB_PORT (24005).
#
#   Benchmarks/scripts/presence_redis_ab.sh base=/tmp/rill-hub-base head=.build/release/rill-hub
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
redis_port=${REDIS_PORT:-24379}
hub_port=${HUB_PORT:-24005}
work=$(mktemp -d)
# shellcheck source=redis_hub.sh
source "$here/redis_hub.sh"
for spec in "$@"; do
    name=${spec%%=*}
    binary=${spec#*=}
    start_redis_and_hub "$name" "$binary" --loops 1
    before=$(awk '{print $14 + $15}' "/proc/$hub_pid/stat")
    redis_stat() { redis-cli -p "$redis_port" info "$1" | tr -d '\r' | sed -n "s/^$2://p"; }
    commands_before=$(redis_stat stats total_commands_processed)
    redis_cpu_before=$(redis_stat cpu used_cpu_user)+$(redis_stat cpu used_cpu_sys)
    python3 "$here/presence_flood.py" "$hub_port" 2000 12 >"$work/flood-$name.txt" 2>&1
    sleep 3
    after=$(awk '{print $14 + $15}' "/proc/$hub_pid/stat")
    commands=$(($(redis_stat stats total_commands_processed) - commands_before))
    redis_cpu=$(echo "$(redis_stat cpu used_cpu_user)+$(redis_stat cpu used_cpu_sys)-($redis_cpu_before)" | bc)
    keys=$(redis-cli -p "$redis_port" dbsize)
    memory=$(redis-cli -p "$redis_port" info memory | tr -d '\r' | sed -n 's/^used_memory://p')
    echo "$name: $(tr '\n' ' ' <"$work/flood-$name.txt")| Redis keys $keys, used_memory $memory B, hub CPU $((after - before)) ticks, Redis $commands commands, $redis_cpu s CPU"
    stop_redis_and_hub
done
rm -rf "$work"
