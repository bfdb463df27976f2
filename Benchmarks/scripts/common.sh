# Shared by the benchmark scripts: source it, do not run it.

# Waits (at most 10 s) until something accepts connections on 127.0.0.1:$1.
wait_for_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# Busy percent of one core over one second, all CPUs together (user+nice+system+irq+softirq).
busy_percent() {
    local a b
    read -r -a a < <(grep '^cpu ' /proc/stat)
    sleep 1
    read -r -a b < <(grep '^cpu ' /proc/stat)
    local busy=$(( (b[1] + b[2] + b[3] + b[6] + b[7]) - (a[1] + a[2] + a[3] + a[6] + a[7]) ))
    echo $(( busy * 100 / $(getconf CLK_TCK) ))
}

# Waits (at most QUIET_WAIT s, default 60) for 3 s in a row under 10 % of a core busy: other
# builds or tests on a 2-core machine skew every figure. Then runs anyway; rill-load's
# other_cpu_pct tells how much the cores were shared.
wait_for_quiet() {
    local waited=0 busy quiet=0 limit=${QUIET_WAIT:-60}
    while [ "$quiet" -lt 3 ]; do
        busy=$(busy_percent)
        if [ "$busy" -le 10 ]; then quiet=$((quiet + 1)); continue; fi
        quiet=0
        if [ "$waited" -ge "$limit" ]; then
            echo "the machine is still ${busy} % busy after ${limit} s; running anyway (see other_cpu_pct)" >&2
            return 0
        fi
        if [ $((waited % 10)) -eq 0 ]; then echo "waiting for a quiet machine (${busy} % of a core busy)" >&2; fi
        waited=$((waited + 1))
    done
}
