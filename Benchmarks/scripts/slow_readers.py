#!/usr/bin/env python3
"""Slow SSE readers of one channel: what the server holds for clients that stopped reading.

Opens READERS HTTP/1.1 (or, with --h2, h2c: one connection per reader, window 0 after the
head) connections to 127.0.0.1:PORT, `GET /stream?channel=slow`, each with a 4 KB receive
buffer, reads the response head and then reads nothing more. Publishes EVENTS events of SIZE
bytes (POST /publish), waits SETTLE seconds, and prints the server's RSS growth per reader and
how many readers are still connected (the server drops a reader past its queued-bytes limit).

    slow_readers.py PID PORT READERS EVENTS SIZE [SETTLE]

Loopback only; bounded by READERS sockets and EVENTS publishes.
"""
import http.client
import socket
import sys
import time

pid, port, readers, events, size = (int(arg) for arg in sys.argv[1:6])
settle = float(sys.argv[6]) if len(sys.argv) > 6 else 3.0


def rss_kb():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


before = rss_kb()
sockets = []
for _ in range(readers):
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connection.connect(("127.0.0.1", port))
    connection.sendall(b"GET /stream?channel=slow HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")
    sockets.append(connection)
opened = 0
for connection in sockets:
    connection.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        piece = connection.recv(1)
        if not piece:
            break
        head += piece
    opened += head.startswith(b"HTTP/1.1 200")
time.sleep(1)
held = rss_kb()
publisher = http.client.HTTPConnection("127.0.0.1", port)
body = "x" * size
for number in range(events):
    publisher.request("POST", f"/publish?channel=slow&id={number + 1}", body=body)
    answer = publisher.getresponse()
    answer.read()
time.sleep(settle)
after = rss_kb()
alive = 0
for connection in sockets:
    # Reads what is buffered: a reader the server dropped ends in EOF or a reset behind it.
    connection.setblocking(False)
    try:
        while connection.recv(65536):
            pass
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(f"slow-readers readers={readers} opened={opened} events={events} size={size} "
      f"rss_before_kb={before} rss_streams_kb={held} rss_after_kb={after} "
      f"growth_per_reader_bytes={(after - held) * 1024 // max(1, readers)} still_connected={alive}", flush=True)
for connection in sockets:
    connection.close()
