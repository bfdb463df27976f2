#!/usr/bin/env bash
# A rolling restart behind nginx, binaries side by side (audit 9's M2): for each NAME=BINARY and
# each of TRIALS rounds, two `rill-hub --loops 1` (in memory, default --drain-seconds) behind one
# nginx upstream with the DeployingBehindNginx article's settings (keep-alive pool of 32), six
# Python threads sending keep-alive `POST /publish` through nginx for 4 s, and SIGTERM to one hub
# at 2 s. nginx does not retry a POST whose upstream connection failed after it was sent: every
# 502 is a publish whose client cannot tell whether it happened. Prints each round's status
# counts. Loopback only; ports PORT (24700) to PORT+2. Needs nginx and python3.
#
#   Benchmarks/scripts/rolling_restart_nginx.sh 6 base=/tmp/rill-hub-base head=.build/release/rill-hub
set -u
trials=${1:?usage: rolling_restart_nginx.sh TRIALS NAME=BINARY...}
shift
port=${PORT:-24700}
work=$(mktemp -d)
trap 'nginx -p "$work/" -c "$work/nginx.conf" -s stop 2>/dev/null; rm -rf "$work"' EXIT
cat >"$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/error.log;
worker_processes 1;
events { worker_connections 4096; }
http {
  access_log off;
  upstream pair { server 127.0.0.1:$((port + 1)); server 127.0.0.1:$((port + 2)); keepalive 32; keepalive_timeout 50s; }
  server {
    listen 127.0.0.1:$port;
    server_name example.com;
    location / {
      proxy_pass http://pair; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
      proxy_buffering off; proxy_read_timeout 1h;
    }
  }
}
CONF
cat >"$work/roll.py" <<'PY'
import collections, http.client, os, signal, sys, threading, time
port, victim = int(sys.argv[1]), int(sys.argv[2])
stop = time.time() + 4.0
counts = collections.Counter()
lock = threading.Lock()
def publisher():
    connection = None
    while time.time() < stop:
        try:
            if connection is None:
                connection = http.client.HTTPConnection('127.0.0.1', port, timeout=3)
            connection.request('POST', '/publish?channel=roll', body=b'x')
            response = connection.getresponse()
            response.read()
            status = response.status
        except Exception as error:
            status, connection = type(error).__name__, None
        with lock:
            counts[status] += 1
threads = [threading.Thread(target=publisher) for _ in range(6)]
for thread in threads: thread.start()
time.sleep(2)
os.kill(victim, signal.SIGTERM)
for thread in threads: thread.join()
print(' '.join(f'{status}={count}' for status, count in sorted(counts.items(), key=str)))
PY
for round in $(seq "$trials"); do
    for spec in "$@"; do
        name=${spec%%=*}
        binary=${spec#*=}
        "$binary" --host 127.0.0.1 --port $((port + 1)) --loops 1 >/dev/null 2>&1 &
        first=$!
        "$binary" --host 127.0.0.1 --port $((port + 2)) --loops 1 >/dev/null 2>&1 &
        second=$!
        for _ in $(seq 50); do
            curl -s -o /dev/null "http://127.0.0.1:$((port + 1))/ping" && curl -s -o /dev/null "http://127.0.0.1:$((port + 2))/ping" && break
            sleep 0.1
        done
        nginx -p "$work/" -c "$work/nginx.conf"
        sleep 0.3
        echo "round=$round $name $(python3 "$work/roll.py" "$port" "$first")"
        nginx -p "$work/" -c "$work/nginx.conf" -s stop 2>/dev/null
        kill "$second" 2>/dev/null
        wait "$first" "$second" 2>/dev/null
        sleep 0.5
    done
done
