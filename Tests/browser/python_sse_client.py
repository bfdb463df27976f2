#!/usr/bin/env python3
"""Reads one Server-Sent Events stream with sseclient-py (over requests) and prints every event
it dispatches as one JSON line: {"event", "data", "id", "retry"}, exactly as the library reports
them (sseclient-py gives each event its own block's `id`, None when the block had none, and
`retry` as the raw string).

    python_sse_client.py URL [--last-event-id ID] [--timeout SECONDS]

Exits 0 when the server ends the stream; non-zero, with a message on stderr, on an HTTP error,
a wrong Content-Type or a timeout. Used by Tests/RillClientTests (run by `make test`).
"""
import argparse
import json
import sys

try:
    import requests
    import sseclient
except ImportError as error:  # pragma: no cover - the message is the point
    sys.exit(f"python_sse_client.py: {error}; install with: python3 -m pip install sseclient-py requests")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--last-event-id", help="sent as the Last-Event-ID header")
    parser.add_argument("--timeout", type=float, default=10.0, help="connect and read timeout, seconds")
    arguments = parser.parse_args()

    headers = {"Accept": "text/event-stream"}
    if arguments.last_event_id is not None:
        headers["Last-Event-ID"] = arguments.last_event_id
    try:
        with requests.get(arguments.url, stream=True, headers=headers, timeout=arguments.timeout) as response:
            if response.status_code != 200:
                print(f"python_sse_client.py: status {response.status_code} from {arguments.url}", file=sys.stderr)
                return 2
            content_type = response.headers.get("Content-Type", "")
            if not content_type.startswith("text/event-stream"):
                print(f"python_sse_client.py: Content-Type {content_type!r}, not text/event-stream", file=sys.stderr)
                return 2
            # The documented way: SSEClient reads the streamed response's body as it arrives.
            client = sseclient.SSEClient(response)
            for event in client.events():
                record = {"event": event.event, "data": event.data, "id": event.id, "retry": event.retry}
                print(json.dumps(record), flush=True)
    except requests.RequestException as error:
        print(f"python_sse_client.py: {type(error).__name__}: {error}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
