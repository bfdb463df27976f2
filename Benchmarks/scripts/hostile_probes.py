#!/usr/bin/env python3
"""Hostile-client probes against a running rill-hub on loopback: what a client can make it hold.

Usage: hostile_probes.py --port PORT --pid PID [--probe NAME ...] [--redis]

Each probe prints one line: what it did and the hub's RSS before, at the peak and after the
sockets closed (read from /proc/PID/status). Every loop is bounded in count and time and every
socket goes to 127.0.0.1. Probes (the table of issue 12):
  pipeline  20 streams, each with 33 pipelined 1 MiB POST bodies behind it on the same socket
  replay    20 streams listing 200 channels (10 distinct, 1,000 x 4 KB events each) replaying
            from an unknown Last-Event-ID, reading slowly
  trickle   a request line and then silence; a head trickled a line a second (time to 408)
  reset     3,000 x (connect, GET /stream?channel=<unique>, reset at once); then /metrics
  chunkext  chunked bodies with an empty chunk extension and an unterminated quoted string
"""
import argparse
import socket
import struct
import time
import urllib.request

HOST = "127.0.0.1"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def connect(port, timeout=10.0):
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_head(sock, limit=65536):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def status_of(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def peak_and_after_closing(pid, sockets):
    """RSS now, then RSS 2 s after closing every socket."""
    peak = rss_kib(pid)
    for sock in sockets:
        sock.close()
    time.sleep(2.0)
    return peak, rss_kib(pid)


def publish(port, channel, body, token=None):
    request = urllib.request.Request(f"http://{HOST}:{port}/publish?channel={channel}", data=body, method="POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def probe_pipeline(args):
    before = rss_kib(args.pid)
    sockets = []
    body = b"x" * (1024 * 1024)
    post = b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    blocked = 0
    for _ in range(20):
        sock = connect(args.port, timeout=2.0)
        sock.sendall(b"GET /stream?channel=pipe HTTP/1.1\r\nHost: x\r\n\r\n")
        read_head(sock)
        try:
            for _ in range(33):
                sock.sendall(post + body)
        except (socket.timeout, OSError):
            blocked += 1
        sockets.append(sock)
    time.sleep(1.0)
    peak, after = peak_and_after_closing(args.pid, sockets)
    print(f"pipeline: 20 streams x 33 x 1 MiB pipelined; sends that blocked: {blocked}; "
          f"RSS {before // 1024} -> {peak // 1024} MiB, after close {after // 1024} MiB")


def probe_replay(args):
    channels = [f"replay{i}" for i in range(10)]
    event = b"e" * 4000
    for channel in channels:
        for _ in range(1000):
            publish(args.port, channel, event, args.token)
    before = rss_kib(args.pid)
    query = "&".join(f"channel={channels[i % 10]}" for i in range(200))
    sockets = []
    statuses = []
    for _ in range(20):
        sock = connect(args.port)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(f"GET /stream?{query} HTTP/1.1\r\nHost: x\r\nLast-Event-ID: nope\r\n\r\n".encode())
        head = read_head(sock)
        statuses.append(status_of(head))
        sockets.append(sock)
    # Read slowly: a few bytes a tick for 5 s.
    deadline = time.time() + 5
    while time.time() < deadline:
        for sock in sockets:
            try:
                sock.settimeout(0.001)
                sock.recv(64)
            except OSError:
                pass
        time.sleep(0.1)
    peak, after = peak_and_after_closing(args.pid, sockets)
    print(f"replay: 20 streams x 200 channels (10 distinct x 1,000 x 4 KB), statuses {sorted(set(statuses), key=str)}; "
          f"RSS {before // 1024} -> {peak // 1024} MiB, after close {after // 1024} MiB")


def time_to_answer(port, parts, interval):
    sock = connect(port, timeout=0.2)
    start = time.time()
    data = b""
    index = 0
    while time.time() - start < 90:
        if index < len(parts):
            try:
                sock.sendall(parts[index])
            except OSError:
                break
            index += 1
        try:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
        except socket.timeout:
            pass
        time.sleep(max(0.0, interval - 0.2))
    sock.close()
    return status_of(data), time.time() - start


def probe_trickle(args):
    status, elapsed = time_to_answer(args.port, [b"GET /health HTTP/1.1\r\n"], 1.0)
    print(f"trickle: request line then silence -> {status} after {elapsed:.1f} s")
    lines = [b"GET /health HTTP/1.1\r\n"] + [b"X-Line-%d: v\r\n" % i for i in range(100)]
    status, elapsed = time_to_answer(args.port, lines, 1.0)
    print(f"trickle: a header line a second -> {status} after {elapsed:.1f} s")


def metrics_subscribers(port):
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("rill_subscribers"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def probe_reset(args):
    before = rss_kib(args.pid)
    for index in range(3000):
        sock = connect(args.port)
        sock.sendall(f"GET /stream?channel=reset-{index}-{time.time_ns()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(2.0)
    after = rss_kib(args.pid)
    print(f"reset: 3,000 x (connect, subscribe a unique channel, reset); subscribers left {metrics_subscribers(args.port)}; "
          f"RSS {before // 1024} -> {after // 1024} MiB")


def probe_chunkext(args):
    for label, body in [("empty extension", b"2;\r\naa\r\n0\r\n\r\n"),
                        ("unterminated quoted string", b'5;a="abc;\r\nhello\r\n0\r\n\r\n')]:
        sock = connect(args.port)
        sock.sendall(b"POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        print(f"chunkext: {label} -> {status_of(read_head(sock))}")
        sock.close()


PROBES = {"pipeline": probe_pipeline, "replay": probe_replay, "trickle": probe_trickle,
          "reset": probe_reset, "chunkext": probe_chunkext}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--token")
    parser.add_argument("--probe", action="append", choices=sorted(PROBES))
    args = parser.parse_args()
    for name in args.probe or ["chunkext", "pipeline", "reset", "replay", "trickle"]:
        PROBES[name](args)


if __name__ == "__main__":
    main()
