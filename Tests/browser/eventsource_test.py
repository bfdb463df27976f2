#!/usr/bin/env python3
"""Drives headless Chromium (Selenium + chromedriver) against Examples/SSETestServer's page,
whose `new EventSource('/events')` receives 3 events per connection and then sees the stream end,
so the browser must reconnect and send Last-Event-ID.

    eventsource_test.py URL SCREENSHOT_PATH [--timeout SECONDS] [--min-events N] [--min-connections N]

Waits (bounded) until the page logged at least N events over at least N connections, checks
every event (type, data, lastEventId, which connection it came on), saves a screenshot, prints
the page's record (`window.rill`) as one JSON line on stdout and exits 0. On any failure it
prints why on stderr, still saves a screenshot when it can, and exits non-zero.

Chromium and chromedriver come from Debian (`chromium`, `chromium-driver`); Selenium is told
both paths, so Selenium Manager never tries to download a browser or a driver.
"""
import argparse
import json
import os
import sys
import time

try:
    from selenium.webdriver.common.by import By
except ImportError as error:  # pragma: no cover
    sys.exit(f"eventsource_test.py: {error}; install with: python3 -m pip install selenium")

from chromium import Failure, run_in_browser


def expected(event_id):
    """What /events sends for an id: odd ids an unnamed two-line message, even ids a tick."""
    if event_id % 2 == 0:
        return {"type": "tick", "data": f"tick {event_id}"}
    return {"type": "message", "data": "line1\nline2"}


def check(state, events_per_connection, min_events, min_connections):
    events = state["events"]
    if len(events) < min_events or state["opens"] < min_connections:
        raise Failure(f"only {len(events)} events over {state['opens']} connections "
                      f"(wanted >= {min_events} over >= {min_connections})")
    if state["errors"] < state["opens"] - 1:
        raise Failure(f"{state['opens']} opens but only {state['errors']} error events: a reconnect was not reported")
    for index, event in enumerate(events):
        event_id = index + 1  # the first connection sends no Last-Event-ID, so ids start at 1
        want = dict(expected(event_id), lastEventId=str(event_id),
                    connection=(event_id - 1) // events_per_connection + 1)
        got = {key: event[key] for key in ("type", "data", "lastEventId", "connection")}
        if got != want:
            raise Failure(f"event #{index + 1}: got {got}, expected {want} (all events: {events})")
    types = {event["type"] for event in events}
    if types != {"message", "tick"}:
        raise Failure(f"expected both unnamed 'message' and named 'tick' events, got {sorted(types)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("screenshot")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the events")
    parser.add_argument("--min-events", type=int, default=7)
    parser.add_argument("--min-connections", type=int, default=3)
    parser.add_argument("--events-per-connection", type=int, default=3)
    arguments = parser.parse_args()

    def exercise(driver):
        driver.get(arguments.url)
        deadline = time.monotonic() + arguments.timeout
        while True:
            state = driver.execute_script("return window.rill")
            if state and len(state["events"]) >= arguments.min_events and state["opens"] >= arguments.min_connections:
                break
            if time.monotonic() > deadline:
                raise Failure(f"timed out after {arguments.timeout} s; page state: {json.dumps(state)}; "
                              f"log:\n{driver.find_element(By.ID, 'log').text}")
            time.sleep(0.1)
        # Stop reconnecting, then read the final record: nothing can change it any more.
        state = driver.execute_script("window.rillSource.close(); render(); return window.rill")
        check(state, arguments.events_per_connection, arguments.min_events, arguments.min_connections)
        log_text = driver.find_element(By.ID, "log").text
        if '"lastEventId":"1"' not in log_text or "-- open #" not in log_text:
            raise Failure(f"the page's <pre id=log> does not show the events:\n{log_text}")
        return state

    return run_in_browser(arguments.screenshot, exercise)


if __name__ == "__main__":
    sys.exit(main())
