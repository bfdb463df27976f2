#!/usr/bin/env bash
# Compares the plain-HTTP cost of two or more rill-hub builds in one run (GET /ping, wrk -t1
# -c64): now `cpu-split.sh http`, which also splits each figure into user and kernel time.
#
#   Benchmarks/scripts/ab-http.sh ROUNDS SECONDS NAME=BINARY NAME=BINARY ...
#   Benchmarks/scripts/ab-http.sh 6 8 before=/tmp/rill-hub-before after=.build/release/rill-hub
exec "$(dirname "$0")/cpu-split.sh" http "$@"
