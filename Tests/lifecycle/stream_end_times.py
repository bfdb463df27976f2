#!/usr/bin/env python3
"""Opens N event streams to URL (plain HTTP/1.1 over asyncio sockets), prints `ready` once every
stream received its opening bytes, then records when each stream ends (the server closes it, or
its response ends) and whether a `farewell` event came first. Prints one JSON object:
{"opened": N, "ended": n, "farewells": n, "endsMs": [ms after the first end, sorted]}.
Bounded: gives up TIMEOUT seconds after start.

    stream_end_times.py URL N TIMEOUT
"""
import asyncio
import json
import sys
import time
import urllib.parse


async def one_stream(host, port, target, opened, ends, farewells):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    received = b""
    was_opened = False
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        received += chunk
        if not was_opened and b"\r\n\r\n" in received:
            was_opened = True
            opened.append(1)
        if b"event: farewell" in received and b"0\r\n\r\n" in received.split(b"event: farewell", 1)[1]:
            break
    ends.append(time.monotonic())
    if b"event: farewell" in received:
        farewells.append(1)
    writer.close()


async def main():
    url, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    parts = urllib.parse.urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    opened, ends, farewells = [], [], []
    tasks = [asyncio.create_task(one_stream(parts.hostname, parts.port, target, opened, ends, farewells))
             for _ in range(count)]
    deadline = time.monotonic() + timeout
    while len(opened) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    print("ready", flush=True)
    await asyncio.wait(tasks, timeout=max(0.1, deadline - time.monotonic()))
    first = min(ends) if ends else 0
    print(json.dumps({"opened": len(opened), "ended": len(ends), "farewells": len(farewells),
                      "endsMs": sorted(round((end - first) * 1000) for end in ends)}), flush=True)


asyncio.run(main())
