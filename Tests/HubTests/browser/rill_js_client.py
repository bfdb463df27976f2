#!/usr/bin/env python3
"""Drives Clients/js/rill.js in headless Chromium against a server the Swift test started:

    rill_js_client.py watchdog|gap|token|refresh-gap|eventsource|native-position|fetch-position|parser|tabs|tabs-without-locks|reload|publisher-ids|
        notices|notices-eventsource
        BASE_URL SCREENSHOT [--timeout SECONDS] [--secret S]

The page is BASE_URL + /ping (any page of the origin); the script imports /rill.js into it and
subscribes to BASE_URL + /stream, recording every event, gap and status in `window.rillLog`.

- watchdog: after one event, asks the server to stall the next stream (`POST /stall`: headers and
  a comment, then nothing, never closed) and reconnects; publishes two events while that stream
  is silent; the client (heartbeatMs 500) must reopen by itself and receive both.
- gap: publishes 6 events into a history of 3, subscribes with lastEventId "1": onGap once, the
  3 events the history holds; two reconnects later still one gap.
- refresh-gap: every stream after the first subscribes 1.5 s late; a token is renewed before
  any event arrived, and an event published while the new stream is not yet subscribed still
  arrives (through the old stream, which stays open until the new one is), then one after.
- token: the page mints HS256 JWTs (crypto.subtle, --secret) that expire 2 s after minting;
  24 events are published over 6 s (POST /publish with the static publisher token): all arrive,
  in order, and the token callback ran several times.
- eventsource: the EventSource transport receives two events, and after reconnect() resumes
  with `?lastEventId=` (the server records it) and receives the next.
- tabs, tabs-without-locks: two tabs, one on channel news, one on sports (the second without
  Web Locks: the BroadcastChannel election): one stream subscribes both (each channel counts one
  stream on the server), both tabs get an event of each channel once; closing the leader tab
  leaves the other with the stream (now of sports alone), which gets the next sports event.
- reload: two events, a reload, an event published while the page is away; the reloaded page
  resumes after the last id (sessionStorage) and gets only that event.
- native-position: no rill.js: the browser's own EventSource on a stream that ends after 600 ms
  (`?endAfterMs=`, `retry: 1000`) before any event; while the browser waits to reconnect, an event
  is published (no stream is subscribed then: checked); the reconnected stream must replay it,
  which it can only if the browser kept the position the first stream opened with (`id: ~0`, no
  data) and sent it back as Last-Event-ID.
- fetch-position: rill.js (fetch transport) keeps the opening position (~3) as its last id; after
  `POST /slow-opens` a reconnect() opens a stream that subscribes 1.5 s late, and an event
  published meanwhile must arrive (replayed after the position), then a live one; both carry the
  publisher's own ids 1 and 2, below the position, which must not drop them as repeats.
- publisher-ids: events with the publisher's own numeric ids (20240601123000, 7) between the
  broker's, and a `rill-reconnect` that carries an id (`POST /publish-unchecked`): all six are
  delivered as events and the stream stays the one it was.
- notices, notices-eventsource: the server's own events after a block that set an id (which
  they inherit, per WHATWG): `rill-history-gap` after the opening position calls onGap and is no
  app event; `rill-reconnect` after an event reconnects at once, resuming after that event.
- parser: EventStreamParser (the fetch transport's) fed a stream one character at a time and
  whole: BOM, CR/LF/CRLF, joined data lines, comments, `id` with NUL, `retry`, an empty id.

Prints one JSON record on stdout (exit 0), or why it failed on stderr (exit 1; 2 for a browser
error). Every wait is bounded.
"""
import argparse
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "browser"))
from chromium import Failure, run_in_browser  # noqa: E402

SUBSCRIBE = """
const [options, secret] = arguments;
if (options.withoutWebLocks) Object.defineProperty(navigator, 'locks', {value: undefined, configurable: true});
window.rillLog = {events: [], gaps: [], statuses: [], tokens: 0};
const { subscribe } = await import('/rill.js');
async function mint() {
  const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const text = (value) => b64(new TextEncoder().encode(JSON.stringify(value)));
  const head = text({alg: 'HS256', typ: 'JWT'});
  const body = text({sub: 'browser', exp: Math.floor(Date.now() / 1000) + 2, rill: {subscribe: ['news']}});
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']);
  const signature = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(head + '.' + body));
  rillLog.tokens += 1;
  return head + '.' + body + '.' + b64(signature);
}
window.rillStream = subscribe(options.path ?? '/stream', {
  ...options,
  ...(secret ? {token: mint} : {}),
  onEvent: (event) => rillLog.events.push(event),
  onGap: (gap) => rillLog.gaps.push(gap),
  onStatus: (status) => rillLog.statuses.push(status.state),
});
"""

READ = "return window.rillLog ?? null;"


def request(url, method="GET", body=b"", headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, data=body if method == "POST" else None,
                                                       method=method, headers=headers or {}), timeout=5) as response:
        return response.read().decode()


def run_async(driver, script, *arguments):
    error = driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; (async () => {" + script + "})()"
        ".then(() => done(null), (e) => done(String(e)));", *arguments)
    if error:
        raise Failure(f"the page failed: {error}")


def wait_for(driver, condition, what, timeout):
    deadline = time.monotonic() + timeout
    while True:
        log = driver.execute_script(READ)
        if log is not None and condition(log):
            return log
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting until {what}; the page logged {json.dumps(log)}")
        time.sleep(0.1)


def datas(log):
    return [event["data"] for event in log["events"]]


def wait_for_connections(base, key, at_least, failure, timeout):
    """Polls the server's /connections until its `key` count reaches `at_least`."""
    deadline = time.monotonic() + timeout
    while json.loads(request(base + "/connections"))[key] < at_least:
        if time.monotonic() > deadline:
            raise Failure(failure)
        time.sleep(0.02)


def watchdog(driver, base, timeout, _secret):
    run_async(driver, SUBSCRIBE, {"channels": ["news"], "heartbeatMs": 500}, None)
    wait_for(driver, lambda log: "open" in log["statuses"], "the stream is open", timeout)
    request(base + "/publish?channel=news", "POST", b"before the stall")
    wait_for(driver, lambda log: datas(log) == ["before the stall"], "the first event arrived", timeout)
    request(base + "/stall", "POST")
    driver.execute_script("rillStream.reconnect();")
    wait_for_connections(base, "stalled", 1, "the client never opened the stalled stream", timeout)
    request(base + "/publish?channel=news", "POST", b"during the stall 1")
    request(base + "/publish?channel=news", "POST", b"during the stall 2")
    log = wait_for(driver, lambda log: len(log["events"]) >= 3, "the events published during the stall arrived", timeout)
    time.sleep(0.5)  # nothing more may come
    log = driver.execute_script(READ)
    return {"events": datas(log), "ids": [e["id"] for e in log["events"]], "statuses": log["statuses"]}


def gap(driver, base, timeout, _secret):
    for number in range(1, 7):
        request(base + "/publish?channel=news", "POST", f"event {number}".encode())
    run_async(driver, SUBSCRIBE, {"channels": ["news"], "lastEventId": "1"}, None)
    wait_for(driver, lambda log: len(log["events"]) >= 3 and log["gaps"], "the gap and the history arrived", timeout)
    for _ in range(2):
        opens = driver.execute_script(READ)["statuses"].count("open")
        driver.execute_script("rillStream.reconnect();")
        wait_for(driver, lambda log, opens=opens: log["statuses"].count("open") > opens, "the stream reopened", timeout)
    request(base + "/publish?channel=news", "POST", b"event 7")
    log = wait_for(driver, lambda log: "event 7" in datas(log), "event 7 arrived", timeout)
    return {"events": datas(log), "gaps": log["gaps"], "statuses": log["statuses"]}


def refresh_gap(driver, base, timeout, secret):
    # Every stream after the first subscribes 1.5 s late; the token (2 s) is renewed ~1 s in.
    request(base + "/slow-opens", "POST")
    run_async(driver, SUBSCRIBE, {"channels": ["news"]}, secret)
    wait_for(driver, lambda log: "open" in log["statuses"], "the stream is open", timeout)
    wait_for_connections(base, "count", 2, "the token was never renewed", timeout)
    # The renewal's stream is waiting to subscribe, and no event has arrived (no id to resume
    # from): this event can only come through the old stream.
    request(base + "/publish?channel=news", "POST", b"during the refresh")
    wait_for(driver, lambda log: "during the refresh" in datas(log), "the event published during the refresh arrived", timeout)
    time.sleep(2.0)  # the new stream has subscribed
    request(base + "/publish?channel=news", "POST", b"after the refresh")
    log = wait_for(driver, lambda log: "after the refresh" in datas(log), "the event published after the refresh arrived", timeout)
    time.sleep(0.3)
    log = driver.execute_script(READ)
    return {"events": datas(log), "statuses": log["statuses"]}


def token(driver, base, timeout, secret):
    run_async(driver, SUBSCRIBE, {"channels": ["news"]}, secret)
    wait_for(driver, lambda log: "open" in log["statuses"], "the stream is open", timeout)
    sent = []
    for number in range(1, 25):
        text = f"event {number}"
        request(base + "/publish?channel=news", "POST", text.encode(), {"Authorization": "Bearer static-publisher"})
        sent.append(text)
        time.sleep(0.25)
    log = wait_for(driver, lambda log: len(log["events"]) >= len(sent), "every event arrived", timeout)
    time.sleep(0.5)
    log = driver.execute_script(READ)
    return {"events": datas(log), "sent": sent, "tokens": log["tokens"], "statuses": log["statuses"]}


def eventsource(driver, base, timeout, _secret):
    run_async(driver, SUBSCRIBE, {"channels": ["news"], "transport": "eventsource"}, None)
    wait_for(driver, lambda log: "open" in log["statuses"], "the EventSource is open", timeout)
    for number in (1, 2):
        request(base + "/publish?channel=news", "POST", f"event {number}".encode())
    wait_for(driver, lambda log: len(log["events"]) >= 2, "two events arrived", timeout)
    driver.execute_script("rillStream.reconnect();")
    request(base + "/publish?channel=news", "POST", b"event 3")  # replayed or live: once either way
    wait_for(driver, lambda log: log["statuses"].count("open") >= 2, "the EventSource reopened", timeout)
    log = wait_for(driver, lambda log: len(log["events"]) >= 3, "event 3 arrived", timeout)
    time.sleep(0.3)
    log = driver.execute_script(READ)
    return {"events": datas(log), "ids": [e["id"] for e in log["events"]], "statuses": log["statuses"]}


PARSE = """
const { EventStreamParser } = await import('/rill.js');
const input = '\\ufeffdata: a\\r\\ndata:b\\r\\rid: 7\\nevent: x\\ndata\\n\\n: comment\\nretry: 12a\\nretry: 250\\n'
  + 'id: bad\\0id\\ndata: c\\r\\nid\\ndata:  two spaces\\n\\ndata: incomplete';
const run = (pieces) => {
  const events = []; const retries = [];
  const parser = new EventStreamParser({onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms)});
  for (const piece of pieces) parser.push(piece);
  return {events, retries};
};
window.parsed = {whole: run([input]), characters: run(Array.from(input))};
"""


NATIVE = """
window.rillLog = {events: [], opens: 0, errors: 0};
const source = new EventSource('/stream?channel=news&endAfterMs=600');
window.nativeSource = source;
source.onopen = () => { rillLog.opens += 1; };
source.onerror = () => { rillLog.errors += 1; };
source.onmessage = (event) => rillLog.events.push({data: event.data, id: event.lastEventId});
"""


def native_position(driver, base, timeout, _secret):
    driver.execute_script(NATIVE)
    wait_for(driver, lambda log: log["opens"] >= 1, "the EventSource is open", timeout)
    wait_for(driver, lambda log: log["errors"] >= 1, "the server ended the stream", timeout)
    if driver.execute_script(READ)["events"]:
        raise Failure("an event arrived on the first stream; it must end before any")
    # The browser reconnects after retry: 1000 ms; publish while no stream is subscribed.
    published = request(base + "/publish?channel=news", "POST", b"while away")
    opened = json.loads(request(base + "/connections"))["count"]
    if opened != 1:
        raise Failure(f"the browser had reconnected ({opened} streams) before the publish: nothing tested")
    log = wait_for(driver, lambda log: log["events"], "the event published while away arrived", timeout)
    driver.execute_script("nativeSource.close();")
    return {"events": [event["data"] for event in log["events"]], "ids": [event["id"] for event in log["events"]],
            "published": published}


def fetch_position(driver, base, timeout, _secret):
    for number in range(1, 4):  # before anyone subscribed: the position will be ~3
        request(base + "/publish?channel=other", "POST", f"before {number}".encode())
    run_async(driver, SUBSCRIBE, {"channels": ["news"]}, None)
    wait_for(driver, lambda log: "open" in log["statuses"], "the stream is open", timeout)
    deadline = time.monotonic() + timeout
    while not (position := driver.execute_script("return rillStream.lastEventId;")):
        if time.monotonic() > deadline:
            raise Failure("the client never took the stream's position as its last id")
        time.sleep(0.05)
    request(base + "/slow-opens", "POST")
    driver.execute_script("rillStream.reconnect();")
    wait_for_connections(base, "count", 2, "the client never reconnected", timeout)
    # The publisher's own ids, numbers far below the broker's position: the position must not
    # count as an id they are compared with (they would be dropped as repeats).
    published = request(base + "/publish?channel=news&id=1", "POST", b"while reconnecting")
    wait_for(driver, lambda log: log["events"], "the event published while reconnecting arrived", timeout)
    request(base + "/publish?channel=news&id=2", "POST", b"after")
    log = wait_for(driver, lambda log: len(log["events"]) >= 2, "the next event arrived", timeout)
    time.sleep(0.3)  # nothing more may come
    log = driver.execute_script(READ)
    return {"events": datas(log), "ids": [event["id"] for event in log["events"]], "published": published, "position": position}


def publisher_ids(driver, base, timeout, _secret):
    run_async(driver, SUBSCRIBE, {"channels": ["news"]}, None)
    wait_for(driver, lambda log: "open" in log["statuses"], "the stream is open", timeout)
    # A publisher's own ids that look like the broker's sequence numbers without following it,
    # and a `rill-reconnect` that carries an id (published past the server's refusal, as an
    # older server or another publisher on the broker would): all of them are data.
    request(base + "/publish?channel=news&id=20240601123000", "POST", b"big id")
    request(base + "/publish?channel=news", "POST", b"after the big id")
    request(base + "/publish?channel=news&id=7", "POST", b"seven")
    request(base + "/publish?channel=news", "POST", b"after seven")
    request(base + "/publish-unchecked?channel=news&event=rill-reconnect", "POST", b"{}")
    request(base + "/publish?channel=news", "POST", b"last")
    log = wait_for(driver, lambda log: len(log["events"]) >= 6, "six events arrived", timeout)
    time.sleep(1.5)  # a reconnect (obeying the rill-reconnect) would open a second stream by now
    log = driver.execute_script(READ)
    connections = json.loads(request(base + "/connections"))["count"]
    return {"events": datas(log), "types": [event["type"] for event in log["events"]], "connections": connections}


def notices(driver, base, timeout, transport):
    # Resuming from an id the server never had, on a channel with no history: the stream opens
    # with its position (`id: ~N`, no data), then `rill-history-gap`, which inherits that id.
    run_async(driver, SUBSCRIBE, {"channels": ["quiet"], "lastEventId": "from-an-earlier-process", "transport": transport,
                                  "path": "/stream?farewellAfterMs=1500"}, None)
    wait_for(driver, lambda log: log["gaps"], "onGap was called", timeout)
    # An event with its own id, then the stream's farewell `rill-reconnect` (no id field: it
    # inherits the event's): the client must reconnect at once, resuming after the event.
    first = request(base + "/publish?channel=quiet", "POST", b"first")
    wait_for(driver, lambda log: log["events"], "the event arrived", timeout)
    wait_for_connections(base, "count", 2, "the client never reconnected after rill-reconnect", timeout)
    request(base + "/publish?channel=quiet", "POST", b"second")
    log = wait_for(driver, lambda log: len(log["events"]) >= 2, "the event after the reconnect arrived", timeout)
    time.sleep(0.3)
    log = driver.execute_script(READ)
    connections = json.loads(request(base + "/connections"))
    return {"events": datas(log), "types": [event["type"] for event in log["events"]], "gaps": log["gaps"],
            "first": first, "resumedFrom": connections["lastEventIDs"][-1], "connections": connections["count"]}


def parse_stream(driver, _base, _timeout, _secret):
    run_async(driver, PARSE)
    parsed = driver.execute_script("return window.parsed;")
    expected = {"events": [{"type": "message", "data": "a\nb", "id": ""}, {"type": "x", "data": "", "id": "7"},
                           {"type": "message", "data": "c\n two spaces", "id": ""}], "retries": [250]}
    for name, result in parsed.items():
        if result != expected:
            raise Failure(f"parsing {name}: {json.dumps(result)}, expected {json.dumps(expected)}")
    return parsed


def reload(driver, base, timeout, _secret):
    run_async(driver, SUBSCRIBE, {"channels": ["news"]}, None)
    wait_for(driver, lambda log: "open" in log["statuses"], "the stream is open", timeout)
    for number in (1, 2):
        request(base + "/publish?channel=news", "POST", f"event {number}".encode())
    before = datas(wait_for(driver, lambda log: len(log["events"]) >= 2, "two events arrived", timeout))
    driver.refresh()
    request(base + "/publish?channel=news", "POST", b"event 3")
    run_async(driver, SUBSCRIBE, {"channels": ["news"]}, None)
    log = wait_for(driver, lambda log: len(log["events"]) >= 1, "the reloaded page got an event", timeout)
    time.sleep(0.3)
    return {"before": before, "after": datas(driver.execute_script(READ))}


def presence(base, channel):
    return json.loads(request(f"{base}/presence?channel={channel}"))["count"]


def tabs(driver, base, timeout, without_locks):
    handles = []
    for channel in ("news", "sports"):
        if handles:
            driver.switch_to.new_window("tab")
            driver.get(base + "/ping")
        run_async(driver, SUBSCRIBE, {"channels": [channel], "withoutWebLocks": without_locks}, None)
        handles.append(driver.current_window_handle)

    def logs():
        result = []
        for handle in handles:
            driver.switch_to.window(handle)
            result.append(driver.execute_script("return {...rillLog, leader: rillStream.leader, tabs: rillStream.tabs};"))
        return result

    def settle(condition, what):
        deadline = time.monotonic() + timeout
        while True:
            current = logs()
            if condition(current) and presence(base, "news") == 1 and presence(base, "sports") == 1:
                return current
            if time.monotonic() > deadline:
                raise Failure(f"timed out after {timeout} s waiting until {what}; news streams {presence(base, 'news')}, "
                              f"sports streams {presence(base, 'sports')}, tabs {json.dumps(current)}")
            time.sleep(0.1)

    settle(lambda current: sum(log["leader"] for log in current) == 1 and all(log["tabs"] == 2 for log in current),
           "one tab leads two and one stream has both channels")
    request(base + "/publish?channel=news", "POST", b"news 1")
    request(base + "/publish?channel=sports", "POST", b"sports 1")
    current = settle(lambda current: all(len(log["events"]) >= 2 for log in current), "both tabs got both events")
    leader = next(index for index, log in enumerate(current) if log["leader"])
    driver.switch_to.window(handles[leader])
    driver.close()
    handles.pop(leader)
    request(base + "/publish?channel=sports", "POST", b"sports 2")  # at once, during the handover
    deadline = time.monotonic() + timeout
    while True:
        remaining = logs()[0]
        if remaining["leader"] and "sports 2" in datas(remaining):
            break
        if time.monotonic() > deadline:
            raise Failure(f"the remaining tab did not take over: {json.dumps(remaining)}")
        time.sleep(0.1)
    time.sleep(0.3)
    return {"tabs": [datas(log) for log in current], "remaining": datas(logs()[0]), "closedLeader": leader}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["watchdog", "gap", "token", "refresh-gap", "eventsource", "native-position", "fetch-position",
                                             "parser", "tabs", "tabs-without-locks", "reload", "publisher-ids", "notices", "notices-eventsource"])
    parser.add_argument("base")
    parser.add_argument("screenshot")
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--secret")
    arguments = parser.parse_args()
    scenario = {"watchdog": watchdog, "gap": gap, "token": token, "refresh-gap": refresh_gap, "eventsource": eventsource, "native-position": native_position,
                "fetch-position": fetch_position, "parser": parse_stream, "reload": reload, "publisher-ids": publisher_ids,
                "notices": lambda driver, base, timeout, _: notices(driver, base, timeout, "fetch"),
                "notices-eventsource": lambda driver, base, timeout, _: notices(driver, base, timeout, "eventsource"),
                "tabs": lambda driver, base, timeout, _: tabs(driver, base, timeout, False),
                "tabs-without-locks": lambda driver, base, timeout, _: tabs(driver, base, timeout, True)}[arguments.scenario]

    def body(driver):
        driver.get(arguments.base + "/ping")
        driver.set_script_timeout(15)
        return scenario(driver, arguments.base.rstrip("/"), arguments.timeout, arguments.secret)

    return run_in_browser(arguments.screenshot, body)


if __name__ == "__main__":
    sys.exit(main())
