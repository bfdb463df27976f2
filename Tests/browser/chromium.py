"""Headless Chromium for the browser tests: Debian's `chromium` and `chromium-driver`, driven by
Selenium, which is told both paths so Selenium Manager never tries to download anything."""
import json
import os
import shutil
import sys

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
except ImportError as error:  # pragma: no cover
    sys.exit(f"{os.path.basename(sys.argv[0])}: {error}; install with: python3 -m pip install selenium")


class Failure(Exception):
    pass


def find_executable(environment_name, candidates):
    configured = os.environ.get(environment_name)
    if configured:
        return configured
    for candidate in candidates:
        path = shutil.which(candidate)
        if path:
            return path
    raise Failure(f"none of {candidates} is on PATH (set {environment_name}); install Debian's chromium chromium-driver")


def start_browser(window_size="1100,900", extra_arguments=()):
    options = Options()
    options.binary_location = find_executable("CHROMIUM", ["chromium", "chromium-browser"])
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={window_size}", "--no-first-run", "--disable-extensions",
                     *extra_arguments):
        options.add_argument(argument)
    service = Service(executable_path=find_executable("CHROMEDRIVER", ["chromedriver"]))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(15)
    driver.set_script_timeout(5)
    return driver


def save_screenshot(driver, path):
    if driver is None:
        return
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if not driver.save_screenshot(path):
            print(f"{os.path.basename(sys.argv[0])}: could not save the screenshot to {path}", file=sys.stderr)
    except Exception as error:
        print(f"{os.path.basename(sys.argv[0])}: screenshot failed: {error}", file=sys.stderr)


def run_in_browser(screenshot, body, extra_arguments=()):
    """Starts the browser, runs `body(driver)` (which returns the record to print, raising
    Failure when the page is wrong), prints the record as JSON, always saves a screenshot and
    quits. Returns the exit code: 0, 1 (Failure) or 2 (the browser or driver failed)."""
    name = os.path.basename(sys.argv[0])
    driver = None
    try:
        driver = start_browser(extra_arguments=extra_arguments)
        record = body(driver)
        save_screenshot(driver, screenshot)
        print(json.dumps(record), flush=True)
        return 0
    except Failure as failure:
        print(f"{name}: FAILED: {failure}", file=sys.stderr)
        save_screenshot(driver, screenshot)
        return 1
    except Exception as error:  # a browser that did not start, a driver error
        print(f"{name}: ERROR: {type(error).__name__}: {error}", file=sys.stderr)
        save_screenshot(driver, screenshot)
        return 2
    finally:
        if driver is not None:
            driver.quit()
