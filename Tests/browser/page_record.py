#!/usr/bin/env python3
"""Headless Chromium opens a page that runs its own steps, and reports what the page recorded.

    page_record.py PAGE_URL SCREENSHOT [--timeout 20]

The page (served by the test, see ChromiumCORSTests.swift) runs its steps by itself and keeps
`window.record`, with `done: true` once it finished (or `error` when a step failed). This script
waits for that (bounded), saves a screenshot and prints the record as one JSON line. Exits non-zero,
with the reason on stderr, when the page did not finish or the browser failed.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chromium import Failure, run_in_browser  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page")
    parser.add_argument("screenshot")
    parser.add_argument("--timeout", type=float, default=20.0)
    arguments = parser.parse_args()

    def exercise(driver):
        driver.get(arguments.page)
        deadline = time.monotonic() + arguments.timeout
        while True:
            record = driver.execute_script("return window.record")
            if record and (record.get("done") or record.get("error")):
                return record
            if time.monotonic() > deadline:
                raise Failure(f"the page did not finish within {arguments.timeout} s: {json.dumps(record)}")
            time.sleep(0.1)

    return run_in_browser(arguments.screenshot, exercise)


if __name__ == "__main__":
    sys.exit(main())
