#!/usr/bin/env bash
# The CPU a JWT adds to each new stream: rill-hub without JWT, with --jwt-secret (an HS256 token
# in ?token=) and with --jwt-key (an RS256 public key), and optionally another build without JWT
# (BEFORE), in interleaved rounds like ab-churn.sh: the order reversed every other round, each
# round a fresh hub on CPU 0 (one loop) warmed by 3 s of churn, then
# `rill-load churn -c 50 -d SECONDS --server-pid` on CPU 1. Tokens are made with openssl.
#
#   Benchmarks/scripts/jwt-churn.sh ROUNDS SECONDS
#   BEFORE=/tmp/rill-hub-main Benchmarks/scripts/jwt-churn.sh 8 8
#
# Environment: HUB (.build/release/rill-hub), LOAD (.build/release/rill-load), BEFORE (a hub
# built from another commit, measured without JWT as "before"). Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HUB=${HUB:-$ROOT/.build/release/rill-hub}
LOAD=${LOAD:-$ROOT/.build/release/rill-load}
[ $# -eq 2 ] || { sed -n 2,12p "$0" >&2; exit 2; }
ROUNDS=$1
SECONDS_PER_ROUND=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
SECRET=$(openssl rand -hex 32)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/private.pem" 2>/dev/null
openssl pkey -in "$WORK/private.pem" -pubout -out "$WORK/public.pem"
payload=$(printf '{"sub":"bench","exp":%d,"rill":{"subscribe":["churn"]}}' "$(($(date +%s) + 7200))" | b64url)
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
HS256="$header.$payload.$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64url)"
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
RS256="$header.$payload.$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$WORK/private.pem" -binary | b64url)"
NAMES=(off hs256 rs256)
if [ -n "${BEFORE:-}" ]; then NAMES=(before "${NAMES[@]}"); fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for round in $(seq 1 "$ROUNDS"); do
    order=$(seq 0 $((${#NAMES[@]} - 1)))
    if [ $((round % 2)) -eq 0 ]; then order=$(echo "$order" | tac); fi
    for index in $order; do
        port=$(free_port)
        query="channel=churn"
        arguments=(--host 127.0.0.1 --port "$port" --loops 1)
        binary=$HUB
        case ${NAMES[$index]} in
            before) binary=$BEFORE ;;
            hs256) arguments+=(--jwt-secret "$SECRET") query="$query&token=$HS256" ;;
            rs256) arguments+=(--jwt-key "$WORK/public.pem") query="$query&token=$RS256" ;;
        esac
        taskset -c 0 "$binary" "${arguments[@]}" >/dev/null 2>&1 &
        hub=$!
        sleep 1
        url="http://127.0.0.1:$port/stream?$query"
        taskset -c 1 "$LOAD" churn -c 50 -d 3 "$url" >/dev/null 2>&1 || true
        result=$(taskset -c 1 "$LOAD" churn -c 50 -d "$SECONDS_PER_ROUND" --server-pid "$hub" "$url" 2>&1 | grep '^RESULT' || true)
        kill "$hub"
        wait "$hub" 2>/dev/null || true
        echo "round=$round ${NAMES[$index]} $(echo "$result" | grep -o 'connections_per_s=[0-9.]*\|server_cpu_us_per_conn=[0-9.]*\|failed=[0-9]*' | tr '\n' ' ')"
        sleep 1
    done
done
