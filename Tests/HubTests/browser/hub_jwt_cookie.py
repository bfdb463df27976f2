#!/usr/bin/env python3
"""Headless Chromium subscribes to rill-hub with a JWT cookie (Selenium + Debian's chromedriver).

    hub_jwt_cookie.py BASE_URL TOKEN ALLOWED_CHANNEL FORBIDDEN_CHANNEL [--cookie NAME] [--timeout SECONDS]

Loads BASE_URL/health (a page of the hub's origin), sets the cookie NAME (rill_token) to TOKEN
with `driver.add_cookie`, then opens `new EventSource(url, {withCredentials: true})` on both
channels. Prints `opened` once the allowed stream is open (the test publishes then), waits until
the allowed stream received a message and the forbidden one failed, and prints one JSON line:
{"allowed": [data…], "allowedState", "forbiddenErrors", "forbiddenState"}. Exits non-zero on a
timeout.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "browser"))
from chromium import start_browser  # noqa: E402

OPEN = """
window.rill = {allowed: [], allowedOpen: false, forbiddenErrors: 0};
const allowed = new EventSource(arguments[0], {withCredentials: true});
allowed.onopen = () => { rill.allowedOpen = true; };
allowed.onmessage = (event) => { rill.allowed.push(event.data); };
const forbidden = new EventSource(arguments[1], {withCredentials: true});
forbidden.onerror = () => { rill.forbiddenErrors++; };
forbidden.onmessage = (event) => { rill.allowed.push('LEAK: ' + event.data); };
window.rillSources = {allowed, forbidden};
"""

READ = """
return {allowed: rill.allowed, allowedOpen: rill.allowedOpen, allowedState: rillSources.allowed.readyState,
        forbiddenErrors: rill.forbiddenErrors, forbiddenState: rillSources.forbidden.readyState};
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("token")
    parser.add_argument("allowed")
    parser.add_argument("forbidden")
    parser.add_argument("--cookie", default="rill_token")
    parser.add_argument("--timeout", type=float, default=20)
    arguments = parser.parse_args()

    driver = start_browser(window_size="800,600")
    try:
        driver.get(arguments.base + "/health")
        driver.add_cookie({"name": arguments.cookie, "value": arguments.token, "path": "/"})
        driver.execute_script(OPEN, f"{arguments.base}/stream?channel={arguments.allowed}",
                              f"{arguments.base}/stream?channel={arguments.forbidden}")
        deadline = time.monotonic() + arguments.timeout
        announced = False
        state = driver.execute_script(READ)
        while time.monotonic() < deadline:
            state = driver.execute_script(READ)
            if state["allowedOpen"] and not announced:
                print("opened", flush=True)
                announced = True
            if state["allowed"] and state["forbiddenErrors"] > 0:
                break
            time.sleep(0.1)
        print(json.dumps(state), flush=True)
        if not state["allowed"] or state["forbiddenErrors"] == 0:
            sys.exit(f"hub_jwt_cookie.py: timed out after {arguments.timeout} s: {state}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
