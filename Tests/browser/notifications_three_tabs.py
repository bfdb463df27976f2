#!/usr/bin/env python3
"""Examples/Notifications' page (on rill.js) in three tabs of one headless Chromium: one stream
for all three, a message reaches all of them, and after the leader tab closes the next message
reaches the other two, with no duplicate.

    notifications_three_tabs.py URL SCREENSHOT_PATH [--timeout SECONDS]

Steps, each wait bounded by --timeout: open URL in three tabs; wait until each shows "connected
to channel" and "shared with 3 tabs"; read GET URL/presence (the server's count of the channel's
streams, which must be 1); send message A from the second tab and wait until all three list it;
close the tab that holds the stream (`data-leader="true"`) and at once send message B from
another; wait until both remaining tabs list B, one of them holds the stream and the server
counts one stream again. Prints one JSON record (exit 0), else why on stderr (exit 1, or 2 for a
browser error). The screenshot is of a remaining tab.
"""
import argparse
import json
import sys
import time
import urllib.request

from selenium.webdriver.common.by import By

from chromium import Failure, run_in_browser

READ_TAB = """
const text = (id) => document.getElementById(id)?.textContent ?? '';
return {state: text('state'), tabs: text('tabs'), error: text('error'), leader: document.body.dataset.leader === 'true',
        items: Array.from(document.querySelectorAll('#notifications li'), (li) => li.textContent)};
"""


def read_tabs(driver, handles):
    tabs = []
    for handle in handles:
        driver.switch_to.window(handle)
        tabs.append(driver.execute_script(READ_TAB))
    return tabs


def wait_for(driver, handles, condition, what, timeout):
    deadline = time.monotonic() + timeout
    while True:
        tabs = read_tabs(driver, handles)
        if condition(tabs):
            return tabs
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting until {what}; the tabs show: {json.dumps(tabs)}")
        time.sleep(0.1)


def stream_count(base):
    with urllib.request.urlopen(base + "presence", timeout=5) as response:
        return json.loads(response.read())["count"]


def wait_for_stream_count(base, count, timeout):
    deadline = time.monotonic() + timeout
    while True:
        seen = stream_count(base)
        if seen == count:
            return seen
        if time.monotonic() > deadline:
            raise Failure(f"the server counts {seen} streams on the channel, expected {count}")
        time.sleep(0.1)


def send(driver, handle, message):
    driver.switch_to.window(handle)
    field = driver.find_element(By.ID, "message")
    field.clear()
    field.send_keys(message)
    driver.find_element(By.CSS_SELECTOR, "#send button[type=submit]").click()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("screenshot")
    parser.add_argument("--timeout", type=float, default=15.0)
    arguments = parser.parse_args()
    base = arguments.url if arguments.url.endswith("/") else arguments.url + "/"
    first, second = f"first {time.time():.3f}", f"second {time.time():.3f}"

    def body(driver):
        handles = []
        for index in range(3):
            if index > 0:
                driver.switch_to.new_window("tab")
            driver.get(base)
            handles.append(driver.current_window_handle)
        wait_for(driver, handles, lambda tabs: all(t["state"].startswith("connected to channel") and
                                                   t["tabs"].startswith("shared with 3 tabs") for t in tabs),
                 "the three tabs show 'connected' and 'shared with 3 tabs'", arguments.timeout)
        streams_with_three_tabs = wait_for_stream_count(base, 1, arguments.timeout)

        send(driver, handles[1], first)
        tabs = wait_for(driver, handles, lambda tabs: all(first in t["items"] for t in tabs),
                        "all three tabs list the first message", arguments.timeout)
        leaders = [index for index, tab in enumerate(tabs) if tab["leader"]]
        if len(leaders) != 1:
            raise Failure(f"expected one tab holding the stream, found {leaders}: {json.dumps(tabs)}")
        driver.switch_to.window(handles[leaders[0]])
        driver.close()
        remaining = [handle for index, handle in enumerate(handles) if index != leaders[0]]
        send(driver, remaining[0], second)  # at once: the stream may still be changing hands

        tabs = wait_for(driver, remaining, lambda tabs: all(second in t["items"] for t in tabs) and
                        sum(t["leader"] for t in tabs) == 1 and all(t["tabs"].startswith("shared with 2 tabs") for t in tabs),
                        "both remaining tabs list the second message and one of them holds the stream", arguments.timeout)
        for tab in tabs:
            if tab["items"].count(first) != 1 or tab["items"].count(second) != 1:
                raise Failure(f"a tab lists a message twice or not at all: {json.dumps(tab)}")
        streams_with_two_tabs = wait_for_stream_count(base, 1, arguments.timeout)
        driver.switch_to.window(remaining[0])
        return {"first": first, "second": second, "closedLeader": leaders[0], "tabs": tabs,
                "streamsWithThreeTabs": streams_with_three_tabs, "streamsAfterHandover": streams_with_two_tabs}

    return run_in_browser(arguments.screenshot, body)


if __name__ == "__main__":
    sys.exit(main())
