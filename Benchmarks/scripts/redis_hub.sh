# Sourced by the presence_redis_*.sh scripts: a fresh redis-server and a rill-hub on it, per run.
# Expects redis_port, hub_port and work (a scratch folder) to be set.

# start_redis_and_hub NAME BINARY [HUB ARGUMENTS…]: sets redis_pid and hub_pid; logs in $work.
start_redis_and_hub() {
    local name=$1 binary=$2
    shift 2
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning \
        >"$work/redis-$name.log" 2>&1 &
    redis_pid=$!
    sleep 0.5
    "$binary" --port "$hub_port" --redis "redis://127.0.0.1:$redis_port/0" "$@" >"$work/hub-$name.log" 2>&1 &
    hub_pid=$!
    sleep 1.5
}

# stop_redis_and_hub: stops what start_redis_and_hub started.
stop_redis_and_hub() {
    kill "$hub_pid"
    wait "$hub_pid" 2>/dev/null
    kill "$redis_pid"
    wait "$redis_pid" 2>/dev/null
}
