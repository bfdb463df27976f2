#!/usr/bin/env python3
"""HTTP/2 probes against a Rill server on 127.0.0.1 (Tests/RillClientTests/HTTP2Tests.swift).

Well-behaved clients use PyPI's `h2` state machine; the attacks write raw frames (hyperframe and
hpack, h2's own dependencies) so that nothing on the client side stops them. Every probe is
bounded in frames and in time, prints one JSON object on stdout and exits 0 unless the probe
itself could not run.

    h2_probe.py PORT streams N CHANNEL      N event streams on one connection, then a publish
    h2_probe.py PORT reset PATH             open PATH, reset it after its head (or 300 ms)
    h2_probe.py PORT close-with-open PATH N N requests to PATH, then the connection closes
    h2_probe.py PORT rapid-reset N          open and reset N streams back to back
    h2_probe.py PORT continuation-flood N   HEADERS without END_HEADERS, then N CONTINUATIONs
    h2_probe.py PORT ping-flood N           N PINGs as fast as possible
    h2_probe.py PORT settings-flood N       N SETTINGS frames as fast as possible
    h2_probe.py PORT big-headers BYTES      a request with a header of BYTES bytes
    h2_probe.py PORT hpack-bomb N           a 4000-byte header indexed, then referenced N times
    h2_probe.py PORT rejected-upload PATH   a POST whose Content-Length is over PATH's limit,
                                            its body still coming; then a GET on the connection
    h2_probe.py PORT split-preface N        the preface's first N bytes alone, the rest 100 ms later
    h2_probe.py PORT held-heads N BYTES     N requests with a BYTES header, bodies never sent
    h2_probe.py PORT max-streams N EXTRA    N event streams, then EXTRA more beyond the limit
    h2_probe.py PORT window CHANNEL         one stream's window exhausted, another's events flow
    h2_probe.py PORT zero-window CHANNEL    an event stream on a connection whose window is 0
    h2_probe.py PORT shut-window-events CHANNEL COUNT BYTES STREAMS
                                            the same with stream windows held at 0
    h2_probe.py PORT paths                  GETs with :paths HTTP/1.1 refuses (#, non-ASCII, not /) or takes (<)
    h2_probe.py PORT wide-open PATH SECONDS windows opened wide, PATH requested, not read, closed
    h2_probe.py PORT wide-open-events CHANNEL COUNT BYTES [STREAMS]
                                            the same on STREAMS event streams (1), then COUNT
                                            events of BYTES published before the client reads
"""

import json
import socket
import sys
import threading
import time
import urllib.request

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import hyperframe.frame as hf

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def connect(port, receive_buffer=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def publish(port, channel, text):
    """Publishes over HTTP/1.1 (the test server's POST /publish)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/publish?channel={channel}", data=text.encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def get_headers(path, extra=()):
    return [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "127.0.0.1")] + list(extra)


# --- well-behaved clients (h2) -------------------------------------------------------------

class Client:
    def __init__(self, port, settings=None):
        self.sock = connect(port)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.closed = False
        self.goaway = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout):
        """Reads once (up to `timeout` seconds); returns h2 events."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return []
        if not data:
            self.closed = True
            return []
        events = self.conn.receive_data(data)
        for event in events:
            if isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event.error_code
        self.flush()
        return events


def probe_streams(port, count, channel):
    client = Client(port)
    ids = []
    for _ in range(count):
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stream_id, get_headers(f"/events?channel={channel}", [("accept", "text/event-stream")]), end_stream=True)
        ids.append(stream_id)
    client.flush()
    opened, statuses, bodies, forbidden = set(), {}, {i: b"" for i in ids}, []
    deadline = time.time() + 15
    published = False
    while time.time() < deadline:
        for event in client.pump(0.2):
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
                statuses[event.stream_id] = headers.get(":status")
                forbidden += [name for name in headers if name in ("connection", "transfer-encoding")]
            elif isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] += event.data
                client.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if b":ok" in bodies[event.stream_id]:
                    opened.add(event.stream_id)
        client.flush()
        if not published and len(opened) == count:
            publish(port, channel, "hello over h2")
            published = True
        if published and all(b"data: hello over h2" in body for body in bodies.values()):
            break
    received = sum(1 for body in bodies.values() if b"data: hello over h2" in body)
    print(json.dumps({"opened": len(opened), "received": received, "statuses": sorted(set(statuses.values())),
                      "forbiddenHeaders": forbidden}))


def probe_reset(port, path):
    client = Client(port)
    stream_id = client.conn.get_next_available_stream_id()
    client.conn.send_headers(stream_id, get_headers(path), end_stream=True)
    client.flush()
    deadline = time.time() + 0.3
    while time.time() < deadline:
        events = client.pump(0.05)
        if any(isinstance(e, h2.events.DataReceived) for e in events):
            break
    client.conn.reset_stream(stream_id, error_code=8)
    client.flush()
    time.sleep(0.3)
    # The connection still works after the reset.
    other = client.conn.get_next_available_stream_id()
    client.conn.send_headers(other, get_headers("/hello"), end_stream=True)
    client.flush()
    body = b""
    deadline = time.time() + 5
    done = False
    while time.time() < deadline and not done:
        for event in client.pump(0.2):
            if isinstance(event, h2.events.DataReceived) and event.stream_id == other:
                body += event.data
            if isinstance(event, h2.events.StreamEnded) and event.stream_id == other:
                done = True
    print(json.dumps({"after": body.decode()}))


def probe_close_with_open(port, path, count):
    """`count` requests to PATH on one connection, then the connection closes (no resets)."""
    client = Client(port)
    for _ in range(count):
        client.conn.send_headers(client.conn.get_next_available_stream_id(), get_headers(path), end_stream=True)
    client.flush()
    time.sleep(0.5)
    client.sock.close()
    print(json.dumps({"opened": count}))


# --- raw frames (attacks) ------------------------------------------------------------------

def split_frames(buffer):
    """The complete frames at the start of `buffer`, and what is left of it."""
    frames = []
    while len(buffer) >= 9:
        frame, length = hf.Frame.parse_frame_header(memoryview(buffer[:9]))
        if len(buffer) < 9 + length:
            break
        frame.parse_body(memoryview(buffer[9:9 + length]))
        buffer = buffer[9 + length:]
        frames.append(frame)
    return frames, buffer


class RawClient:
    """Writes frames as given; a thread collects what the server sends."""

    def __init__(self, port, settings=None, reading=True, receive_buffer=None):
        self.sock = connect(port, receive_buffer)
        self.frames = []
        self.closed = False
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()  # the reader thread sends ACKs: frames must not interleave
        self.encoder = hpack.Encoder()
        self.buffer = b""
        self.send(PREFACE + hf.SettingsFrame(0, settings=settings or {}).serialize())
        if reading:
            self.start_reading()

    def start_reading(self):
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def read_until(self, predicate, seconds):
        """Reads on this thread (no reader thread yet) until `predicate(frame)` or `seconds`."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            if not data:
                self.closed = True
                return False
            frames, self.buffer = split_frames(self.buffer + data)
            found = False
            for frame in frames:
                self.frames.append(frame)
                if isinstance(frame, hf.SettingsFrame) and "ACK" not in frame.flags:
                    self.send(hf.SettingsFrame(0, flags=["ACK"]).serialize())
                found = found or predicate(frame)
            if found:
                return True
        return False

    def _read(self):
        buffer = self.buffer
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                frames, buffer = split_frames(buffer + data)
                for frame in frames:
                    with self.lock:
                        self.frames.append(frame)
                    if isinstance(frame, hf.SettingsFrame) and "ACK" not in frame.flags:
                        self.send(hf.SettingsFrame(0, flags=["ACK"]).serialize())
        except OSError:
            pass
        self.closed = True

    def send(self, data):
        try:
            with self.send_lock:
                self.sock.sendall(data)
            return True
        except OSError:
            return False

    def headers(self, stream_id, path, end_stream=True, extra=()):
        block = self.encoder.encode(get_headers(path, extra))
        flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream else [])
        return hf.HeadersFrame(stream_id, data=block, flags=flags).serialize()

    def goaway(self):
        with self.lock:
            for frame in self.frames:
                if isinstance(frame, hf.GoAwayFrame):
                    return frame.error_code
        return None

    def wait_closed(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline and not self.closed:
            time.sleep(0.05)
        return self.closed

    def of_type(self, kind):
        with self.lock:
            return [frame for frame in self.frames if isinstance(frame, kind)]

    def wait_for_reset(self, stream_id, seconds):
        """The error code of the first RST_STREAM on `stream_id`, waiting up to `seconds`
        (None: none came, or the connection closed first)."""
        deadline = time.time() + seconds
        while time.time() < deadline and not self.closed:
            for frame in self.of_type(hf.RstStreamFrame):
                if frame.stream_id == stream_id:
                    return frame.error_code
            time.sleep(0.05)
        return None


def report_attack(client, sent):
    closed = client.wait_closed(5)
    print(json.dumps({"sent": sent, "goaway": client.goaway(), "closed": closed}))


def probe_rapid_reset(port, count):
    client = RawClient(port)
    sent = 0
    for index in range(count):
        stream_id = 1 + 2 * index
        ok = client.send(client.headers(stream_id, "/hello") + hf.RstStreamFrame(stream_id, error_code=8).serialize())
        if not ok or client.closed:
            break
        sent += 1
    report_attack(client, sent)


def probe_continuation_flood(port, count):
    client = RawClient(port)
    block = client.encoder.encode(get_headers("/hello"))
    sent = 0
    if client.send(hf.HeadersFrame(1, data=block, flags=["END_STREAM"]).serialize()):
        for index in range(count):
            if not client.send(hf.ContinuationFrame(1, data=b"\x40\x01a\x01b").serialize()) or client.closed:
                break
            sent += 1
    report_attack(client, sent)


def probe_flood(port, count, frame):
    """`count` frames made by `frame(index)`, as fast as the server takes them."""
    client = RawClient(port)
    sent = 0
    for index in range(count):
        if not client.send(frame(index).serialize()) or client.closed:
            break
        sent += 1
    report_attack(client, sent)


def probe_big_headers(port, size):
    client = RawClient(port)
    client.send(client.headers(1, "/hello", extra=[("x-big", "a" * size)]))
    deadline = time.time() + 5
    status = None
    decoder = hpack.Decoder()
    decoder.max_header_list_size = 1 << 20
    while time.time() < deadline and status is None and not client.closed:
        for frame in client.of_type(hf.HeadersFrame):
            if frame.stream_id == 1:
                status = dict(decoder.decode(frame.data)).get(":status")
        time.sleep(0.05)
    print(json.dumps({"status": status, "goaway": client.goaway()}))


def probe_hpack_bomb(port, count):
    """One HEADERS frame: a 4000-byte field entered in the dynamic table, then `count` one-byte
    references to it (index 62, the newest entry), decoding to ~4 KB each."""
    client = RawClient(port)
    block = client.encoder.encode(get_headers("/hello") + [("x-bomb", "a" * 4000)]) + b"\xbe" * count
    client.send(hf.HeadersFrame(1, data=block, flags=["END_HEADERS", "END_STREAM"]).serialize())
    closed = client.wait_closed(5)
    statuses = [frame.stream_id for frame in client.of_type(hf.HeadersFrame)]
    print(json.dumps({"goaway": client.goaway(), "closed": closed, "answeredStreams": statuses}))


def probe_rejected_upload(port, path):
    """A POST declaring a body over the route's limit, sending some of it and never ending the
    stream: the 413 must come with RST_STREAM NO_ERROR (the client stops, the stream closes);
    the connection then serves a GET."""
    client = RawClient(port)
    head = [(":method", "POST"), (":path", path), (":scheme", "http"), (":authority", "127.0.0.1"), ("content-length", "10000000")]
    client.send(hf.HeadersFrame(1, data=client.encoder.encode(head), flags=["END_HEADERS"]).serialize())
    client.send(hf.DataFrame(1, data=b"x" * 1000).serialize())
    reset = client.wait_for_reset(1, 5)
    decoder = hpack.Decoder()
    status = None
    for frame in client.of_type(hf.HeadersFrame):
        if frame.stream_id == 1:
            status = dict(decoder.decode(frame.data)).get(":status")
    client.send(client.headers(3, "/hello"))
    deadline = time.time() + 5
    after = None
    while time.time() < deadline and after is None and not client.closed:
        for frame in client.of_type(hf.HeadersFrame):
            if frame.stream_id == 3:
                after = dict(decoder.decode(frame.data)).get(":status")
        time.sleep(0.05)
    print(json.dumps({"status": status, "reset": reset, "after": after, "goaway": client.goaway()}))


def probe_screened_upload(port, path, token):
    """A POST to a route that checks heads before bodies, waiting for 100 Continue: without
    `token` the refusal must come with no 100 before it; with it, 100 and then, once the body
    is sent, 200. Prints each stream's statuses in order."""
    def statuses(client, decoder, stream, count, seconds):
        found = []
        deadline = time.time() + seconds
        while time.time() < deadline and len(found) < count:
            found = [dict(decoder.decode(frame.data)).get(":status") for frame in client.of_type(hf.HeadersFrame)
                     if frame.stream_id == stream]
            time.sleep(0.02)
        return [status.decode() if isinstance(status, bytes) else status for status in found]

    result = {}
    for name, extra in (("anonymous", []), ("authorized", [("authorization", "Bearer " + token)])):
        client = RawClient(port)
        decoder = hpack.Decoder()
        head = [(":method", "POST"), (":path", path), (":scheme", "http"), (":authority", "127.0.0.1"),
                ("content-length", "5"), ("expect", "100-continue")] + extra
        client.send(hf.HeadersFrame(1, data=client.encoder.encode(head), flags=["END_HEADERS"]).serialize())
        first = statuses(client, decoder, 1, 1, 5)
        if first == ["100"]:
            client.send(hf.DataFrame(1, data=b"hello", flags=["END_STREAM"]).serialize())
            first = statuses(client, decoder, 1, 2, 5)
        result[name] = first
        client.sock.shutdown(socket.SHUT_RDWR)
        client.sock.close()
    print(json.dumps(result))


def probe_body_budget(port, path, first_bytes, second_bytes):
    """Uploads on three connections against a process-wide body budget: the first sends
    `first_bytes` of a longer body and waits; the second a whole body of `second_bytes` that
    takes the process past the budget (503 expected); once the first connection is gone, a third
    sends the same whole body (200 expected: the first's bytes left the count)."""
    def post(client, length, data, end):
        head = [(":method", "POST"), (":path", path), (":scheme", "http"), (":authority", "127.0.0.1"),
                ("content-length", str(length))]
        client.send(hf.HeadersFrame(1, data=client.encoder.encode(head), flags=["END_HEADERS"]).serialize())
        for offset in range(0, len(data), 16384):
            last = end and offset + 16384 >= len(data)
            client.send(hf.DataFrame(1, data=data[offset:offset + 16384], flags=["END_STREAM"] if last else []).serialize())

    def answer(client, seconds):
        decoder = hpack.Decoder()  # each connection has its own header table
        deadline = time.time() + seconds
        while time.time() < deadline:
            for frame in client.of_type(hf.HeadersFrame):
                if frame.stream_id == 1:
                    return dict((k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                                for k, v in decoder.decode(frame.data))
            time.sleep(0.02)
        return None

    first = RawClient(port)
    post(first, first_bytes + 10000, b"a" * first_bytes, end=False)
    time.sleep(0.3)
    second = RawClient(port)
    post(second, second_bytes, b"b" * second_bytes, end=True)
    refused = answer(second, 5) or {}
    first.sock.shutdown(socket.SHUT_RDWR)  # a close alone waits for the reader thread's recv
    first.sock.close()
    time.sleep(0.3)
    third = RawClient(port)
    post(third, second_bytes, b"c" * second_bytes, end=True)
    accepted = answer(third, 5) or {}
    print(json.dumps({"refused": refused.get(":status"), "retryAfter": refused.get("retry-after"),
                      "accepted": accepted.get(":status")}))


def probe_split_preface(port, first):
    """A client whose first TCP segment holds only `first` bytes of the preface (TCP may split
    anywhere); then the rest, SETTINGS and a GET /hello."""
    sock = connect(port)
    sock.sendall(PREFACE[:first])
    time.sleep(0.1)
    encoder = hpack.Encoder()
    rest = PREFACE[first:] + hf.SettingsFrame(0).serialize()
    rest += hf.HeadersFrame(1, data=encoder.encode(get_headers("/hello")), flags=["END_HEADERS", "END_STREAM"]).serialize()
    sock.sendall(rest)
    buffer = b""
    deadline = time.time() + 5
    sock.settimeout(0.2)
    status = None
    decoder = hpack.Decoder()
    while time.time() < deadline and status is None:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buffer += data
        if buffer.startswith(b"HTTP/1.1"):
            status = "http/1.1 " + buffer.split(b" ")[1].decode()
            break
        frames, buffer = split_frames(buffer)
        for frame in frames:
            if isinstance(frame, hf.HeadersFrame) and frame.stream_id == 1:
                status = dict(decoder.decode(frame.data)).get(":status")
    sock.close()
    print(json.dumps({"status": status}))


def probe_held_heads(port, count, field_bytes):
    """`count` requests with a `field_bytes` header each whose bodies never come."""
    client = RawClient(port)
    for index in range(count):
        client.send(client.headers(1 + 2 * index, "/echo", end_stream=False, extra=[("x-pad", "a" * field_bytes)]))
    time.sleep(1)
    refused = [f.stream_id for f in client.of_type(hf.RstStreamFrame) if f.error_code == 7]
    print(json.dumps({"refused": len(refused), "goaway": client.goaway()}))


def probe_max_streams(port, allowed, extra):
    """`allowed` event streams, answered; then `extra` more while they are open."""
    client = RawClient(port)
    path = "/events?channel=many"
    for index in range(allowed):
        client.send(client.headers(1 + 2 * index, path))
    deadline = time.time() + 5
    while time.time() < deadline and len({f.stream_id for f in client.of_type(hf.HeadersFrame)}) < allowed:
        time.sleep(0.05)
    answered = len({f.stream_id for f in client.of_type(hf.HeadersFrame)})
    for index in range(allowed, allowed + extra):
        client.send(client.headers(1 + 2 * index, path))
    time.sleep(1)
    refused = [f.stream_id for f in client.of_type(hf.RstStreamFrame) if f.error_code == 7]
    late = {f.stream_id for f in client.of_type(hf.HeadersFrame)} - set(range(1, 2 * allowed, 2))
    print(json.dumps({"answered": answered, "refused": len(refused), "answeredBeyond": len(late), "goaway": client.goaway()}))


def probe_window(port, channel):
    """Stream A (a large body) is never acknowledged; stream B (events) and the connection are."""
    client = Client(port)
    stream_a = client.conn.get_next_available_stream_id()
    client.conn.send_headers(stream_a, get_headers("/big"), end_stream=True)
    stream_b = stream_a + 2
    client.conn.send_headers(stream_b, get_headers(f"/events?channel={channel}"), end_stream=True)
    client.flush()
    received = {stream_a: 0, stream_b: b""}
    deadline = time.time() + 15
    published = 0
    while time.time() < deadline:
        for event in client.pump(0.1):
            if isinstance(event, h2.events.DataReceived):
                if event.stream_id == stream_a:
                    received[stream_a] += len(event.data)
                    # Only the connection's window reopens, never stream A's.
                    client.conn.increment_flow_control_window(event.flow_controlled_length)
                else:
                    received[stream_b] += event.data
                    client.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        client.flush()
        if b":ok" in received[stream_b] and published < 5 and received[stream_a] >= 65535:
            published += 1
            publish(port, channel, f"while A is stalled {published}")
        if received[stream_b].count(b"data: while A is stalled") >= 5:
            break
    print(json.dumps({"aBytes": received[stream_a], "bEvents": received[stream_b].count(b"data: while A is stalled")}))


def probe_zero_window(port, channel):
    client = RawClient(port, settings={4: 0})
    client.send(client.headers(1, f"/events?channel={channel}"))
    time.sleep(0.5)
    for index in range(3):
        publish(port, channel, f"never delivered {index}")
    deadline = time.time() + 8
    reset = None
    while time.time() < deadline and reset is None:
        for frame in client.of_type(hf.RstStreamFrame):
            if frame.stream_id == 1:
                reset = frame.error_code
        time.sleep(0.1)
    data = sum(len(f.data) for f in client.of_type(hf.DataFrame) if f.stream_id == 1)
    print(json.dumps({"reset": reset, "dataBytes": data, "closed": client.closed}))


def probe_paths(port):
    """One GET per `:path`, raw bytes as sent (what HTTP/1.1 refuses must be refused here too):
    the :status of each, in order (None: no answer within 5 s)."""
    paths = [b"/hello", b"/a#b", b"/\xe2\x9c\x93", b"/a<b", b"/a\xffb", b"hello", b"*", b"/a b"]
    client = RawClient(port)
    encoder = hpack.Encoder()
    for index, path in enumerate(paths):
        head = [(b":method", b"GET"), (b":path", path), (b":scheme", b"http"), (b":authority", b"127.0.0.1")]
        client.send(hf.HeadersFrame(1 + 2 * index, data=encoder.encode(head), flags=["END_HEADERS", "END_STREAM"]).serialize())
    deadline = time.time() + 5
    while time.time() < deadline and not client.closed:
        answered = {frame.stream_id for frame in client.of_type(hf.HeadersFrame)}
        reset = {frame.stream_id for frame in client.of_type(hf.RstStreamFrame)}
        if len(answered | reset) == len(paths):
            break
        time.sleep(0.05)
    decoder = hpack.Decoder()
    statuses = {}
    for frame in client.of_type(hf.HeadersFrame):
        statuses[frame.stream_id] = dict(decoder.decode(frame.data)).get(":status")
    resets = {frame.stream_id: frame.error_code for frame in client.of_type(hf.RstStreamFrame)}
    result = [statuses.get(1 + 2 * i) or (f"reset {resets[1 + 2 * i]}" if 1 + 2 * i in resets else None) for i in range(len(paths))]
    print(json.dumps({"statuses": result, "goaway": client.goaway()}))


def probe_heads(port):
    """Request heads HTTP/1.1 would refuse (a bad or second Host, one that differs from
    :authority, userinfo, a bad IP literal or port, a :path over 8 KiB, more than 100 fields)
    and a HEAD answered 413: per case its :status and whether a DATA frame followed."""
    base = [(b":scheme", b"http")]

    def get(path=b"/hello", authority=b"127.0.0.1", extra=(), method=b"GET"):
        head = [(b":method", method), (b":path", path)] + base
        if authority is not None:
            head.append((b":authority", authority))
        return head + list(extra)

    cases = [
        ("userinfo", get(authority=b"u@a"), True),
        ("port of six digits", get(authority=b"a:123456"), True),
        ("host differs", get(authority=b"a.example", extra=[(b"host", b"b.example")]), True),
        ("host with userinfo", get(authority=b"a.example", extra=[(b"host", b"u@a.example")]), True),
        ("two hosts", get(authority=None, extra=[(b"host", b"a.example"), (b"host", b"a.example")]), True),
        ("bad IP literal", get(authority=b"[zz]"), True),
        ("host equal but for case", get(authority=b"A.example:8080", extra=[(b"host", b"a.EXAMPLE:8080")]), True),
        ("host without authority", get(authority=None, extra=[(b"host", b"ok.example")]), True),
        ("IPv6 literal", get(authority=b"[::1]:8080"), True),
        ("path of 8192 bytes", get(path=b"/" + b"a" * 8191), True),
        ("path of 8193 bytes", get(path=b"/" + b"a" * 8192), True),
        ("100 fields", get(extra=[(f"x-f{i}".encode(), b"v") for i in range(99)]), True),  # :authority counts as Host
        ("101 fields", get(extra=[(f"x-f{i}".encode(), b"v") for i in range(100)]), True),
        ("HEAD over the body limit", get(path=b"/hello", method=b"HEAD", extra=[(b"content-length", b"99999999")]), False),
    ]
    client = RawClient(port)
    encoder = hpack.Encoder()
    for index, (_, head, end) in enumerate(cases):
        flags = ["END_HEADERS"] + (["END_STREAM"] if end else [])
        client.send(hf.HeadersFrame(1 + 2 * index, data=encoder.encode(head), flags=flags).serialize())
        time.sleep(0.02)
    deadline = time.time() + 5
    while time.time() < deadline and not client.closed:
        answered = {frame.stream_id for frame in client.of_type(hf.HeadersFrame)}
        if len(answered) == len(cases):
            break
        time.sleep(0.05)
    time.sleep(0.3)  # a DATA frame after the last head would be here by now
    decoder = hpack.Decoder()
    statuses = {}
    for frame in client.of_type(hf.HeadersFrame):
        statuses.setdefault(frame.stream_id, dict(decoder.decode(frame.data)).get(":status"))
    data = {frame.stream_id for frame in client.of_type(hf.DataFrame) if frame.data}
    resets = {frame.stream_id: f"reset {frame.error_code}" for frame in client.of_type(hf.RstStreamFrame)}
    result = {name: {"status": statuses.get(1 + 2 * i) or resets.get(1 + 2 * i), "data": (1 + 2 * i) in data}
              for i, (name, _, _) in enumerate(cases)}
    print(json.dumps({"cases": result, "goaway": client.goaway()}))


def open_wide(port, path, streams=1, shut=False):
    """A client with the largest windows HTTP/2 allows (`shut`: stream windows of 0) and a small
    socket receive buffer that requests `path` on `streams` streams, reads up to their response
    heads, then stops reading."""
    client = RawClient(port, settings={4: 0 if shut else 2**31 - 1}, reading=False, receive_buffer=16384)
    client.send(hf.WindowUpdateFrame(0, window_increment=2**31 - 1 - 65535).serialize())
    for index in range(streams):
        client.send(client.headers(1 + 2 * index, path))
    answered = set()

    def is_last_head(frame):
        if isinstance(frame, hf.HeadersFrame):
            answered.add(frame.stream_id)
        return len(answered) == streams

    head = client.read_until(is_last_head, 5)
    return client, head


def finish_wide(client, started):
    """Reads what the server had sent while the client did not read, for up to 5 s."""
    client.start_reading()
    reset = client.wait_for_reset(1, 5)
    data = sum(len(f.data) for f in client.of_type(hf.DataFrame) if f.stream_id == 1)
    return {"head": started, "reset": reset, "dataBytes": data}


def probe_wide_open(port, path, seconds):
    """A streamed body the client stops reading for `seconds`, then the connection closes
    without reading (the test asks the handler how far it got)."""
    client, head = open_wide(port, path)
    time.sleep(seconds)
    client.sock.close()
    print(json.dumps({"head": head}))


def probe_wide_open_events(port, channel, count, size, streams, shut=False):
    """`streams` event streams the client stops reading (`shut`: whose windows stay at 0) while
    `count` events of `size` bytes are published: slow clients, reset once a stream holds more
    than its limit or the connection's streams more than theirs."""
    client, head = open_wide(port, f"/events?channel={channel}", streams, shut)
    payload = "x" * size
    for index in range(count):
        publish(port, channel, f"{index} {payload}")
    result = finish_wide(client, head)
    result["published"] = count * size
    result["resets"] = len({f.stream_id for f in client.of_type(hf.RstStreamFrame) if f.error_code == 8})
    result["goaway"] = client.goaway()
    client.sock.close()
    print(json.dumps(result))


def probe_drain(port, count, channel, late_paths):
    """`count` connections each hold an event stream while the test shuts the server down with
    a drain period. Per connection: the first GOAWAY's last stream id, the seconds from it to a
    second GOAWAY, and — on a connection whose first GOAWAY came alone, only announcing the
    shutdown — what the streams then opened on `late_paths` got: whether their farewell and
    their end came, and how long after the first GOAWAY."""
    clients = [RawClient(port) for _ in range(count)]
    for client in clients:
        client.send(client.headers(1, f"/events?channel={channel}", extra=[("accept", "text/event-stream")]))
    records = [{"first": None, "firstAt": None, "secondAfter": None, "lateAt": None, "late": {}} for _ in clients]
    late_ids = {3 + 2 * index: path for index, path in enumerate(late_paths)}

    def update():
        for client, record in zip(clients, records):
            goaways = client.of_type(hf.GoAwayFrame)
            if goaways and record["first"] is None:
                record["first"], record["firstAt"] = goaways[0].last_stream_id, time.time()
                if goaways[0].last_stream_id == 2**31 - 1 and len(goaways) == 1:
                    record["lateAt"] = time.time()
                    for stream_id, path in late_ids.items():
                        client.send(client.headers(stream_id, path, extra=[("accept", "text/event-stream")]))
            if len(goaways) > 1 and record["secondAfter"] is None:
                record["secondAfter"] = round(time.time() - record["firstAt"], 3)
            if record["lateAt"] is None:
                continue
            for stream_id, path in late_ids.items():
                if path in record["late"]:
                    continue
                with client.lock:
                    frames = [frame for frame in client.frames if frame.stream_id == stream_id]
                body = b"".join(frame.data for frame in frames if isinstance(frame, hf.DataFrame))
                if any("END_STREAM" in frame.flags for frame in frames):
                    record["late"][path] = {"farewell": b"event: farewell" in body, "seconds": round(time.time() - record["lateAt"], 3)}

    deadline = time.time() + 20
    while time.time() < deadline and not all(client.closed for client in clients):
        update()
        time.sleep(0.01)
    update()  # what arrived with the last close
    print(json.dumps({"connections": [{key: record[key] for key in ("first", "secondAfter", "late")} for record in records]}))


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2]
    args = sys.argv[3:]
    probes = {
        "streams": lambda: probe_streams(port, int(args[0]), args[1]),
        "reset": lambda: probe_reset(port, args[0]),
        "close-with-open": lambda: probe_close_with_open(port, args[0], int(args[1])),
        "rapid-reset": lambda: probe_rapid_reset(port, int(args[0])),
        "continuation-flood": lambda: probe_continuation_flood(port, int(args[0])),
        "ping-flood": lambda: probe_flood(port, int(args[0]), lambda i: hf.PingFrame(0, opaque_data=i.to_bytes(8, "big"))),
        "settings-flood": lambda: probe_flood(port, int(args[0]), lambda i: hf.SettingsFrame(0, settings={4: 65535})),
        "big-headers": lambda: probe_big_headers(port, int(args[0])),
        "hpack-bomb": lambda: probe_hpack_bomb(port, int(args[0])),
        "rejected-upload": lambda: probe_rejected_upload(port, args[0]),
        "split-preface": lambda: probe_split_preface(port, int(args[0])),
        "heads": lambda: probe_heads(port),
        "screened-upload": lambda: probe_screened_upload(port, args[0], args[1]),
        "body-budget": lambda: probe_body_budget(port, args[0], int(args[1]), int(args[2])),
        "held-heads": lambda: probe_held_heads(port, int(args[0]), int(args[1])),
        "max-streams": lambda: probe_max_streams(port, int(args[0]), int(args[1])),
        "window": lambda: probe_window(port, args[0]),
        "zero-window": lambda: probe_zero_window(port, args[0]),
        "wide-open": lambda: probe_wide_open(port, args[0], float(args[1])),
        "paths": lambda: probe_paths(port),
        "drain": lambda: probe_drain(port, int(args[0]), args[1], args[2:]),
        "shut-window-events": lambda: probe_wide_open_events(port, args[0], int(args[1]), int(args[2]), int(args[3]), shut=True),
        "wide-open-events": lambda: probe_wide_open_events(port, args[0], int(args[1]), int(args[2]), int(args[3]) if len(args) > 3 else 1),
    }
    probes[mode]()


if __name__ == "__main__":
    main()
