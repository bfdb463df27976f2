#!/usr/bin/env bash
# rill-hub on several loops under a small open-file limit (audit 11's fdspin/fdlimit): opens
# CLIENTS `/stream` connections at once, holds them 5 s, and prints the hub's CPU while they wait
# (a spinning listener shows as ~100 % per loop), what each client got (200, 503, reset, no
# answer), and `rill_accept_errors_total`. Loopback only; the hub is killed at the end.
#
#   Benchmarks/scripts/descriptor_limit.sh PORT LOOPS NOFILE CLIENTS      # e.g. 23100 10 300 260
#
# Environment: HUB (default .build/release/rill-hub). RESULTS.md "Session 24" used 10 250 250,
# 10 100 250, 10 300 260 and 1 200 250.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HUB=${HUB:-$ROOT/.build/release/rill-hub}
[ $# -eq 4 ] || { sed -n 2,10p "$0" >&2; exit 2; }
PORT=$1 LOOPS=$2 NOFILE=$3 CLIENTS=$4
(ulimit -n "$NOFILE" && exec "$HUB" --host 127.0.0.1 --port "$PORT" --loops "$LOOPS") >/dev/null 2>&1 &
HUB_PID=$!
trap 'kill -9 $HUB_PID 2>/dev/null || true' EXIT
sleep 1.5
echo "loops $LOOPS, open-file limit $NOFILE: $(ls /proc/$HUB_PID/fd | wc -l) descriptors at idle"
python3 - "$PORT" "$CLIENTS" "$HUB_PID" <<'PY'
import collections, os, socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
sockets, outcomes = [], collections.Counter()
for _ in range(n):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port)); s.sendall(b"GET /stream?channel=fd HTTP/1.1\r\nHost: x\r\n\r\n"); sockets.append(s)
    except OSError as error:
        outcomes["connect " + type(error).__name__] += 1
time.sleep(1); c0, t0 = cpu(), time.time(); time.sleep(5); c1 = cpu()
print(f"hub CPU while {n} clients wait: {100 * (c1 - c0) / (time.time() - t0):.0f} % of one core")
for s in sockets:
    try:
        head = s.recv(200)
        outcomes["200" if b" 200 " in head[:20] else "503" if b" 503 " in head[:20] else "closed" if not head else "other"] += 1
    except socket.timeout:
        outcomes["no answer"] += 1
    except OSError as error:
        outcomes[type(error).__name__] += 1
    s.close()
print("what the clients got:", dict(outcomes))
PY
sleep 1
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E "^rill_(accept_errors_total|refused_connections_total)" || echo "(metrics not reachable)"
