#!/usr/bin/env bash
# Runs the libFuzzer targets built by `make fuzz` (Fuzz/Package.swift), each for FUZZ_SECONDS
# from a temporary copy of its committed seed corpus (Fuzz/corpus/<target>), so that what the
# fuzzer adds never dirties the tree. Crashes, leaks and timeouts are written to
# $FUZZ_ARTIFACTS (default .build-fuzz/findings/); the script prints executions per second per
# target and exits non-zero if any target found something.
#
# Usage: Fuzz/run.sh [http sse redis route]   (env: FUZZ_SECONDS, FUZZ_BIN, FUZZ_ARTIFACTS)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_BIN=${FUZZ_BIN:-$ROOT/.build-fuzz/debug}
FUZZ_ARTIFACTS=${FUZZ_ARTIFACTS:-$ROOT/.build-fuzz/findings}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http sse redis route)

declare -A binary=([http]=FuzzHTTP [sse]=FuzzSSE [redis]=FuzzRedis [route]=FuzzRoute)
mkdir -p "$FUZZ_ARTIFACTS"
work=$(mktemp -d "${TMPDIR:-/tmp}/rill-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

summary=()
failed=0
for target in "${targets[@]}"; do
    exe=$FUZZ_BIN/${binary[$target]:?unknown fuzz target $target (http sse redis route)}
    [ -x "$exe" ] || { echo "missing $exe: run make fuzz (it builds first)"; exit 2; }
    corpus=$work/$target
    cp -r "$ROOT/Fuzz/corpus/$target" "$corpus"
    mkdir -p "$FUZZ_ARTIFACTS/$target"
    log=$work/$target.log
    echo "== fuzz $target: ${FUZZ_SECONDS}s from $(ls "$corpus" | wc -l) seeds"
    # -max_len bounds each input (the state machine and parsers have their own limits set small
    # in the targets, so 4 KiB reaches all of them); -rss_limit_mb/-malloc_limit_mb turn a memory
    # blow-up into a finding; -timeout one a hang.
    "$exe" "$corpus" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
        -artifact_prefix="$FUZZ_ARTIFACTS/$target/" >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    if [ $status -ne 0 ]; then
        failed=1
        echo "!! $target: finding (exit $status); log tail:"
        tail -40 "$log"
        ls -1 "$FUZZ_ARTIFACTS/$target"
        cp "$log" "$FUZZ_ARTIFACTS/$target/last.log"
    fi
    summary+=("$(printf '%-6s %10s runs %8s exec/s  %-10s corpus %4s  %s' "$target" "${runs:-?}" "${rate:-?}" "${cov:-}" \
        "$(ls "$corpus" | wc -l)" "$([ $status -eq 0 ] && echo clean || echo "FINDING in $FUZZ_ARTIFACTS/$target")")")
done
echo
echo "== fuzz summary (${FUZZ_SECONDS}s each)"
printf '%s\n' "${summary[@]}"
exit $failed
