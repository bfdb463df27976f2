#!/usr/bin/env python3
"""Anonymous streams on channels nobody watches: STREAMS connections to 127.0.0.1:PORT, each
`GET /stream` on 32 channels of its own (STREAMS x 32 channels), held HOLD seconds, then closed.
Prints how the opens were answered. Run against a `rill-hub --redis` and read Redis's keys and
memory after (presence_redis_ab.sh does).

    presence_flood.py PORT STREAMS HOLD
"""
import collections
import socket
import sys
import time

port, count, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sockets = []
outcomes = collections.Counter()
for index in range(count):
    query = "&".join(f"channel=pr{index}-{k}" for k in range(32))
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(f"GET /stream?{query} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
    sockets.append(connection)
time.sleep(2)
for connection in sockets:
    connection.settimeout(5)
    try:
        head = connection.recv(300)
        outcomes[head.split(b"\r\n")[0].decode() if head else "EOF"] += 1
    except OSError as error:
        outcomes[type(error).__name__] += 1
print("opened", dict(outcomes), flush=True)
time.sleep(hold)
for connection in sockets:
    connection.close()
print("closed all", flush=True)
