"""The Prefect UI in headless Chromium (Debian's, driven through its chromedriver), as a person sees it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1800) -> Iterator[webdriver.Chrome]:
    """A headless browser window, closed afterwards (.ci/run installs Chromium)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_text(driver: webdriver.Chrome, text: str, timeout: float = 90) -> None:
    """Wait (bounded) until the page shows ``text``; the UI renders after its scripts load."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in driver.find_element("tag name", "body").text:
            return
        time.sleep(1)
    pytest.fail(f"{driver.current_url} did not show {text!r} within {timeout:.0f} s")
