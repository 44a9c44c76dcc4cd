"""Fixtures of the browser tests: one served console and one headless Chromium for the whole
module (both are slow to start), and a clean browser per test (no cookies, a desktop window).

The tests skip, saying why, when no Chromium or chromedriver can be found or started; CI
installs them (``.ci/run``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.browser.console import BrowserMissing, Console, chrome, serve


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """``plait serve`` with its keys and the workflows of :mod:`tests.browser.console`."""
    with serve(tmp_path_factory.mktemp("console")) as served:
        yield served


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    try:
        driver = chrome()
    except BrowserMissing as exc:
        pytest.skip(f"the browser tests need Chromium and chromedriver: {exc}")
    try:
        yield driver
    finally:
        with suppress(WebDriverException):
            driver.quit()


@pytest.fixture
def driver(chromium: WebDriver, console: Console) -> Iterator[WebDriver]:
    """The module's browser, signed out, on a desktop-sized window."""
    chromium.set_window_size(1280, 900)
    chromium.get(console.url("/login"))
    chromium.delete_all_cookies()
    yield chromium
    for handle in chromium.window_handles[1:]:  # windows a test opened
        chromium.switch_to.window(handle)
        chromium.close()
    chromium.switch_to.window(chromium.window_handles[0])
