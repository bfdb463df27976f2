#!/usr/bin/env python3
"""Headless Chromium opens a page with many EventSources to one HTTPS origin and reports how many
opened and how many received a published event.

    many_eventsources.py PAGE_URL PUBLISH_URL SCREENSHOT [--streams 20] [--settle 3]

The page (served by the test, see HTTP2Tests.swift) creates `?n=` EventSources and keeps
`window.many = {opened, received, protocol}`. Over HTTP/2 all of them share one connection; over
HTTP/1.1 Chromium opens at most six connections per origin, so only six streams open. Once the
count of open streams has not changed for `--settle` seconds, this script publishes one event
(POST PUBLISH_URL on its own connection, certificate not verified: a throwaway test
certificate), waits until every open stream received it, saves a screenshot and prints the
page's record as JSON. Exits non-zero, with the reason on stderr, when the browser fails.
"""
import argparse
import json
import os
import ssl
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chromium import Failure, run_in_browser  # noqa: E402


def publish(url):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, data=b"to every stream", method="POST")
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return response.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page")
    parser.add_argument("publish")
    parser.add_argument("screenshot")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=20.0)
    arguments = parser.parse_args()
    def exercise(driver):
        driver.get(arguments.page)
        deadline = time.monotonic() + arguments.timeout
        last_opened, stable_since = -1, time.monotonic()
        while True:
            state = driver.execute_script("return window.many") or {"opened": 0}
            if state["opened"] != last_opened:
                last_opened, stable_since = state["opened"], time.monotonic()
            if state["opened"] > 0 and time.monotonic() - stable_since >= arguments.settle:
                break
            if time.monotonic() > deadline:
                raise Failure(f"no stream opened within {arguments.timeout} s: {json.dumps(state)}")
            time.sleep(0.1)
        publish(arguments.publish)
        while True:
            state = driver.execute_script("return window.many")
            if state["received"] >= state["opened"]:
                break
            if time.monotonic() > deadline:
                raise Failure(f"not every open stream received the event: {json.dumps(state)}")
            time.sleep(0.1)
        driver.execute_script("render()")
        return state

    return run_in_browser(arguments.screenshot, exercise, extra_arguments=["--ignore-certificate-errors"])


if __name__ == "__main__":
    sys.exit(main())
