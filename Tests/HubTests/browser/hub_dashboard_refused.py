#!/usr/bin/env python3
"""Opens rill-hub's dashboard while the hub refuses another /stats stream (all its places taken):
the page must say so, and once a place is free it must come back by itself.

    hub_dashboard_refused.py URL SIGNAL_PATH [--timeout SECONDS]

Waits (bounded) for the page's state to say it was refused, then creates SIGNAL_PATH (the test
frees a place when it appears) and waits for the state to read "live" again. Prints one JSON line
{"refused", "live"} (the state texts seen) and exits non-zero if either did not show.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "browser"))
from chromium import start_browser  # noqa: E402


def wait_for_state(driver, deadline, prefix):
    state = ""
    while time.monotonic() < deadline:
        state = driver.execute_script("return document.getElementById('state').textContent")
        if state.startswith(prefix):
            return state
        time.sleep(0.1)
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("signal")
    parser.add_argument("--timeout", type=float, default=30)
    arguments = parser.parse_args()
    driver = start_browser(window_size="1000,700")
    try:
        driver.get(arguments.url)
        deadline = time.monotonic() + arguments.timeout
        refused = wait_for_state(driver, deadline, "the hub refused")
        with open(arguments.signal, "w") as signal:
            signal.write("refused\n")
        live = wait_for_state(driver, deadline, "live") if refused else None
        print(json.dumps({"refused": refused, "live": live}))
        if refused is None or live is None:
            sys.exit("hub_dashboard_refused.py: the page did not show the refusal and then recover")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
