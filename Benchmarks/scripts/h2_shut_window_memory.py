#!/usr/bin/env python3
"""HTTP/2 readers whose stream windows stay shut: what the server holds for them.

CONNECTIONS h2c connections to 127.0.0.1:PORT, each with STREAMS `GET /stream?channel=h2slow`
streams and SETTINGS_INITIAL_WINDOW_SIZE 0 (the server may send them no DATA), read up to their
response heads; then EVENTS events of SIZE bytes are published (POST /publish) and, 3 s later,
the server's RSS growth per stream is printed. Uses Tests/http2/h2_probe.py's raw client.

    h2_shut_window_memory.py PID PORT CONNECTIONS STREAMS EVENTS SIZE

Loopback only; bounded by CONNECTIONS x STREAMS streams and EVENTS publishes.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "http2"))
import h2_probe  # noqa: E402
import hyperframe.frame as hf  # noqa: E402

pid, port, connections, streams, events, size = (int(arg) for arg in sys.argv[1:7])


def rss_kb(field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


before = rss_kb()
clients = []
for _ in range(connections):
    client = h2_probe.RawClient(port, settings={4: 0}, reading=False, receive_buffer=16384)
    for index in range(streams):
        client.send(client.headers(1 + 2 * index, "/stream?channel=h2slow"))
    answered = set()

    def is_last_head(frame, answered=answered):
        if isinstance(frame, hf.HeadersFrame):
            answered.add(frame.stream_id)
        return len(answered) == streams

    client.read_until(is_last_head, 5)
    clients.append(client)
held = rss_kb()
payload = "x" * size
for index in range(events):
    h2_probe.publish(port, "h2slow", f"{index} {payload}")
time.sleep(3)
after = rss_kb()
total = connections * streams
print(f"h2-shut-window connections={connections} streams={total} events={events} size={size} "
      f"rss_before_kb={before} rss_streams_kb={held} rss_after_kb={after} peak_kb={rss_kb('VmHWM')} "
      f"growth_per_stream_bytes={(after - held) * 1024 // max(1, total)}", flush=True)
for client in clients:
    client.sock.close()
