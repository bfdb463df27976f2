#!/usr/bin/env python3
"""Hostile HTTP/2 heads: CONNECTIONS raw connections to 127.0.0.1:PORT, each opening STREAMS
streams whose HEADERS carry KB one-kilobyte fields and no END_STREAM (a body that never comes);
holds them SECONDS, then exits. Watch the server's RSS meanwhile (Benchmarks/RESULTS.md,
session 10). Uses Tests/http2/h2_probe.py's raw-frame client (PyPI h2's hyperframe and hpack).

    h2_held_heads.py PORT CONNECTIONS STREAMS KB SECONDS     # e.g. 18093 20 128 14 8
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/http2"))
import h2_probe  # noqa: E402


def main():
    port, connections, streams, kilobytes = (int(value) for value in sys.argv[1:5])
    seconds = float(sys.argv[5])
    clients = []
    for _ in range(connections):
        client = h2_probe.RawClient(port)
        padding = [(f"x-pad-{index}", "a" * 1000) for index in range(kilobytes)]
        for index in range(streams):
            client.send(client.headers(1 + 2 * index, "/stream?channel=x", end_stream=False, extra=padding))
        clients.append(client)
    print("sent", flush=True)
    time.sleep(seconds)


if __name__ == "__main__":
    main()
