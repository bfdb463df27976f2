#!/usr/bin/env python3
"""Drives headless Chromium (Selenium + chromedriver) against Examples/Notifications' page in two
tabs: both must connect, a message sent from the first must appear in both.

    notifications_two_tabs.py URL SCREENSHOT_PATH [--timeout SECONDS] [--message TEXT]

Opens URL in a tab, then in a second tab (two window handles), waits (bounded) until both show
"connected to channel", types a message into tab 1 and clicks Send, and waits (bounded) until
BOTH tabs list it in `#notifications`. Saves a screenshot of tab 2 (the one that only received)
to SCREENSHOT_PATH and of tab 1 next to it (`<name>-tab1.png`), prints what each tab shows as
one JSON line on stdout and exits 0. On any failure it prints why on stderr, still saves the
screenshots when it can, and exits non-zero.

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
    sys.exit(f"notifications_two_tabs.py: {error}; install with: python3 -m pip install selenium")

from chromium import Failure, start_browser


# What a tab shows: the connection state line, the error line and the listed notifications
# (empty strings where the page lacks an element, e.g. an error page instead of Notifications').
READ_TAB = """
const text = (id) => document.getElementById(id)?.textContent ?? '';
return {
  url: location.href,
  title: document.title,
  state: text('state'),
  error: text('error'),
  items: Array.from(document.querySelectorAll('#notifications li'), (li) => li.textContent),
  input: document.getElementById('message')?.value ?? ''
};
"""


def read_tab(driver, handle):
    driver.switch_to.window(handle)
    return driver.execute_script(READ_TAB)


def wait_for(driver, handles, condition, what, timeout):
    """Polls every tab until `condition(tab)` holds for all of them, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        tabs = [read_tab(driver, handle) for handle in handles]
        if all(condition(tab) for tab in tabs):
            return tabs
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting until {what}; the tabs show: {json.dumps(tabs)}")
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("screenshot")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for each step")
    parser.add_argument("--message", default=f"Hello from tab 1 at {time.strftime('%H:%M:%S')}")
    arguments = parser.parse_args()

    driver = None
    handles = []
    try:
        driver = start_browser()
        driver.get(arguments.url)
        handles.append(driver.current_window_handle)
        driver.switch_to.new_window("tab")
        driver.get(arguments.url)
        handles.append(driver.current_window_handle)
        if len(set(handles)) != 2 or len(driver.window_handles) != 2:
            raise Failure(f"expected two tabs, the browser has {driver.window_handles}")

        wait_for(driver, handles, lambda tab: tab["state"].startswith("connected to channel"),
                 "both tabs show 'connected to channel'", arguments.timeout)

        driver.switch_to.window(handles[0])
        field = driver.find_element(By.ID, "message")
        field.clear()
        field.send_keys(arguments.message)
        driver.find_element(By.CSS_SELECTOR, "#send button[type=submit]").click()

        tabs = wait_for(driver, handles, lambda tab: arguments.message in tab["items"],
                        f"both tabs list {arguments.message!r} in #notifications", arguments.timeout)
        # The sender's form reports success by clearing the field and showing no error.
        tabs = wait_for(driver, handles[:1], lambda tab: tab["input"] == "" and tab["error"] == "",
                        "tab 1 cleared its input after a successful send", arguments.timeout) + tabs[1:]
        for index, tab in enumerate(tabs):
            if tab["items"].count(arguments.message) != 1:
                raise Failure(f"tab {index + 1} lists the message {tab['items'].count(arguments.message)} times: {tab}")

        save_screenshots(driver, handles, arguments.screenshot)
        print(json.dumps({"message": arguments.message, "tabs": tabs}), flush=True)
        return 0
    except Failure as failure:
        print(f"notifications_two_tabs.py: FAILED: {failure}", file=sys.stderr)
        save_screenshots(driver, handles, arguments.screenshot)
        return 1
    except Exception as error:  # a browser that did not start, a driver error
        print(f"notifications_two_tabs.py: ERROR: {type(error).__name__}: {error}", file=sys.stderr)
        save_screenshots(driver, handles, arguments.screenshot)
        return 2
    finally:
        if driver is not None:
            driver.quit()


def save_screenshots(driver, handles, path):
    """Tab 2 (the receiver) to `path`, tab 1 (the sender) to `<path without .png>-tab1.png`."""
    if driver is None:
        return
    root, extension = os.path.splitext(path)
    targets = [(handles[1], path)] if len(handles) > 1 else []
    if handles:
        targets.append((handles[0], f"{root}-tab1{extension or '.png'}" if len(handles) > 1 else path))
    for handle, target in targets:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            driver.switch_to.window(handle)
            if not driver.save_screenshot(target):
                print(f"notifications_two_tabs.py: could not save the screenshot to {target}", file=sys.stderr)
        except Exception as error:
            print(f"notifications_two_tabs.py: screenshot failed: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
