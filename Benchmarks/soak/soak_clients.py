#!/usr/bin/env python3
"""The hostile and awkward clients of `make soak` (Benchmarks/soak/soak.sh), and its sampler.

Every mode runs on loopback against rill-hub for at most --seconds and at most --max-iterations
iterations per worker, then exits; every socket has a timeout. Modes:

  publisher  POSTs 0.5–4 KB events to channels c0..c{N-1} and hot, --rate per second in all
  reset      subscribes to `hot` (busy), reads a little, then resets the connection (SO_LINGER 0)
             while the server is writing to it
  stalled    subscribes to `hot` with a tiny receive buffer and never reads, holding each socket
             up to --hold seconds (the server should cut it off past --max-queued-bytes), then
             resets it
  replay     subscribes to 2–10 of the channels at once with a Last-Event-ID (one seen on an
             earlier stream, `nope`, or none), reads the replay for up to 1 s / 256 KB, closes
  sample     every --interval s appends `t,phase,rss_kib,fds,connections,subscribers` for --pid
             to --csv (phase read from --phase-file), until --seconds
"""
import argparse
import os
import random
import re
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"


def connect(port, timeout=5.0, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((HOST, port))
    return s


def reset(s):
    """Closes with RST instead of FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def stream_request(channels, last_event_id=None):
    query = "&".join("channel=" + c for c in channels)
    head = f"GET /stream?{query} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n"
    if last_event_id is not None:
        head += f"Last-Event-ID: {last_event_id}\r\n"
    return (head + "\r\n").encode()


def read_some(s, limit, seconds):
    data = b""
    deadline = time.monotonic() + seconds
    while len(data) < limit and time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def publisher(args, stop):
    rng = random.Random(1)
    channels = [f"c{i}" for i in range(args.channels)] + ["hot"] * args.channels
    interval = 1.0 / args.rate
    s = None
    sent = 0
    for _ in range(args.max_iterations):
        if stop():
            break
        start = time.monotonic()
        body = os.urandom(rng.randint(256, 2048)).hex().encode()
        channel = rng.choice(channels)
        request = (f"POST /publish?channel={channel} HTTP/1.1\r\nHost: {HOST}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        try:
            if s is None:
                s = connect(args.port)
            s.sendall(request)
            response = s.recv(4096)
            if not response:
                raise OSError("closed")
            sent += 1
        except OSError:
            if s is not None:
                s.close()
            s = None
            time.sleep(0.2)   # the hub is busy or Redis is restarting: back off
        time.sleep(max(0.0, interval - (time.monotonic() - start)))
    if s is not None:
        s.close()
    return f"published={sent}"


def repeat(args, stop, once):
    """Runs once() until stop() or --max-iterations; returns how many runs succeeded."""
    count = 0
    for _ in range(args.max_iterations):
        if stop():
            break
        try:
            once()
            count += 1
        except OSError:
            time.sleep(0.2)   # the hub refused or reset us: back off
    return count


def resetter(args, stop):
    def once():
        s = connect(args.port)
        s.sendall(stream_request(["hot", f"c{random.randrange(args.channels)}"], last_event_id="nope"))
        read_some(s, random.randint(1, 32768), random.uniform(0.05, 0.5))
        reset(s)
    return f"resets={repeat(args, stop, once)}"


def stalled(args, stop):
    def once():
        s = connect(args.port, rcvbuf=4096)
        s.sendall(stream_request(["hot"], last_event_id="nope"))
        deadline = time.monotonic() + args.hold
        while time.monotonic() < deadline and not stop():
            time.sleep(0.5)
        reset(s)
    return f"stalled={repeat(args, stop, once)}"


ID_LINE = re.compile(rb"^id: ?(.*)$", re.M)


def replayer(args, stop):
    rng = random.Random(threading.get_ident())
    state = {"seen": None, "bytes": 0}

    def once():
        channels = rng.sample([f"c{i}" for i in range(args.channels)], rng.randint(2, min(10, args.channels)))
        s = connect(args.port)
        s.sendall(stream_request(channels, last_event_id=rng.choice([state["seen"], "nope", None, "0"])))
        data = read_some(s, 256 * 1024, 1.0)
        s.close()
        state["bytes"] += len(data)
        ids = ID_LINE.findall(data)
        if ids:
            state["seen"] = ids[rng.randrange(len(ids))].decode(errors="replace").strip() or state["seen"]
    count = repeat(args, stop, once)
    return f"replays={count} bytes={state['bytes']}"


def metrics(port):
    try:
        s = connect(port, timeout=3)
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        data = read_some(s, 4 << 20, 3)
        s.close()
    except OSError:
        return "", ""
    text = data.decode(errors="replace")
    connections = re.search(r"^rill_connections (\d+)", text, re.M)
    subscribers = sum(int(v) for v in re.findall(r"^rill_subscribers\{[^}]*\} (\d+)", text, re.M))
    return (connections.group(1) if connections else ""), str(subscribers)


def sample_once(pid, port):
    rss = ""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = line.split()[1]
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    connections, subscribers = metrics(port)
    # /metrics itself holds one connection while it is served: count it out.
    if connections:
        connections = str(max(0, int(connections) - 1))
    return rss, fds, connections, subscribers


def sampler(args):
    start = time.monotonic()
    with open(args.csv, "a") as out:
        while time.monotonic() - start < args.seconds:
            try:
                phase = open(args.phase_file).read().strip()
            except OSError:
                phase = ""
            try:
                rss, fds, connections, subscribers = sample_once(args.pid, args.port)
            except OSError:
                break   # the hub is gone
            out.write(f"{time.time():.0f},{phase},{rss},{fds},{connections},{subscribers}\n")
            out.flush()
            time.sleep(args.interval)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["publisher", "reset", "stalled", "replay", "sample", "once"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--max-iterations", type=int, default=100000)
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--hold", type=float, default=20)
    p.add_argument("--pid", type=int)
    p.add_argument("--csv")
    p.add_argument("--phase-file")
    p.add_argument("--interval", type=float, default=10)
    args = p.parse_args()
    if args.mode == "sample":
        sampler(args)
        return
    if args.mode == "once":
        print(",".join(str(v) for v in sample_once(args.pid, args.port)))
        return
    deadline = time.monotonic() + args.seconds
    stop = lambda: time.monotonic() >= deadline
    body = {"publisher": publisher, "reset": resetter, "stalled": stalled, "replay": replayer}[args.mode]
    results = [None] * args.workers

    def run(i):
        results[i] = body(args, stop)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + args.hold + 30)
    print(f"soak {args.mode}: " + " ".join(str(r) for r in results), flush=True)


if __name__ == "__main__":
    main()
