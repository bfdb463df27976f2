#!/usr/bin/env bash
# Rill's microbenchmarks (package-benchmark, a nested package: see README.md). Works from any
# directory; exits non-zero if the build or any benchmark fails.
#
#   Benchmarks/Micro/run.sh                        # every benchmark, text tables
#   Benchmarks/Micro/run.sh --filter 'SSE.*'       # other arguments go to `swift package benchmark`
#   Benchmarks/Micro/run.sh --filter 'Publish contention.*'   # only the broker's lock at 1-8 loops
#   Benchmarks/Micro/run.sh --instructions         # then instructions and mallocs per operation,
#                                                  # counted under valgrind (no setup, no hops)
#
# Builds go to .build-micro/ in the repository root (RILL_MICRO_SCRATCH overrides it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="${RILL_MICRO_SCRATCH:-$root/.build-micro}"

instructions=false
passthrough=()
for argument in "$@"; do
    case "$argument" in
        --instructions) instructions=true ;;
        -h | --help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) passthrough+=("$argument") ;;
    esac
done

if ! pkg-config --exists libuv 2>/dev/null; then
    echo "run.sh: libuv is missing (Debian: apt-get install libuv1-dev pkg-config, or run 'make build' once)" >&2
    exit 1
fi

cd "$here"
echo "== swift package benchmark (scratch path $scratch)"
swift package --scratch-path "$scratch" benchmark --no-progress "${passthrough[@]}"

$instructions || exit 0

# Instruction and allocation counts per operation. valgrind counts instructions exactly
# (hardware counters are often missing on VMs, where package-benchmark drops its `instructions`
# row). Each workload runs twice, with n1 and n2 operations; (count(n2) - count(n1)) / (n2 - n1)
# cancels process start, setup and teardown, and the single hop onto the loop per run.
if ! command -v valgrind >/dev/null; then
    echo "run.sh: --instructions needs valgrind (apt-get install valgrind)" >&2
    exit 1
fi
echo
echo "== instructions and mallocs per operation (valgrind)"
if ! build_output="$(swift build --scratch-path "$scratch" -c release --product RillMicroCount 2>&1)"; then
    echo "$build_output" >&2
    exit 1
fi
counter="$scratch/release/RillMicroCount"
[ -x "$counter" ] || { echo "run.sh: $counter was not built" >&2; exit 1; }

# Deterministic hashing: the same dictionary probes in both runs.
export SWIFT_DETERMINISTIC_HASHING=1

# The instructions ("I refs") of one run, all threads together.
instruction_count() {
    local output
    output="$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$counter" "$@" 2>&1)" \
        || { echo "$output" >&2; echo "run.sh: valgrind $* failed" >&2; return 1; }
    sed -n 's/.*I *refs: *//p' <<<"$output" | tr -d ,
}
# The heap allocations of one run (memcheck's "total heap usage").
malloc_count() {
    local output
    output="$(valgrind --tool=memcheck --leak-check=no "$counter" "$@" 2>&1)" \
        || { echo "$output" >&2; echo "run.sh: valgrind $* failed" >&2; return 1; }
    sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' <<<"$output" | tr -d ,
}

#          workload           n1    n2    what one operation is
workloads=(
    "http-get             1000  2000  HTTP parse: GET head 314 B, whole buffer"
    "http-post            1000  2000  HTTP parse: POST head 146 B + 56 B body, whole buffer"
    "http-get-bytewise     200   400  HTTP parse: GET head 314 B, byte by byte"
    "sse-small            2000  4000  SSE encode: small event into reused buffer"
    "sse-small-encoded    2000  4000  SSE encode: small event, encoded() new array"
    "sse-multiline        2000  4000  SSE encode: 8-line data event into reused buffer"
    "route-50              200   400  Route: 50 routes, GET with 2 params, app.test(.router)"
    "route-1               200   400  Route: 1 literal route, GET, app.test(.router)"
    "request-path          200   400  Request path: GET /ping, parse + route + serialize"
    "fanout-broker           4     8  Fan-out: 1 publish to 10k subscriptions, broker only"
    "fanout-tasks            2     4  Fan-out: 1 publish to 10k subscriptions, consumer tasks"
    "publish-1-loop       2000  4000  Publish: 1 loop, no subscribers, history on"
    "patterns-prefix-10k   200   400  Publish: 10k patterns users/<i>/**, one matches"
    "patterns-leading-10k  200   400  Publish: 10k patterns **/<i>/inbox, one matches"
    "roundtrip             100   200  Loop round trip: Task onto the loop and back"
)
printf '%-58s %16s %12s\n' "operation" "instructions/op" "mallocs/op"
for line in "${workloads[@]}"; do
    read -r workload n1 n2 description <<<"$line"
    i1="$(instruction_count "$workload" "$n1")"
    i2="$(instruction_count "$workload" "$n2")"
    m1="$(malloc_count "$workload" "$n1")"
    m2="$(malloc_count "$workload" "$n2")"
    awk -v d="$description" -v i1="$i1" -v i2="$i2" -v m1="$m1" -v m2="$m2" -v n="$((n2 - n1))" \
        'BEGIN { printf "%-58s %16.0f %12.1f\n", d, (i2 - i1) / n, (m2 - m1) / n }'
done
