#!/usr/bin/env bash
# Compares the churn cost of two or more rill-hub builds in one run (rill-load churn -c 50 on
# /stream?channel=churn): now `cpu-split.sh churn`, which also splits each figure into user and
# kernel time.
#
#   Benchmarks/scripts/ab-churn.sh ROUNDS SECONDS NAME=BINARY NAME=BINARY ...
#   Benchmarks/scripts/ab-churn.sh 6 10 before=/tmp/rill-hub-before after=.build/release/rill-hub
exec "$(dirname "$0")/cpu-split.sh" churn "$@"
