#!/usr/bin/env python3
"""Opens rill-hub's dashboard in headless Chromium (Selenium + Debian's chromedriver) and checks
that it draws what /stats sends.

    hub_dashboard.py URL SCREENSHOT_PATH [--timeout SECONDS] [--samples N] [--published N]

Waits (bounded) until the page holds at least N samples and shows at least `--published`
published events, then counts the canvas pixels drawn in the two line colours, saves a
screenshot and prints one JSON line: {"state", "numbers", "samples", "connectionsPixels",
"ratePixels"}. On any failure it prints why on stderr, still saves the screenshot when it can,
and exits non-zero.
"""
import argparse
import json
import os
import sys
import time

# The shared headless-Chromium setup lives in Tests/browser/chromium.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "browser"))
from chromium import start_browser  # noqa: E402


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
return {
  state: text('state'),
  numbers: {connections: text('connections'), loops: text('loops'), subscribers: text('subscribers'),
            published: text('published'), delivered: text('delivered'), rate: text('rate')},
  samples: typeof samples === 'undefined' ? -1 : samples.length,
  connectionsPixels, ratePixels
};
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("screenshot")
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--published", type=int, default=1)
    arguments = parser.parse_args()

    driver = start_browser(window_size="1000,700")
    try:
        driver.get(arguments.url)
        deadline = time.monotonic() + arguments.timeout
        page = driver.execute_script(READ_PAGE)
        while time.monotonic() < deadline:
            page = driver.execute_script(READ_PAGE)
            published = int(page["numbers"]["published"]) if page["numbers"]["published"].isdigit() else -1
            if page["samples"] >= arguments.samples and published >= arguments.published:
                break
            time.sleep(0.2)
        driver.save_screenshot(arguments.screenshot)
        print(json.dumps(page))
        if page["samples"] < arguments.samples:
            sys.exit(f"hub_dashboard.py: only {page['samples']} samples after {arguments.timeout} s: {page}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
