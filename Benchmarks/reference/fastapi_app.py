"""FastAPI reference SSE hub for Benchmarks/scripts/bench.sh.

The idiomatic in-memory hub: channel name -> set of asyncio.Queue, one queue per subscriber.

    GET  /stream?channel=NAME   text/event-stream: a `: ok` comment at once (so the client knows it is
                                subscribed, like nchan's `: hi` and Rill's `:ok`), then every message
                                published to NAME as `data:` lines (one per line of the message), each
                                event ending in a blank line
    GET  /ping                  `pong` as text/plain (the plain-HTTP scenario)
    POST /publish?channel=NAME  the raw request body becomes one event on every subscriber of NAME;
                                answers {"subscribers": n}

Run (one worker, as Rill runs on one loop thread):

    uvicorn fastapi_app:app --app-dir Benchmarks/reference --host 127.0.0.1 --port 18094 \
        --loop uvloop --http httptools --workers 1 --no-access-log
"""

import asyncio
from collections import defaultdict

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

app = FastAPI()
channels: dict[str, set[asyncio.Queue]] = defaultdict(set)


def format_event(data: str) -> str:
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(f"data: {line}\n" for line in lines) + "\n"


@app.get("/stream")
async def stream(channel: str):
    queue: asyncio.Queue = asyncio.Queue()
    channels[channel].add(queue)

    async def events():
        try:
            yield ": ok\n\n"
            while True:
                data = await queue.get()
                yield format_event(data)
        finally:
            subscribers = channels.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del channels[channel]

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@app.get("/ping", response_class=PlainTextResponse)
async def ping():
    return "pong"


@app.post("/publish")
async def publish(channel: str, request: Request):
    data = (await request.body()).decode("utf-8", errors="replace")
    subscribers = channels.get(channel, ())
    for queue in subscribers:
        queue.put_nowait(data)
    return {"subscribers": len(subscribers)}
