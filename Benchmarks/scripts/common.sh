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

# cpu_sample PID: "NANOSECONDS PID_TICKS CPU0_BUSY CPU0_STEAL ALL_BUSY": the clock, PID's
# utime+stime (/proc/PID/stat, all its threads), CPU 0's busy (user+nice+system+irq+softirq) and
# steal ticks, and all CPUs' busy ticks (/proc/stat). Two samples around a run give what
# cpu_figures reports.
cpu_sample() {
    local pid_ticks cpu0 all
    pid_ticks=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo NA)
    cpu0=$(awk '$1 == "cpu0" {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat)
    all=$(awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
    echo "$(date +%s%N) $pid_ticks $cpu0 $all"
}

# cpu_figures BEFORE AFTER OPERATIONS [HARNESS_SECONDS]: key=value fields from two cpu_samples —
# server CPU per operation (utime+stime of the sampled process, µs), all of CPU 0 per operation
# (what a harness that reads the pinned core's busy time would report, µs), the share of a core
# CPU 0 spent on anything but the server (other processes, interrupts charged to no one: noise),
# and the hypervisor's steal on CPU 0 (% of the window). With the harness's CPU seconds also
# machine_other_pct: what all CPUs spent on anything but the server and the harness (% of a
# core), the noise of a server that is not confined to CPU 0.
cpu_figures() {
    awk -v b="$1" -v a="$2" -v ops="$3" -v harness="${4:-}" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(b, x, " "); split(a, y, " ")
        window = (y[1] - x[1]) / 1e9; server = (y[2] - x[2]) / hz; cpu0 = (y[3] - x[3]) / hz; steal = (y[4] - x[4]) / hz
        if (ops > 0 && x[2] != "NA" && y[2] != "NA") printf "server_cpu_s=%.2f us_per_op=%.2f ", server, server * 1e6 / ops
        else printf "server_cpu_s=NA us_per_op=NA "
        if (ops > 0) printf "cpu0_us_per_op=%.2f ", cpu0 * 1e6 / ops; else printf "cpu0_us_per_op=NA "
        other = cpu0 - server; if (other < 0) other = 0
        if (window <= 0) window = 1e-9
        printf "cpu0_other_pct=%.0f cpu0_steal_pct=%.0f window_s=%.2f", other * 100 / window, steal * 100 / window, window
        if (harness ~ /^[0-9.]+$/ && x[5] != "" && y[5] != "") {
            machine = (y[5] - x[5]) / hz - server - harness; if (machine < 0) machine = 0
            printf " machine_other_pct=%.0f", machine * 100 / window
        }
    }'
}

# cpu_of FILE COMMAND…: runs COMMAND (its output passes through) in a subshell of its own, then
# writes the user+system CPU seconds of what it ran to FILE (bash's `times` for the children of
# that subshell, so only COMMAND is counted): the harness's CPU beside the server's.
cpu_of() (
    local file=$1
    shift
    local status=0
    "$@" || status=$?
    times >"$file.times"
    awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] } printf "%.2f\n", n }' \
        "$file.times" >"$file"
    rm -f "$file.times"
    return "$status"
)

# loop_cpu_sample PID: the CPU ticks (utime+stime) of each of PID's threads named rill-loop-N
# (/proc/PID/task/TID), in loop order, comma-separated; NA when it has none (another server).
loop_cpu_sample() {
    local task comm ticks=()
    for task in /proc/"$1"/task/*; do
        comm=$(cat "$task/comm" 2>/dev/null) || continue
        if [[ $comm =~ ^rill-loop-([0-9]+)$ ]]; then
            ticks[BASH_REMATCH[1]]=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "$task/stat" 2>/dev/null || echo 0)
        fi
    done
    if [ ${#ticks[@]} -eq 0 ]; then echo NA; return; fi
    local IFS=,
    echo "${ticks[*]}"
}

# loop_cpu_seconds BEFORE AFTER: two loop_cpu_samples -> each loop's CPU seconds in between,
# comma-separated (NA when either is NA or the loops differ).
loop_cpu_seconds() {
    awk -v b="$1" -v a="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        n = split(b, x, ","); m = split(a, y, ",")
        if (b == "NA" || a == "NA" || n != m) { print "NA"; exit }
        for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? "," : ""), (y[i] - x[i]) / hz
        print "" }'
}

# csv_add A B: element-wise sum of two comma-separated lists (B alone when A is empty; NA when
# either is NA or their lengths differ). To add up the rounds of each loop's figures.
csv_add() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "") { print b; exit }
        n = split(a, x, ","); m = split(b, y, ",")
        if (a == "NA" || b == "NA" || n != m) { print "NA"; exit }
        for (i = 1; i <= n; i++) printf "%s%g", (i > 1 ? "," : ""), x[i] + y[i]
        print "" }'
}

# shares CSV [TOTAL]: each value of a comma-separated list as a percentage of TOTAL (default:
# their sum), joined by "/": "50.2/49.8" (each loop's share of the connections, or of the
# server's CPU: then the rest is its other threads). NA for NA or a zero total.
shares() {
    awk -v list="$1" -v total="${2:-}" 'BEGIN {
        n = split(list, v, ",")
        if (list == "NA" || list == "" || total == "NA") { print "NA"; exit }
        if (total == "") for (i = 1; i <= n; i++) total += v[i]
        if (total <= 0) { print "NA"; exit }
        for (i = 1; i <= n; i++) printf "%s%.1f", (i > 1 ? "/" : ""), v[i] * 100 / total
        print "" }'
}

# Writes an nginx+nchan configuration into DIR (a fresh DIR/html with the 4-byte /ping file
# nginx serves, DIR/nginx.conf from CONF): nginx_nchan_setup DIR CONF MODULE PORT
# MAX_CONNECTIONS NOFILE. DIR's parent must be reachable by nginx's worker (it runs as nobody).
nginx_nchan_setup() {
    local dir=$1 conf=$2 module=$3 port=$4 max_connections=$5 nofile=$6
    rm -rf "$dir"
    mkdir -p "$dir/html"
    printf 'pong' >"$dir/html/ping"
    # nginx's worker runs as nobody: let it reach the file (mktemp makes directories 0700).
    chmod a+rx "$(dirname "$dir")" "$dir" "$dir/html" && chmod a+r "$dir/html/ping"
    sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$dir|g" -e "s|@PORT@|$port|" \
        -e "s|@MAX_CONNECTIONS@|$max_connections|" -e "s|@NOFILE@|$nofile|" "$conf" >"$dir/nginx.conf"
}
