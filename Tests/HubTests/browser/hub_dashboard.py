#!/usr/bin/env python3
"""Opens rill-hub's dashboard in headless Chromium (Selenium + Debian's chromedriver) and uses it
as an operator would.

    hub_dashboard.py URL SCREENSHOT_PATH --channel NAME [--timeout SECONDS] [--samples N]
                     [--published N] [--channels N]

1. Waits (bounded) until the page holds at least N samples, shows at least `--published`
   published events and at least `--channels` channels; counts the canvas pixels drawn in the
   two line colours.
2. Types part of `--channel` (a channel the test made after the page opened, one among many)
   into the search box and waits for its row; clicks it, which follows it in the live tail and
   fills the publish form.
3. Publishes `<b>x</b>` through the form and waits for the tail to show it.

Saves a screenshot, and prints one JSON line: {"state", "numbers", "samples", "connectionsPixels",
"ratePixels", "rows", "hint", "found", "publishResult", "tailTexts", "tailBoldElements",
"tailState"}. On any failure it prints why on stderr, still saves the screenshot when it can,
and exits non-zero.
"""
import argparse
import json
import os
import sys
import time

# The shared headless-Chromium setup lives in Tests/browser/chromium.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "browser"))
from chromium import start_browser, save_screenshot  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


READ_PAGE = """
const text = (id) => document.getElementById(id)?.textContent ?? '';
const canvas = document.getElementById('chart');
const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
const near = (i, r, g, b) => Math.abs(pixels[i] - r) < 40 && Math.abs(pixels[i + 1] - g) < 40
  && Math.abs(pixels[i + 2] - b) < 40 && pixels[i + 3] > 200;
let connectionsPixels = 0, ratePixels = 0;
for (let i = 0; i < pixels.length; i += 4) {
  if (near(i, 0x2a, 0x6f, 0xdb)) connectionsPixels++;
  if (near(i, 0xd9, 0x48, 0x0f)) ratePixels++;
}
const channel = arguments[0];
return {
  state: text('state'),
  numbers: {connections: text('connections'), loops: text('loops'), subscribers: text('subscribers'),
            channels: text('channelCount'), published: text('published'), delivered: text('delivered'),
            rate: text('rate'), p50: text('p50'), p99: text('p99')},
  samples: typeof samples === 'undefined' ? -1 : samples.length,
  connectionsPixels, ratePixels,
  rows: document.querySelectorAll('#channels tr').length,
  hint: text('channelHint'),
  found: [...document.querySelectorAll('#channels tr')].some(row => row.dataset.channel === channel),
  publishResult: text('publishResult'),
  tailTexts: [...document.querySelectorAll('#tail pre')].map(pre => pre.textContent),
  tailBoldElements: document.querySelectorAll('#tail b').length,
  tailState: text('tailState')
};
"""


def wait_for(driver, channel, deadline, condition):
    """Reads the page until `condition(page)` holds or the deadline passes; returns the page."""
    page = driver.execute_script(READ_PAGE, channel)
    while not condition(page) and time.monotonic() < deadline:
        time.sleep(0.1)
        page = driver.execute_script(READ_PAGE, channel)
    return page


def number(text):
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("screenshot")
    parser.add_argument("--channel", required=True)
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--published", type=int, default=1)
    parser.add_argument("--channels", type=int, default=0)
    arguments = parser.parse_args()

    driver = None
    failure = None
    page = {}
    try:
        driver = start_browser(window_size="1200,1400")
        driver.get(arguments.url)
        deadline = time.monotonic() + arguments.timeout
        page = wait_for(driver, arguments.channel, deadline, lambda p: p["samples"] >= arguments.samples
                        and number(p["numbers"]["published"]) >= arguments.published
                        and number(p["numbers"]["channels"]) >= arguments.channels
                        and p["numbers"]["p50"] not in ("", "–"))
        if page["samples"] < arguments.samples:
            raise RuntimeError(f"only {page['samples']} samples after {arguments.timeout} s")

        # Find the channel made after the page opened: part of its name in the search box.
        search = driver.find_element(By.ID, "search")
        search.send_keys(arguments.channel[len(arguments.channel) // 2:])
        page = wait_for(driver, arguments.channel, deadline, lambda p: p["found"])
        if not page["found"]:
            raise RuntimeError(f"the search did not list {arguments.channel}: {page['hint']}")
        # The table is redrawn with every sample: find the row and click it in one step (a
        # row found first and clicked later may have been replaced meanwhile).
        clicked = driver.execute_script(
            "const row = [...document.querySelectorAll('#channels tr')].find(r => r.dataset.channel === arguments[0]);"
            " if (row) row.click(); return !!row;", arguments.channel)
        if not clicked:
            raise RuntimeError(f"the row of {arguments.channel} went away before it could be clicked")
        page = wait_for(driver, arguments.channel, deadline, lambda p: p["tailState"].startswith("following"))

        # Publish markup through the form: the tail must show it as text.
        data = driver.find_element(By.ID, "publishData")
        data.send_keys("<b>x</b>")
        driver.find_element(By.CSS_SELECTOR, "#publishForm button[type=submit]").click()
        page = wait_for(driver, arguments.channel, deadline, lambda p: "<b>x</b>" in p["tailTexts"])
        if "<b>x</b>" not in page["tailTexts"]:
            raise RuntimeError(f"the tail did not show the event: {page['tailState']} / {page['publishResult']}")
    except Exception as error:  # reported below, after the screenshot
        failure = error
    finally:
        save_screenshot(driver, arguments.screenshot)
        if driver is not None:
            driver.quit()
    print(json.dumps(page))
    if failure is not None:
        sys.exit(f"hub_dashboard.py: {failure}")


if __name__ == "__main__":
    main()
