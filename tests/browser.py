"""Headless Chromium for the tests of browser pages: find the browser (skip, or fail on CI, when absent), start
one selenium driver, and open a page once its script says it is ready."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def chromium_paths() -> tuple[str, str]:
    """(browser, driver) paths, or skip the test saying why; on CI (``CI=true``) a missing browser fails."""
    browser = next((p for p in (shutil.which(c) for c in CHROMIUM_CANDIDATES) if p), None)
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    missing = "chromium" if not browser else "chromedriver"
    reason = f"{missing} not found on PATH: the browser tests of the HTML report need a headless Chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true, where it must be installed)")
    pytest.skip(reason)


def start_driver():
    """A headless Chromium driven by selenium, keeping the browser console's log."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def open_page(driver, path: Path, timeout: float = 30.0) -> None:
    """Load ``path`` from ``file://`` and wait until the report has rendered (``body[data-ready]``)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
